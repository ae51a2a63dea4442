#!/usr/bin/env bash
# GPU check of issue 12 section 4: install the GPU build of JAX, time training on the GPU, run the
# whole MNIST experiment there, print the figures. Goal on one datacenter GPU: 100 epochs < 10 s.
#
#   bash benchmarks/gpu_check.sh [WHEEL_DIR]
#
# WHEEL_DIR (optional): a folder of wheels for a machine without internet, made beforehand on one
# with it (same Python version and platform as the GPU machine):
#   pip download --dest WHEEL_DIR "setuptools>=68" "/path/to/aecli[gpu]"
# Without it, pip fetches jax[cuda12] (about 2-3 GB of NVIDIA wheels) from the package index.
#
# Environment: DATA_DIR (folder holding mnist/; default ../shared/data next to the checkout, else
# aecli's own search), VENV (default .venv-gpu in the checkout, created if missing), PYTHON (the
# interpreter that makes the venv; default python3), OUT (where runs and logs go; default a fresh
# temporary folder), EPOCHS (timed epochs of the training benchmark; default 11).
# The training images are placed on the device once per run and stay there (uint8); every epoch's
# batches are gathered on the device inside the compiled chunk, so no data crosses the bus.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEEL_DIR=${1:-}
VENV=${VENV:-$REPO/.venv-gpu}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/aecli-gpu-check.XXXXXX")}
EPOCHS=${EPOCHS:-11}
if [[ -z ${DATA_DIR:-} && -d $REPO/../shared/data/mnist ]]; then
  DATA_DIR=$(cd "$REPO/../shared/data" && pwd)
fi
data_args=()
if [[ -n ${DATA_DIR:-} ]]; then
  data_args=(--data-dir "$DATA_DIR")
fi

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [[ -n $WHEEL_DIR && ! -d $WHEEL_DIR ]]; then
  die "wheel folder $WHEEL_DIR does not exist: pass a folder made with 'pip download' (see the top of this script)"
fi
mkdir -p "$OUT"
say "output folder: $OUT"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
else
  say "nvidia-smi not found; JAX will say below whether it sees a GPU"
fi

say "installing aecli with the GPU build of JAX into $VENV"
if [[ ! -x $VENV/bin/python ]]; then
  "$PYTHON" -m venv "$VENV"
fi
PY=$VENV/bin/python
pip_args=(--quiet --disable-pip-version-check)
if [[ -n $WHEEL_DIR ]]; then
  pip_args+=(--no-index --find-links "$WHEEL_DIR")
fi
"$PY" -m pip install "${pip_args[@]}" "${REPO}[gpu]" >"$OUT/pip.log" 2>&1 ||
  die "pip install failed (last lines of $OUT/pip.log below)$(printf '\n'; tail -n 20 "$OUT/pip.log")"

"$PY" - <<'PY' || die "JAX sees no GPU: check the driver (nvidia-smi) and the jax[cuda12] install"
import jax
gpus = jax.devices("gpu")
print(f"jax {jax.__version__}: {len(gpus)} GPU(s): {', '.join(d.device_kind for d in gpus)}")
PY

cd "$REPO"
say "training benchmark on the GPU ($EPOCHS epochs, the first one compiles)"
"$PY" benchmarks/train_speed.py "${data_args[@]}" --epochs "$EPOCHS" --json \
  >"$OUT/train_speed.json" 2>"$OUT/train_speed.log" ||
  die "training benchmark failed: $(tail -n 20 "$OUT/train_speed.log")"

say "whole experiment on the GPU: aecli experiment configs/mnist.toml (100 epochs, then figures, t-SNE, report)"
start=$(date +%s.%N)
"$PY" -m aecli experiment configs/mnist.toml "${data_args[@]}" --run-dir "$OUT/mnist" --json \
  >"$OUT/experiment.json" 2>"$OUT/experiment.log" ||
  die "experiment failed: $(tail -n 20 "$OUT/experiment.log")"
end=$(date +%s.%N)

"$PY" - "$OUT" "$start" "$end" <<'PY'
import json, sys
from pathlib import Path

out, start, end = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
bench = json.loads((out / "train_speed.json").read_text())
summary = json.loads((out / "mnist" / "summary.json").read_text())
train_s = summary["wall_seconds"]
print(f"device:                      {bench['device']}")
print(f"benchmark median epoch:      {bench['median_epoch_seconds'] * 1e3:.1f} ms "
      f"({bench['images_per_second']:,.0f} images/s, {bench['achieved_gflops']:.0f} GFLOP/s); "
      f"first epoch {bench['first_epoch_seconds']:.2f} s (compiles)")
print(f"experiment training device:  {summary['device']}")
print(f"100 epochs of training:      {train_s:.1f} s including compilation "
      f"(median epoch {summary['median_epoch_seconds'] * 1e3:.1f} ms); goal < 10 s: "
      f"{'met' if train_s < 10 else 'NOT met'}")
print(f"whole experiment:            {end - start:.1f} s as one process (training, figures, "
      f"embedding, t-SNE on the CPU, report)")
print(f"test loss {summary['test_loss']:.2f}; files in {out}")
PY
