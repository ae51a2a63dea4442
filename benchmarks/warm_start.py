"""Cold against warm ``aecli generate --run RUN``, as whole processes, interleaved (issue 12).

    python benchmarks/warm_start.py [--run RUN_DIR] [--rounds 7] [--json]

Each round runs, in an order that alternates between rounds:

* cold: a fresh, empty ``AECLI_CACHE_DIR`` (no compiled executables, no decoded grids);
* warm: the ``AECLI_CACHE_DIR`` of an earlier run (both caches filled);
* compile cache only: that warm folder with its decoded grids removed, so only JAX's
  persistent compilation cache helps (what the compilation cache alone is worth).

It prints the median wall and CPU (user + sys) seconds of each, the warm / cold ratios (goal:
warm at most 0.5 x cold), and checks that every run wrote the same PNG, byte for byte.
Without ``--run`` it first trains a small run on the embedded data (``--offline``, 1 epoch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def aecli(args: list[str], cache: Path, out: Path | None = None) -> tuple[float, float]:
    """Run ``aecli ARGS`` with ``AECLI_CACHE_DIR=cache``; its wall and CPU seconds."""
    env = dict(os.environ, AECLI_CACHE_DIR=str(cache))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "aecli", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None, help="run directory (default: train one)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (medians)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = ap.parse_args()
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else print

    with tempfile.TemporaryDirectory(prefix="aecli-warm-") as tmp:
        root = Path(tmp)
        run = args.run
        if run is None:
            run = root / "run"
            say("training a small run on the embedded data ...")
            aecli(["train", str(REPO / "configs" / "quick.toml"), "--offline", "--epochs", "1",
                   "--run-dir", str(run), "--quiet"], root / "train-cache")  # fmt: skip
        warm = root / "warm-cache"
        pngs: set[str] = set()

        def generate(kind: str, i: int) -> tuple[float, float]:
            cache = {"cold": root / f"cold-{i}", "warm": warm, "compile": warm}[kind]
            if kind == "compile":
                shutil.rmtree(warm / "grids", ignore_errors=True)
            png = root / f"{kind}-{i}.png"
            seconds = aecli(["generate", "--run", str(run), "--out", str(png)], cache)
            pngs.add(hashlib.sha256(png.read_bytes()).hexdigest())
            if kind == "cold":
                shutil.rmtree(cache)
            return seconds

        generate("warm", -1)  # fills the warm folder (not timed)
        times: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "compile": []}
        for i in range(args.rounds):
            order = ["cold", "warm", "compile"] if i % 2 == 0 else ["warm", "compile", "cold"]
            for kind in order:
                times[kind].append(generate(kind, i))
            walls = ", ".join(f"{k} {times[k][-1][0]:.2f} s" for k in ("cold", "warm", "compile"))
            say(f"round {i + 1}/{args.rounds}: {walls}")

    med = {
        k: {"wall": statistics.median(t[0] for t in v), "cpu": statistics.median(t[1] for t in v)}
        for k, v in times.items()
    }
    result = {
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "cold": med["cold"],
        "warm": med["warm"],
        "compile_cache_only": med["compile"],
        "warm_over_cold": {m: med["warm"][m] / med["cold"][m] for m in ("wall", "cpu")},
        "compile_cache_only_over_cold": {
            m: med["compile"][m] / med["cold"][m] for m in ("wall", "cpu")
        },
        "pngs_identical": len(pngs) == 1,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, key in (("cold", "cold"), ("warm", "warm"), ("compile cache only", "compile")):
            print(f"{name:19s} median wall {med[key]['wall']:5.2f} s, cpu {med[key]['cpu']:5.2f} s")
        r, c = result["warm_over_cold"], result["compile_cache_only_over_cold"]
        print(f"warm / cold: {r['wall']:.2f} wall, {r['cpu']:.2f} cpu (goal: at most 0.5)")
        print(f"compile cache only / cold: {c['wall']:.2f} wall, {c['cpu']:.2f} cpu")
        print(f"every PNG byte-identical: {result['pngs_identical']}")
    return 0 if result["pngs_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
