"""The t-SNE step's record in the run directory, so ``--skip-tsne`` keeps its rows and figures.

t-SNE is the slow step of the experiment. Each time it runs, ``save_tsne_record`` writes
``tsne.json`` beside ``tsne.png`` and ``compare.png``: the measures of the three 2-D maps, how
many images were mapped, and the checkpoint epoch whose codes the comparison shows. A later
``aecli experiment --skip-tsne`` reads it back with ``load_tsne_record`` and the report keeps
the rows and figures, saying when they come from an earlier epoch than the checkpoint's.

The record is read bounded (``MAX_RECORD_BYTES``) and checked field by field; one that is
unreadable, malformed, made on other data or whose figures are gone is ignored with a notice
(the report then says that t-SNE was skipped), never trusted half way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

TSNE_RECORD = "tsne.json"
"""The record's file name inside the run directory."""

MAX_RECORD_BYTES = 64 * 1024  # a record is ~1 KB; anything far larger is not one of ours
_VERSION = 1
_MAPS = ("pca", "autoencoder", "tsne")


@dataclass(frozen=True)
class EarlierTsne:
    """The t-SNE step of an earlier experiment in the same run directory.

    Attributes:
        png: the t-SNE scatter. compare_png: PCA / codes / t-SNE side by side (None without).
        epoch: the checkpoint epoch whose codes the comparison shows.
        n: images mapped; split_size: images in the training split then.
        engine: ``opentsne`` or ``sklearn``.
        measures: ``{"tsne", "pca"?, "autoencoder"?}`` -> JSON-ready measure dicts.
        stale: True when ``epoch`` is not the checkpoint's epoch now.
    """

    png: Path
    compare_png: Path | None
    epoch: int
    n: int
    split_size: int
    engine: str
    measures: dict[str, dict[str, Any]]
    stale: bool = False

    def to_json(self) -> dict[str, Any]:
        """What ``aecli experiment --json`` says about the kept t-SNE step."""
        return {
            "png": str(self.png),
            "compare_png": str(self.compare_png) if self.compare_png else None,
            "epoch": self.epoch,
            "n": self.n,
            "engine": self.engine,
            "stale": self.stale,
        }


def save_tsne_record(run_dir: Path, ts: Any, split_size: int) -> Path:
    """Write ``tsne.json`` for a ``TsneMapResult`` made in ``run_dir`` (atomically).

    Args:
        run_dir: the run directory; the figures must lie in it.
        ts: the t-SNE step's result.
        split_size: images in the split it mapped (to tell a subsample from the whole split).
    """
    from aecli.atomic import atomic_write_bytes

    record = {
        "version": _VERSION,
        "dataset": ts.dataset,
        "split": ts.split,
        "split_size": split_size,
        "n": ts.n,
        "engine": ts.engine,
        "epoch": ts.epoch,
        "png": Path(ts.png).name,
        "compare_png": Path(ts.compare_png).name if ts.compare_png else None,
        "measures": {k: m.to_dict() for k, m in ts.measures.items()},
    }
    path = Path(run_dir) / TSNE_RECORD
    return atomic_write_bytes(path, json.dumps(record, indent=1).encode("utf-8"))


def load_tsne_record(
    run_dir: Path, dataset: str, split_size: int, epoch: int, notice: Callable[[str], None]
) -> EarlierTsne | None:
    """The earlier t-SNE step of ``run_dir`` on this data, or None (with a notice why not).

    Args:
        run_dir: the run directory.
        dataset: the dataset's name now; split_size: its training images now.
        epoch: the checkpoint's epoch now (an older record is returned as ``stale``).
        notice: receives one line when a record exists but cannot be used.
    """
    path = Path(run_dir) / TSNE_RECORD
    if not path.is_file() and not path.is_symlink():
        return None
    try:
        record = _read(path)
        earlier = _parse(record, Path(run_dir), dataset, split_size)
    except (OSError, ValueError, TypeError, KeyError) as e:
        notice(f"not keeping the earlier t-SNE step: {path} {e}")
        return None
    return replace(earlier, stale=earlier.epoch != epoch)


def _read(path: Path) -> dict[str, Any]:
    """The record's JSON object, read bounded; a link, a huge or a non-JSON file is refused."""
    import os

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"is larger than {MAX_RECORD_BYTES // 1024} KiB")
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("is not JSON") from None
    if not isinstance(record, dict) or record.get("version") != _VERSION:
        raise ValueError("is not an aecli t-SNE record")
    return record


def _int(record: dict[str, Any], key: str, low: int = 0) -> int:
    v = record[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"has a bad {key!r}")
    return v


def _figure(run_dir: Path, name: Any) -> Path:
    """A figure named by the record: a plain file name inside the run directory, present."""
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"names a figure outside the run directory ({str(name)[:40]!r})")
    path = run_dir / name
    if not path.is_file():
        raise ValueError(f"names {name}, which is gone")
    return path


def _measures(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or "tsne" not in raw or not set(raw) <= set(_MAPS):
        raise ValueError("has no t-SNE measures")
    out = {}
    for key, m in raw.items():
        ok = isinstance(m, dict) and all(
            isinstance(m.get(f), (int, float))
            and not isinstance(m.get(f), bool)
            and math.isfinite(m[f])
            and 0.0 <= m[f] <= 1.0
            for f in ("knn_accuracy", "trustworthiness")
        )
        if not ok:
            raise ValueError(f"has bad {key} measures")
        out[key] = dict(m)
    return out


def _parse(record: dict[str, Any], run_dir: Path, dataset: str, split_size: int) -> EarlierTsne:
    """The record checked against the data found now."""
    if record["dataset"] != dataset or _int(record, "split_size", 1) != split_size:
        raise ValueError("was made on other data")
    if record.get("split") != "train":
        raise ValueError("maps another split than the training split")
    compare = record.get("compare_png")
    engine = record["engine"]
    if not isinstance(engine, str) or len(engine) > 20:
        raise ValueError("has a bad 'engine'")
    return EarlierTsne(
        png=_figure(run_dir, record["png"]),
        compare_png=None if compare is None else _figure(run_dir, compare),
        epoch=_int(record, "epoch"),
        n=_int(record, "n", 1),
        split_size=split_size,
        engine=engine,
        measures=_measures(record["measures"]),
    )
