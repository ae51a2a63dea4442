"""A scripted stand-in for training, data and model: numpy only, deterministic, no JAX.

Tests drive the TUI with it (Pilot and snapshots), and ``python -m aecli.tui.demo [RUN_DIR]``
shows the interface in a second without training anything. The fake dataset draws digits
from a 5x7 bitmap font with seeded jitter; the fake model puts the classes on a circle in
code space and decodes a code to a blend of the nearest digit shapes, blurred less as its
epoch grows, so the panels "sharpen" like a real run's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aecli.config import Config
from aecli.events import (
    CheckpointSaved,
    Compiling,
    EpochEnd,
    EpochProgress,
    RunStarted,
    TrainControl,
    TrainingFinished,
    TrainingStopped,
)
from aecli.tui.backend import Backend, RunSnapshot

_FONT = {
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}
CLASS_NAMES = tuple(_FONT)


def glyph(name: str) -> np.ndarray:
    """A 28x28 float image of a digit from the 5x7 font (strokes 3 pixels wide)."""
    bits = np.array([[c == "1" for c in row] for row in _FONT[name]], np.float32)
    img = np.zeros((28, 28), np.float32)
    big = np.kron(bits, np.ones((3, 3), np.float32))  # 21 x 15
    img[3:24, 7:22] = big
    return img


TEMPLATES = np.stack([glyph(n) for n in CLASS_NAMES])
CENTRES = np.stack(
    [np.array([np.cos(a), np.sin(a)]) * 1.5 for a in np.linspace(0, 2 * np.pi, 11)[:-1]]
).astype(np.float32)


def _blur(images: np.ndarray, passes: int) -> np.ndarray:
    out = images
    for _ in range(passes):
        p = np.pad(out, ((0, 0), (1, 1), (1, 1)), mode="edge")
        out = (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] + 2 * out) / 6
    return out


@dataclass
class FakeDataset:
    """One split: uint8 images (n, 28, 28) and int labels."""

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES
    source: str = "scripted demo digits (5x7 font)"


@dataclass
class FakeSplits:
    """Train/validation/test splits of font digits, seeded."""

    name: str = "demo-digits"
    class_names: tuple[str, ...] = CLASS_NAMES
    source: str = "scripted demo digits (5x7 font, no files)"
    sizes: dict[str, int] = field(
        default_factory=lambda: {"train": 600, "validation": 100, "test": 300}
    )

    def __post_init__(self) -> None:
        self._splits = {}
        for k, (split, n) in enumerate(self.sizes.items()):
            rng = np.random.default_rng(100 + k)
            labels = np.arange(n) % 10
            rng.shuffle(labels)
            shifts = rng.integers(-2, 3, size=(n, 2))
            imgs = np.stack(
                [
                    np.roll(TEMPLATES[c], tuple(s), axis=(0, 1))
                    for c, s in zip(labels, shifts, strict=True)
                ]
            )
            imgs = _blur(imgs, 1) * rng.uniform(0.8, 1.0, size=(n, 1, 1))
            images = np.clip(imgs * 255, 0, 255).astype(np.uint8)
            self._splits[split] = FakeDataset(self.name, split, images, labels.astype(np.int64))

    def __getitem__(self, split: str) -> FakeDataset:
        return self._splits[split]


class FakeModel:
    """A ``ModelView`` in numpy: classes on a circle; sharper with more epochs."""

    code_dim = 2

    def __init__(self, epoch: int = 1):
        self.epoch = epoch
        self.decode_calls = 0

    def encode(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float32).reshape(-1, 28, 28) / 255.0
        flat = x.reshape(len(x), -1)
        t = TEMPLATES.reshape(10, -1)
        sims = (
            flat
            @ t.T
            / (np.linalg.norm(t, axis=1) * (np.linalg.norm(flat, axis=1)[:, None] + 1e-6))
        )
        best = sims.argmax(axis=1)
        # spread within a cluster from image statistics (deterministic "noise")
        ys, xs = np.mgrid[0:28, 0:28]
        mass = x.sum(axis=(1, 2)) + 1e-6
        cx = (x * xs).sum(axis=(1, 2)) / mass - 14
        cy = (x * ys).sum(axis=(1, 2)) / mass - 13
        spread = 0.6 / (1 + 0.3 * self.epoch)
        jitter = np.stack([cx, -cy], axis=1) * 0.12 + (sims.max(1, keepdims=True) - 0.8) * spread
        return (CENTRES[best] + jitter).astype(np.float32)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        self.decode_calls += 1
        z = np.asarray(codes, np.float32).reshape(-1, 2)
        d2 = ((z[:, None, :] - CENTRES[None]) ** 2).sum(-1)
        tau = 0.8 / self.epoch
        w = np.exp(-(d2 - d2.min(1, keepdims=True)) / tau)
        w /= w.sum(1, keepdims=True)
        imgs = np.einsum("nc,chw->nhw", w, TEMPLATES)
        return np.clip(_blur(imgs, max(0, 4 - self.epoch)), 0, 1).astype(np.float32)

    def reconstruct(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        recons = self.decode(self.encode(images))
        originals = np.asarray(images, np.float32) / 255.0
        return recons, ((recons - originals) ** 2).reshape(len(recons), -1).sum(axis=1)


class ScriptedTrainer:
    """A training loop that yields ``aecli.events`` like ``aecli.training.train`` does.

    Each epoch has ``chunks`` progress events. With ``gate`` (a semaphore), every chunk waits
    for one release, so a test decides exactly how far training gets; with ``delay``, chunks
    take that many seconds (for demos). Checkpoints are small JSON files, and every call and
    save is recorded in ``calls`` / ``saves``.
    """

    def __init__(
        self,
        *,
        n_train: int = 600,
        chunks: int = 4,
        gate: threading.Semaphore | None = None,
        delay: float = 0.0,
        fail_at_epoch: int | None = None,
    ):
        self.n_train = n_train
        self.chunks = chunks
        self.gate = gate
        self.delay = delay
        self.fail_at_epoch = fail_at_epoch
        self.calls: list[dict[str, Any]] = []
        self.saves: list[tuple[Path, int]] = []
        self.finished = threading.Event()

    def _save(self, run_dir: Path, epoch: int) -> Path:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / "latest.json"
        path.write_text(json.dumps({"epoch": epoch}))
        self.saves.append((path, epoch))
        return path

    def __call__(
        self,
        config: Config,
        *,
        run_dir: Path,
        data: Any = None,
        resume: bool = False,
        control: TrainControl | None = None,
        report: Any = None,
    ) -> Iterator[Any]:
        control = control or TrainControl()
        run_dir = Path(run_dir)
        self.calls.append({"resume": resume, "run_dir": run_dir, "data": data})
        start = 0
        if resume and (run_dir / "latest.json").is_file():
            start = json.loads((run_dir / "latest.json").read_text())["epoch"]
        epochs = config.train.epochs
        try:
            yield RunStarted(
                run_dir=run_dir,
                name=config.name,
                dataset=getattr(data, "name", "demo"),
                source=getattr(data, "source", ""),
                device="cpu (scripted)",
                n_params=105_458,
                n_train=self.n_train,
                epochs=epochs,
                start_epoch=start,
                steps_per_epoch=max(1, self.n_train // config.train.batch_size),
                config=config,
            )
            yield Compiling()
            for epoch in range(start + 1, epochs + 1):
                stopped = yield from self._epoch(epoch, epochs, run_dir, control)
                if stopped:
                    return
            summary = {"epochs": epochs, "train_loss": loss(epochs), "test_loss": loss(epochs) + 2}
            yield TrainingFinished(summary, model=FakeModel(epochs))
        finally:
            self.finished.set()

    def _epoch(
        self, epoch: int, epochs: int, run_dir: Path, control: TrainControl
    ) -> Generator[Any, None, bool]:
        """One epoch's events; returns True when it stopped (after saving) instead."""
        for chunk in range(1, self.chunks + 1):
            if self.gate is not None:  # wait for the test, but never past a stop
                while not self.gate.acquire(timeout=0.02) and not control.stopped:
                    pass
            elif self.delay:
                control.stop_event.wait(self.delay)
            control.wait_while_paused()
            if control.stopped:
                path = self._save(run_dir, epoch - 1)
                yield CheckpointSaved(path, epoch - 1)
                yield TrainingStopped(epoch - 1, "stopped", "stopped by the user", path)
                return True
            if self.fail_at_epoch == epoch:
                raise RuntimeError(f"scripted failure in epoch {epoch}")
            yield EpochProgress(epoch, self.n_train * chunk // self.chunks, self.n_train)
        yield EpochEnd(
            epoch=epoch,
            epochs=epochs,
            train_loss=loss(epoch),
            val_loss=loss(epoch) + 1.5,
            seconds=2.0,
            images_per_second=self.n_train / 2.0,
            model=FakeModel(epoch),
        )
        path = self._save(run_dir, epoch)
        yield CheckpointSaved(path, epoch)
        return False


def loss(epoch: int) -> float:
    """The scripted training loss per image after ``epoch`` epochs."""
    return 60.0 / (1 + 0.5 * epoch) + 5


def fake_load_run(epoch: int = 6, epochs: int = 10, name: str = "demo"):
    """A ``load_run`` returning a scripted run stopped after ``epoch`` of ``epochs``."""

    def load_run(run_dir: Path) -> RunSnapshot:
        config = Config(name=name).replace(**{"train.epochs": epochs})
        history = [
            {
                "epoch": e,
                "train_loss": loss(e),
                "val_loss": loss(e) + 1.5,
                "seconds": 2.0,
                "images_per_second": 300.0,
            }
            for e in range(1, epoch + 1)
        ]
        header = {"epoch": epoch, "device": "cpu (scripted)", "dataset": "demo-digits"}
        return RunSnapshot(Path(run_dir), config, FakeModel(epoch), epoch, header, history, 105_458)

    return load_run


def demo_backend(trainer: ScriptedTrainer | None = None, **run: Any) -> Backend:
    """A ``Backend`` wired to the scripted trainer, fake data and fake model (no JAX)."""
    splits = FakeSplits()
    load_run = fake_load_run(**run)
    return Backend(
        trainer=trainer or ScriptedTrainer(),
        load_data=lambda config, report=None: splits,
        make_view=lambda model: model,
        load_run=load_run,
        load_history=lambda run_dir: load_run(run_dir).history,
    )


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual demo
    """``python -m aecli.tui.demo [RUN_DIR] [--explore]``: the TUI on scripted training."""
    import sys
    import tempfile

    from aecli.tui.app import create_app

    args = sys.argv[1:] if argv is None else argv
    explore = "--explore" in args
    args = [a for a in args if a != "--explore"]
    run_dir = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="aecli-demo-"))
    config = Config(name="demo").replace(**{"train.epochs": 12})
    app = create_app(
        config=config,
        run_dir=run_dir,
        explore=explore,
        backend=demo_backend(ScriptedTrainer(delay=0.4)),
    )
    app.run()
    app.wait_for_training()


if __name__ == "__main__":  # pragma: no cover
    main()
