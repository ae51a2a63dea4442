"""The run directory: every file name in it, its lock, its metrics history and its summary.

A run directory is what ``aecli train`` writes and every later command reads::

    RUN_DIR/
      latest.ckpt      checkpoint after the last complete epoch (and at epoch 0)
      best.ckpt        checkpoint of the best validation loss so far
      config.json      the resolved config of the run
      metrics.jsonl    one JSON object per finished epoch
      summary.json     what ``aecli train --json`` printed at the end
      loss_curve.png   the loss per image by epoch
      map_graph.npz    a map run's fuzzy k-NN graph of the training images (built once)
      .lock            held (``fcntl.flock``) while a training writes here

``RunDir`` is the only place these names are spelled, and ``RunDir.read_metrics`` is the one
reader of ``metrics.jsonl``, so the report, the TUI and training see the same history.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aecli import header
from aecli.atomic import atomic_write_text
from aecli.errors import TrainingError

MAX_METRICS_BYTES = 64 << 20  # 3,000 epochs of metrics are ~0.5 MB
MAX_SUMMARY_BYTES = 1 << 20  # a summary is ~2 KB


def read_regular(path: Path, cap: int, *, whole: bool = False) -> bytes | None:
    """The bytes of a regular file, at most ``cap`` of them; None when missing or unreadable.

    A FIFO, a device or a link to one is refused before a byte is read (``O_NONBLOCK`` keeps
    the open of a FIFO from waiting for a writer), and nothing larger than ``cap`` is read.

    Args:
        path: the file.
        cap: the most bytes read.
        whole: refuse (None) a file larger than ``cap`` instead of reading its first ``cap``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (whole and st.st_size > cap):
                return None
            raw = f.read(cap + whole)
    except OSError:
        return None
    return None if whole and len(raw) > cap else raw


class RunDir:
    """The files of one run directory.

    Attributes:
        path: the directory itself.
        metrics: ``metrics.jsonl``, the per-epoch history.
        latest: ``latest.ckpt``, the checkpoint of the last complete epoch.
        best: ``best.ckpt``, the checkpoint of the best validation loss.
        config_json: ``config.json``, the resolved config.
        summary: ``summary.json``, the end-of-training summary.
        lock_path: ``.lock``, held while a training writes here.
        loss_curve: ``loss_curve.png``.
        map_graph: ``map_graph.npz``, a map run's k-NN graph (``aecli.training.graph``).
    """

    LATEST = "latest.ckpt"
    BEST = "best.ckpt"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.metrics = self.path / "metrics.jsonl"
        self.latest = self.path / self.LATEST
        self.best = self.path / self.BEST
        self.config_json = self.path / "config.json"
        self.summary = self.path / "summary.json"
        self.lock_path = self.path / ".lock"
        self.loss_curve = self.path / "loss_curve.png"
        self.map_graph = self.path / "map_graph.npz"

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ---------------------------------------------------------------------------- metrics

    def read_metrics(self, upto_epoch: int | None = None) -> list[dict[str, Any]]:
        """The per-epoch history in ``metrics.jsonl``, one dict per epoch, sorted by epoch.

        One rule for every reader: a line that is not a JSON object with an integer
        ``epoch`` and plain finite values (a line torn by a crash, bytes that are not UTF-8,
        ``1e400``, deep nesting) is ignored and the lines after it still
        count; when an epoch appears more than once the last line wins; with ``upto_epoch``
        the epochs after it (written after the checkpoint being read) are dropped.

        Args:
            upto_epoch: keep epochs ``<= upto_epoch``; None keeps all.

        Returns:
            The rows; empty when the file is missing or unreadable.
        """
        raw = read_regular(self.metrics, MAX_METRICS_BYTES)
        if raw is None:
            return []
        by_epoch: dict[int, dict[str, Any]] = {}
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                row = header.parse(line.encode("utf-8"))
                header.validate_row(row, "metrics")
            except header.HeaderError:
                continue
            by_epoch[row["epoch"]] = row
        keep = sorted(e for e in by_epoch if upto_epoch is None or e <= upto_epoch)
        return [by_epoch[e] for e in keep]

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one epoch's row to ``metrics.jsonl``."""
        with open(self.metrics, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Replace ``metrics.jsonl`` with ``rows`` (atomically): a resume drops later lines."""
        atomic_write_text(self.metrics, "".join(json.dumps(m) + "\n" for m in rows))

    # ---------------------------------------------------------------------- config, summary

    def write_config(self, config: dict[str, Any]) -> None:
        """Write ``config.json`` (atomically)."""
        atomic_write_text(self.config_json, json.dumps(config, indent=2) + "\n")

    def read_summary(self) -> dict[str, Any] | None:
        """The ``summary.json`` of a finished training; None when missing or unreadable."""
        raw = read_regular(self.summary, MAX_SUMMARY_BYTES, whole=True)
        if raw is None:
            return None
        try:
            summary = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return None
        return summary if isinstance(summary, dict) else None

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` (atomically)."""
        atomic_write_text(self.summary, json.dumps(summary, indent=2) + "\n")

    # -------------------------------------------------------------------------------- lock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive ``fcntl.flock`` on ``.lock`` (released on exit, even on a crash).

        Creates the directory (removed again if the block leaves nothing in it but the lock),
        and opens ``.lock`` without following a symlink. The file records the holder's pid for
        the error message.

        Raises:
            TrainingError: another process (or another training in this one) holds it.
        """
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            # O_NOFOLLOW: a .lock planted as a symlink is refused, its target never touched.
            fd = os.open(
                self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
            )
        except OSError as e:
            raise TrainingError(
                f"cannot take the lock {self.lock_path} ({e.strerror}; a symbolic link is "
                "refused): remove it and try again"
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise TrainingError(
                    f"{self.lock_path} is not a regular file: remove it and try again"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise TrainingError(self.in_use_message()) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            if created:
                self.remove_if_unused()
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def remove_if_unused(self) -> None:
        """Remove the directory if it holds nothing but ``.lock`` (a run that never began)."""
        with contextlib.suppress(OSError):
            if set(os.listdir(self.path)) <= {self.lock_path.name}:
                self.lock_path.unlink(missing_ok=True)
                self.path.rmdir()

    def is_locked(self) -> bool:
        """True while a training holds ``.lock`` (a probe that never creates the file)."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing drops a lock this probe may have taken
        return False

    def in_use_message(self) -> str:
        """The error message for a run directory another training holds."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                holder = f.read(32).decode("ascii", "replace").strip() or "?"
        except OSError:
            holder = "?"
        return (
            f"run directory {self.path} is in use by another training (pid {holder} holds "
            f"{self.lock_path}): wait for it to finish or pass another --run-dir"
        )
