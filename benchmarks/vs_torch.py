"""aecli against the same training in eager PyTorch, epochs interleaved (``--vs-torch``).

Every contender is a persistent worker process that keeps its model, optimizer and compiled
code from epoch to epoch; the driver asks each in turn for one epoch (A B C A B C ...), so all
of them see the same machine load, and prints for each the median wall and process CPU seconds
per epoch (all threads of the process), then, against every PyTorch line, the ratio of the
medians and the median of the per-round ratios. The first ``--warmup`` rounds (compilation,
cold caches) are left out.

* aecli: ``aecli.training.train`` itself, the loop the CLI runs, on the default config (one
  device, XLA's default threads). Its wall time is the loop's own epoch figure (the shuffle,
  the compiled chunks, the validation pass), its CPU time all the process did between two
  epochs (checkpoint writes included, which counts against aecli).
* PyTorch: ``torch_ref.py`` (its docstring says what it does), with PyTorch's default threads
  and with one thread. It needs only ``torch`` and ``numpy``: ``--torch-python`` may point at
  another environment's interpreter (``pip install torch --index-url
  https://download.pytorch.org/whl/cpu``; the ``bench`` dependency group pins the version).
* ``--dp2`` adds aecli data parallel over two forced host devices, each single-threaded
  (``--xla_cpu_multi_thread_eigen=false``): each core works on one half-batch with no thread
  pool to wake. It changes rounding (the batch sums are split), so it is an option, not the
  default; the table says by how much the epoch losses differ.
* ``--aecli-flags FLAGS`` adds aecli with these ``XLA_FLAGS`` (repeatable), to try XLA options.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DP2_FLAGS = "--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false"


@dataclass
class Worker:
    """One contender's process and the epochs it reported."""

    label: str
    argv: list[str]
    env: dict[str, str]
    rows: list[dict] = field(default_factory=list)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env
        )
        self.info = self._read()

    def _read(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"{self.label}: worker exited (status {self.proc.wait()})")
            if line.startswith("{"):
                return json.loads(line)

    def epoch(self) -> dict:
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=120)


def aecli_worker(data_dir: str | None, devices: int) -> int:
    """Serve epochs of aecli's own training loop on stdin/stdout (see the module docstring)."""
    import tempfile

    import jax

    from aecli.config import Config
    from aecli.data import load_dataset
    from aecli.events import EpochEnd
    from aecli.training import train

    splits = load_dataset("mnist", data_dir=data_dir, report=lambda m: None)
    overrides = {"train.epochs": 100_000, "train.devices": devices}
    if devices > 1:
        overrides["train.device"] = "cpu"
    with tempfile.TemporaryDirectory(prefix="aecli-bench-") as run_dir:
        events = train(Config().replace(**overrides), run_dir=run_dir, data=splits)
        info = {"ready": True, "jax": jax.__version__, "devices": devices}
        print(json.dumps({**info, "xla_flags": os.environ.get("XLA_FLAGS", "")}), flush=True)
        for line in sys.stdin:
            if line.strip() != "epoch":
                break
            cpu = time.process_time()
            ev = next(e for e in events if isinstance(e, EpochEnd))
            row = {"seconds": ev.seconds, "cpu": time.process_time() - cpu}
            print(json.dumps({**row, "loss": ev.train_loss, "val_loss": ev.val_loss}), flush=True)
        events.close()
    return 0


def contenders(args) -> list[Worker]:
    """The workers to interleave: aecli (and its --dp2 form), then each PyTorch thread count."""
    me = [sys.executable, str(HERE / "train_speed.py"), "--aecli-worker"]
    if args.data_dir:
        me += ["--data-dir", args.data_dir]
    base = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cpu = dict(base, JAX_PLATFORMS="cpu")
    out = [Worker("aecli", [*me, "--worker-devices", "1"], cpu)]
    for flags in args.aecli_flags or []:
        env = dict(cpu, XLA_FLAGS=flags)
        out.append(Worker(f"aecli {flags}", [*me, "--worker-devices", "1"], env))
    if args.dp2:
        env = dict(cpu, XLA_FLAGS=DP2_FLAGS)
        out.append(Worker("aecli dp2 (2 devices x 1 thread)", [*me, "--worker-devices", "2"], env))
    torch = [args.torch_python, str(HERE / "torch_ref.py"), "--worker"]
    if args.data_dir:
        torch += ["--data-dir", args.data_dir]
    for threads in args.torch_threads:
        label = "torch eager, default threads" if threads == 0 else f"torch eager, {threads} thr"
        out.append(Worker(label, [*torch, "--threads", str(threads)], dict(base)))
    return out


def run(args) -> dict:
    """Interleave the contenders for ``args.warmup + args.rounds`` rounds; return the table."""
    workers = contenders(args)
    for w in workers:
        w.start()
        print(f"{w.label}: {json.dumps(w.info)}", file=sys.stderr, flush=True)
    for r in range(args.warmup + args.rounds):
        got = [(w, w.epoch()) for w in workers]
        for w, row in got:
            w.rows.append(row)
        cells = "  ".join(f"{w.label} {row['seconds']:.2f}s/{row['cpu']:.2f}c" for w, row in got)
        print(f"round {r}{' (warm-up)' if r < args.warmup else ''}: {cells}", file=sys.stderr,
              flush=True)  # fmt: skip
    for w in workers:
        w.close()
    return summarise(workers, args.warmup)


def summarise(workers: list[Worker], warmup: int) -> dict:
    """Medians per contender and, against every PyTorch line, both kinds of ratio."""
    table: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "contenders": {}}
    timed = {w.label: w.rows[warmup:] for w in workers}
    for w in workers:
        table["contenders"][w.label] = {
            "info": w.info,
            "median_seconds": statistics.median(x["seconds"] for x in timed[w.label]),
            "median_cpu": statistics.median(x["cpu"] for x in timed[w.label]),
            "losses": [x["loss"] for x in w.rows],  # every epoch, warm-up included
            "rows": w.rows,
        }
    ratios = {}
    for ref in (w.label for w in workers if w.label.startswith("torch")):
        for mine in (w.label for w in workers if not w.label.startswith("torch")):
            ratios[f"{ref} / {mine}"] = {
                kind: {
                    "ratio_of_medians": statistics.median(x[kind] for x in timed[ref])
                    / statistics.median(x[kind] for x in timed[mine]),
                    "median_of_ratios": statistics.median(
                        a[kind] / b[kind] for a, b in zip(timed[ref], timed[mine], strict=True)
                    ),
                }
                for kind in ("seconds", "cpu")
            }
    table["ratios"] = ratios
    one = table["contenders"]["aecli"]["losses"]
    table["max_relative_loss_difference_to_aecli"] = {
        w.label: max(abs(b["loss"] - a) / abs(a) for a, b in zip(one, w.rows, strict=True))
        for w in workers
        if w.label.startswith("aecli ")
    }
    return table


def print_table(table: dict) -> None:
    """The human-readable form of ``summarise``'s table."""
    load = ", ".join(f"{x:.1f}" for x in table["load_average"])
    print(f"{table['cpus']} CPUs, load average {load} (at the end)")
    width = max(len(label) for label in table["contenders"])
    print(f"{'contender':{width}} {'wall s/epoch':>13} {'CPU s/epoch':>12}  last loss")
    for label, c in table["contenders"].items():
        print(f"{label:{width}} {c['median_seconds']:13.3f} {c['median_cpu']:12.3f}  "
              f"{c['losses'][-1]:.4f}")  # fmt: skip
    print("PyTorch / aecli, as the ratio of the medians and the median of the per-round ratios:")
    for label, r in table["ratios"].items():
        both = [
            f"{kind} {r[key]['ratio_of_medians']:.2f} (per round {r[key]['median_of_ratios']:.2f})"
            for kind, key in (("wall", "seconds"), ("CPU", "cpu"))
        ]
        print(f"  {label}\n    {'   '.join(both)}")
    for label, diff in table["max_relative_loss_difference_to_aecli"].items():
        print(f"{label}: largest relative difference of an epoch's loss to aecli's {diff:.2e}")
