"""An eager PyTorch implementation of aecli's default MNIST training, for the speed comparison.

The same model, data and optimisation as ``aecli train`` with the default config, written the
way a PyTorch user would write it: an ``nn.Module``, a plain Python loop over shuffled
batches, ``torch.optim.Adam`` with its defaults, no ``torch.compile``, PyTorch's default
thread count unless ``--threads`` says otherwise.

* Tied autoencoder 784-128-32-2: encoder ReLU, ReLU, linear code; the decoder multiplies by
  the same weight matrices transposed and reuses the encoder's 32- and 128-unit biases for
  its hidden layers (ReLU, ReLU), with its own 784-unit output bias (linear).
* Weights: normal truncated at two standard deviations, std 0.1; biases zero.
* Loss of a batch: the sum over the batch of the squared pixel error plus 0.1 * the sum of
  the squared codes. Adam, learning rate 1e-3, batches of 128; the last partial batch (88
  images) is kept. A fresh random order every epoch.
* Data: the 55,000 MNIST training images (the training file less its first 5,000, which are
  the validation set), kept as uint8; each batch is gathered and turned into pixels/255 - 0.5
  as it is used. After every epoch the validation loss per image over the 5,000 (as aecli's
  loop computes it), so both sides do the same work.

Needs only ``torch`` and ``numpy`` (not aecli), so it can run from a separate environment::

    python benchmarks/torch_ref.py [--epochs 5] [--data-dir ../shared/data] [--threads N]
    python benchmarks/torch_ref.py --worker    # one epoch per "epoch" line on stdin

A worker prints one JSON line when ready and one per epoch: ``{"seconds", "cpu", "loss",
"val_loss"}``: wall and process CPU seconds (all threads) of the epoch, the training loss per
image (each batch's before its update) and the validation loss per image.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_VALIDATION = 5000
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_mnist(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)`` uint8 images ``(n, 784)`` from the canonical IDX training file."""
    folder = Path(data_dir) / "mnist"
    gz = folder / "train-images-idx3-ubyte.gz"
    raw = gzip.open(gz).read() if gz.exists() else (folder / "train-images-idx3-ubyte").read_bytes()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784)
    return images[N_VALIDATION:].copy(), images[:N_VALIDATION].copy()


class TiedAutoencoder(nn.Module):
    """The tied-weight autoencoder: the decoder runs the encoder's matrices transposed."""

    def __init__(self, sizes=(784, 128, 32, 2), init_std=0.1):
        super().__init__()
        self.weights = nn.ParameterList()
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            w = torch.empty(n_out, n_in)
            nn.init.trunc_normal_(w, std=init_std, a=-2 * init_std, b=2 * init_std)
            self.weights.append(nn.Parameter(w))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in sizes[1:])
        self.out_bias = nn.Parameter(torch.zeros(sizes[0]))

    def forward(self, x):
        n = len(self.weights)
        h = x
        for i in range(n):
            h = F.linear(h, self.weights[i], self.biases[i])
            if i < n - 1:
                h = F.relu(h)
        code = h
        for i in reversed(range(n)):
            bias = self.out_bias if i == 0 else self.biases[i - 1]
            h = F.linear(h, self.weights[i].t(), bias)
            if i > 0:
                h = F.relu(h)
        return h, code


def batch_loss(model, images, l2_weight):
    x = images.float() / 255.0 - 0.5
    recon, code = model(x)
    return (recon - x).pow(2).sum() + l2_weight * code.pow(2).sum()


class Trainer:
    """Model, optimizer, data and random order of one training run, an epoch at a time."""

    def __init__(self, data_dir, seed=0, batch_size=128, lr=1e-3, l2_weight=0.1):
        torch.manual_seed(seed)
        train, val = load_mnist(data_dir)
        self.train, self.val = torch.from_numpy(train), torch.from_numpy(val)
        self.model = TiedAutoencoder()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.batch_size, self.l2_weight = batch_size, l2_weight
        self.gen = torch.Generator().manual_seed(seed + 1)

    def epoch(self) -> tuple[float, float]:
        """Train one epoch; return the training and validation loss per image."""
        n = self.train.shape[0]
        perm = torch.randperm(n, generator=self.gen)
        total = 0.0
        for start in range(0, n, self.batch_size):
            loss = batch_loss(self.model, self.train[perm[start : start + self.batch_size]],
                              self.l2_weight)  # fmt: skip
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += loss.item()
        with torch.no_grad():
            val = sum(batch_loss(self.model, self.val[i : i + 1000], self.l2_weight).item()
                      for i in range(0, self.val.shape[0], 1000))  # fmt: skip
        return total / n, val / self.val.shape[0]


def timed_epoch(trainer: Trainer) -> dict:
    t, c = time.perf_counter(), time.process_time()
    loss, val = trainer.epoch()
    return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - c,
            "loss": loss, "val_loss": val}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: default)")
    ap.add_argument("--worker", action="store_true", help="one epoch per 'epoch' on stdin")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    trainer = Trainer(args.data_dir)
    info = {"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}
    if args.worker:
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip() != "epoch":
                break
            print(json.dumps(timed_epoch(trainer)), flush=True)
        return 0
    print(info, flush=True)
    for e in range(1, args.epochs + 1):
        r = timed_epoch(trainer)
        print(f"epoch {e}: {r['seconds']:.3f} s ({r['cpu']:.3f} s CPU)  loss {r['loss']:.3f}  "
              f"val {r['val_loss']:.3f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
