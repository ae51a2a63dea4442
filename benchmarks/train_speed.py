"""Training speed of the default model on the 55,000 MNIST training images (issue 3 targets).

    python benchmarks/train_speed.py [--data-dir ../shared/data] [--epochs 6] [--pieces]
        [--images 200000] [--full] [--json]

Prints the median seconds per epoch (epoch 1, which compiles, excluded), images per second,
achieved GFLOP/s (multiply-adds of forward and backward, 2 FLOPs each; see
``aecli.training.step.flops_per_image``), the device, and the ratio to the 0.6 s target,
through the same ``aecli.training.train`` loop the CLI uses (checkpoint writes are outside the
epoch time).

* ``--pieces`` also times the parts of an epoch one by one: the shuffle, the scanned training
  chunks, the validation pass and a checkpoint write, plus the bare matrix products of an
  epoch (the five 128x784x128 products per step that dominate the work) as a lower bound.
* ``--images N`` trains on N images (the training set repeated) and reports the peak resident
  memory (target: under 1.5 GB for 200,000 images).
* ``--full`` runs ``aecli train configs/mnist.toml --json`` (100 epochs) as a separate
  process and reports its wall time including start-up and compilation (target: < 90 s).

Targets (2-core CPU): median epoch <= 0.6 s; 100 epochs < 90 s; on one H100 < 10 s.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_EPOCH_S = 0.6


def _data_dir(arg: str | None) -> str | None:
    if arg:
        return arg
    shared = REPO.parent / "shared" / "data"
    return str(shared) if (shared / "mnist").is_dir() else None


def _load(data_dir: str | None, images: int | None):
    from aecli.data import Dataset, DatasetSplits, load_dataset

    splits = load_dataset("mnist", data_dir=data_dir, report=lambda m: print(m, file=sys.stderr))
    if not images:
        return splits
    import numpy as np

    tr = splits["train"]
    idx = np.arange(images) % len(tr)
    big = Dataset(tr.name, "train", tr.images[idx], tr.labels[idx], tr.class_names, tr.source)
    return DatasetSplits(
        splits.name, splits.class_names, f"{splits.source} (train repeated to {images:,})",
        {"train": big, "validation": splits["validation"], "test": splits["test"]},
    )  # fmt: skip


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bench_epochs(splits, epochs: int) -> dict:
    from aecli.config import Config
    from aecli.events import EpochEnd, RunStarted, TrainingFinished
    from aecli.training import train
    from aecli.training.step import flops_per_image

    cfg = Config().replace(**{"train.epochs": epochs})
    seconds, device, n, summary = [], "?", 0, {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        for ev in train(cfg, run_dir=run_dir, data=splits):
            if isinstance(ev, RunStarted):
                device, n = ev.device, ev.n_train
            elif isinstance(ev, EpochEnd):
                seconds.append(ev.seconds)
                print(
                    f"  epoch {ev.epoch}: {ev.seconds:.3f} s  loss {ev.train_loss:.3f}",
                    file=sys.stderr,
                )
            elif isinstance(ev, TrainingFinished):
                summary = ev.summary
    wall = time.perf_counter() - t0
    later = seconds[1:] or seconds
    median = statistics.median(later)
    flops = flops_per_image(cfg.model.sizes) * n
    return {
        "device": device,
        "n_train": n,
        "epochs": epochs,
        "epoch_seconds": [round(s, 4) for s in seconds],
        "first_epoch_seconds": seconds[0],
        "median_epoch_seconds": median,
        "min_epoch_seconds": min(later),
        "images_per_second": n / median,
        "gflop_per_epoch": flops / 1e9,
        "achieved_gflops": flops / median / 1e9,
        "ratio_to_target": median / TARGET_EPOCH_S * (n / 55_000 if n else 1),
        "wall_seconds": wall,
        "final_train_loss": summary.get("train_loss"),
        "peak_rss_mb": _peak_rss_mb(),
    }


def bench_pieces(splits, reps: int = 5) -> dict:
    """Time each part of an epoch on its own (after compiling each)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    from aecli.checkpoint import save_checkpoint
    from aecli.config import Config
    from aecli.model import TiedAutoencoder
    from aecli.optim import make_optimizer
    from aecli.training.devices import select_devices
    from aecli.training.evaluate import EVAL_BATCH, EvalSet
    from aecli.training.step import Layout, epoch_order, train_chunk

    cfg = Config()
    tc = cfg.train
    images = np.asarray(splits["train"].images)
    n = len(images)
    dev = select_devices(tc.device, 1)[0]
    model = TiedAutoencoder.from_config(cfg.model, key=jax.random.key(0))
    opt = make_optimizer(tc)
    state = opt.init(eqx.filter(model, eqx.is_array))
    model, state = jax.device_put((model, state), dev)
    data = jax.device_put(images, dev)
    key = jax.device_put(jax.random.key(1), dev)
    layout = Layout.make(n, tc.batch_size, tc.chunks_per_epoch)
    val = EvalSet(splits["validation"].images, EVAL_BATCH, dev)

    def timed(fn) -> float:
        fn()  # compile / warm up
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    def order():
        return jax.block_until_ready(epoch_order(key, jnp.int32(1), layout))

    rows, weights = order()

    def chunks():
        m, s = model, state
        for c in range(layout.chunks):
            out = train_chunk(m, s, data, rows, weights, jnp.int32(c), opt, tc.l2_weight, None)
            m, s = out[:2]
            jax.device_get(out[2:])

    xs = jax.device_put(jnp.zeros((layout.steps, tc.batch_size, 784), jnp.float32), dev)

    def matmuls():
        return jax.block_until_ready(_five_products(model.weights[0], xs))

    with tempfile.TemporaryDirectory() as d:
        ckpt = Path(d) / "latest.ckpt"
        header = {"config": cfg.to_dict(), "epoch": 1}

        def save():
            save_checkpoint(ckpt, model=model, opt_state=state, header=header)

        pieces = {
            "shuffle_ms": timed(order) * 1e3,
            "train_chunks_ms": timed(chunks) * 1e3,
            "validation_ms": timed(lambda: val.evaluate(model, tc.l2_weight)) * 1e3,
            "checkpoint_write_ms": timed(save) * 1e3,
            "bare_matmuls_ms": timed(matmuls) * 1e3,
        }
    return {k: round(v, 2) for k, v in pieces.items()}


def _five_products(w, xs):
    """The five big products of each training step, with nothing else: a lower bound."""
    return _five_products_fn()(w, xs)


def _five_body(w, x):
    h = x @ w.T  # encoder 784 -> 128
    r = h @ w  # decoder 128 -> 784
    dh = r @ w.T  # gradient into the decoder's 128 units
    g = h.T @ r + dh.T @ x  # weight gradients of both uses
    return w - 1e-9 * g, None


@functools.cache
def _five_products_fn():
    import jax

    return jax.jit(lambda w, xs: jax.lax.scan(_five_body, w, xs)[0])


def bench_full(data_dir: str | None) -> dict:
    cmd = [sys.executable, "-m", "aecli", "train", str(REPO / "configs" / "mnist.toml")]
    cmd += ["--json", "--quiet", "--run-dir", tempfile.mkdtemp(prefix="aecli-full-")]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(f"full run failed: {out.stderr[-2000:]}")
    s = json.loads(out.stdout)
    return {"full_100_epochs_wall_seconds": wall, "full_summary": s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="folder with mnist/ (default ../shared/data)")
    ap.add_argument("--epochs", type=int, default=6, help="epochs to time (first excluded)")
    ap.add_argument("--pieces", action="store_true", help="time the parts of an epoch")
    ap.add_argument("--images", type=int, default=None, help="train on N images (memory)")
    ap.add_argument("--full", action="store_true", help="also time the full 100-epoch run")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    data_dir = _data_dir(args.data_dir)
    splits = _load(data_dir, args.images)
    result = bench_epochs(splits, args.epochs)
    if args.pieces:
        result["pieces"] = bench_pieces(splits)
    if args.full:
        result.update(bench_full(data_dir))

    if args.json:
        print(json.dumps(result))
        return 0
    r = result
    print(f"device:               {r['device']}  ({os.cpu_count()} CPU cores visible)")
    print(f"training images:      {r['n_train']:,}")
    print(f"first epoch:          {r['first_epoch_seconds']:.2f} s (includes XLA compilation)")
    print(
        f"median epoch:         {r['median_epoch_seconds']:.3f} s over epochs 2-{r['epochs']} "
        f"(min {r['min_epoch_seconds']:.3f} s)"
    )
    print(f"images per second:    {r['images_per_second']:,.0f}")
    print(
        f"achieved:             {r['achieved_gflops']:.1f} GFLOP/s "
        f"({r['gflop_per_epoch']:.1f} GFLOP per epoch, forward + backward multiply-adds)"
    )
    print(
        f"target 0.6 s/epoch:   ratio {r['ratio_to_target']:.2f} "
        f"({'met' if r['ratio_to_target'] <= 1 else 'NOT met'})"
    )
    print(f"peak RSS:             {r['peak_rss_mb']:.0f} MB")
    if "pieces" in r:
        print("pieces of one epoch (ms):")
        for k, v in r["pieces"].items():
            print(f"  {k:<22}{v:>10.1f}")
    if "full_100_epochs_wall_seconds" in r:
        s = r["full_summary"]
        print(
            f"full 100 epochs:      {r['full_100_epochs_wall_seconds']:.1f} s wall incl. start-up "
            f"(target < 90 s); test loss {s['test_loss']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
