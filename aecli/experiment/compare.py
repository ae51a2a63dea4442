"""``aecli compare``: several runs on the same data in one figure and one table.

For every run: its codes of the training and test splits, the paper's protocol
(``aecli.latent.protocol``: k-NN fitted on the training codes and scored on the test codes,
trustworthiness of the first 10,000 training images), its test error, its loss history and a
decode grid over the central 98 % of its training codes. Beside them, two maps without a
decoder, measured the same way: PCA (fitted on the training images) and t-SNE (PCA-50 first;
one t-SNE of the protocol's 10,000 training images together with the test images, since
t-SNE cannot place new points: its k-NN is fitted on those 10,000). One pass over the pixel
distances serves every map's trustworthiness.

Writes ``comparison.png`` (``aecli.render.compare``) and ``comparison.md`` into ``out``
(default: the first run's directory) and returns a ``CompareResult``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aecli.atomic import atomic_write_text
from aecli.errors import LatentError
from aecli.latent.embed import ProgressFn
from aecli.latent.protocol import TRUST_N, Protocol, protocol

FIGURE = "comparison.png"
TABLE = "comparison.md"
GRID_CELLS = 15  # decode grid cells per axis


@dataclass(frozen=True)
class RunFacts:
    """One run of the comparison: what it is and how its map scores.

    Attributes:
        run_dir, name, epoch: where, which, how far trained.
        sizes, tied, map_kind, n_params: the model and its objective.
        protocol: the paper's figures of its codes.
        test_loss: loss per test image (squared error + l2_weight * code**2).
        test_error: squared error per test image, [0, 1] pixel units.
        median_epoch_seconds: from its ``summary.json``; None when it has none.
    """

    run_dir: Path
    name: str
    epoch: int
    sizes: list[int]
    tied: bool
    map_kind: str
    n_params: int
    protocol: Protocol
    test_loss: float
    test_error: float
    median_epoch_seconds: float | None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the protocol's figures inline)."""
        return {
            "run_dir": str(self.run_dir),
            "name": self.name,
            "epoch": self.epoch,
            "sizes": self.sizes,
            "tied": self.tied,
            "map": self.map_kind,
            "n_params": self.n_params,
            **self.protocol.to_dict(),
            "test_loss": round(self.test_loss, 6),
            "test_error": round(self.test_error, 6),
            "median_epoch_seconds": self.median_epoch_seconds,
        }


@dataclass(frozen=True)
class CompareResult:
    """What ``aecli compare`` wrote and measured (``to_json`` is its ``--json`` object)."""

    png: Path
    table: Path
    dataset: str
    runs: list[RunFacts]
    references: dict[str, Protocol | None]  # "pca", "tsne" (None: skipped)
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The ``aecli compare --json`` object."""
        return {
            "command": "compare",
            "png": str(self.png),
            "table": str(self.table),
            "dataset": self.dataset,
            "runs": [r.to_json() for r in self.runs],
            **{k: (p.to_dict() if p else None) for k, p in self.references.items()},
            "seconds": self.seconds,
        }


def compare_runs(
    checkpoints: list[Any],
    splits: Any,
    out: Path | None,
    *,
    skip_tsne: bool,
    seed: int,
    progress: ProgressFn,
) -> CompareResult:
    """Measure and draw several runs on ``splits`` (see the module docstring).

    Args:
        checkpoints: the runs' loaded checkpoints (``load_checkpoint``), all on ``splits``' data.
        splits: the data, with non-empty ``train`` and ``test`` splits.
        out: folder for the two files (created); None: the first run's directory.
        skip_tsne: leave t-SNE out (it takes most of the time).
        seed: t-SNE's seed and the order points are drawn in.
        progress: ``progress(stage, done, total)``.

    Raises:
        LatentError: no runs, a code that is not 2-D, runs on other data, no test split.
    """
    from aecli.latent import codes as latent_codes

    t0 = time.perf_counter()
    _check(checkpoints, splits)
    tr, te = splits["train"], splits["test"]
    progress("comparison: encoding the runs' training and test images", 0, len(checkpoints))
    encoded = [
        (latent_codes.encode(ck.model, tr.images), latent_codes.reconstruct(ck.model, te.images))
        for ck in checkpoints
    ]
    refs = {"pca": _pca_map(tr.images, te.images)}
    refs["tsne"] = None if skip_tsne else _tsne_map(tr.images, te.images, seed, progress)
    progress("comparison: k-NN and trustworthiness of every map", 0, 0)
    maps = [m for m in refs.values() if m is not None]
    maps += [(z, latent_codes.encode(ck.model, te.images)) for ck, (z, _) in
             zip(checkpoints, encoded, strict=True)]  # fmt: skip
    scores = iter(protocol(tr.images, maps, tr.labels, te.labels))
    ref_scores = {k: (next(scores) if m is not None else None) for k, m in refs.items()}
    runs = [
        _facts(ck, next(scores), rec) for ck, (_, rec) in zip(checkpoints, encoded, strict=True)
    ]
    folder = Path(out) if out is not None else checkpoints[0].run_dir
    folder.mkdir(parents=True, exist_ok=True)
    result = CompareResult(
        folder / FIGURE, folder / TABLE, splits.name, runs, ref_scores, time.perf_counter() - t0
    )
    progress("comparison: figure", 0, 0)
    _draw(result, checkpoints, maps, refs, [z for z, _ in encoded], te.labels, splits, seed)
    atomic_write_text(result.table, markdown(result))
    return result


def _check(checkpoints: list[Any], splits: Any) -> None:
    from aecli.latent.codes import require_2d_code

    if not checkpoints:
        raise LatentError("compare needs at least one run: pass RUN directories")
    for ck in checkpoints:
        require_2d_code(ck.model, f"compare ({ck.run_dir})")
    if "test" not in splits or len(splits["test"].images) == 0:
        raise LatentError("compare scores codes on the test split, and this data has none")
    n = len(splits["train"].images)
    for ck in checkpoints:
        trained = ck.header.get("dataset", {})
        same_name = trained.get("name") in (None, splits.name)
        if not same_name or trained.get("n_train") not in (None, n):
            raise LatentError(
                f"{ck.run_dir} was trained on {trained.get('name')} "
                f"({trained.get('n_train')} images), not on {splits.name} ({n} images): "
                "compare runs trained on the same data"
            )


def _pca_map(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA to 2 components fitted on the training images; both splits projected."""
    from sklearn.decomposition import PCA

    from aecli.latent.embed import pixels

    model = PCA(n_components=2, svd_solver="covariance_eigh").fit(pixels(train))
    return model.transform(pixels(train)), model.transform(pixels(test))


def _tsne_map(
    train: np.ndarray, test: np.ndarray, seed: int, progress: ProgressFn
) -> tuple[np.ndarray, np.ndarray]:
    """One t-SNE of the protocol's first training images and all test images, split back."""
    from aecli.latent.embed import tsne

    m = min(TRUST_N, len(train))
    emb = tsne(np.concatenate([train[:m], test]), seed=seed, progress=progress).embedding
    return emb[:m], emb[m:]


def _facts(ck: Any, score: Protocol, rec: Any) -> RunFacts:
    from aecli.model import count_parameters
    from aecli.rundir import RunDir

    cfg = ck.config
    summary = RunDir(ck.run_dir).read_summary() or {}
    return RunFacts(
        run_dir=ck.run_dir,
        name=cfg.name,
        epoch=ck.epoch,
        sizes=list(cfg.model.sizes),
        tied=cfg.model.tied,
        map_kind=cfg.map.kind,
        n_params=count_parameters(ck.model),
        protocol=score,
        test_loss=float(np.mean(rec.loss(cfg.train.l2_weight))),
        test_error=float(np.mean(rec.errors)),
        median_epoch_seconds=summary.get("median_epoch_seconds"),
    )


def _draw(result, checkpoints, maps, refs, train_codes, labels, splits, seed) -> None:
    """Build and save the figure (``aecli.render.compare.runs_comparison``)."""
    from aecli.latent.codes import decode
    from aecli.render.compare import MapPanel, RunPanel, runs_comparison
    from aecli.render.figures import save_figure
    from aecli.rundir import RunDir

    names = {"pca": ("PCA, 2 components", ("PC 1", "PC 2")),
             "tsne": ("t-SNE of PCA-50, no decoder", ("t-SNE 1", "t-SNE 2"))}  # fmt: skip
    test_maps = iter(te for _, te in maps)
    references = []
    for key, m in refs.items():
        heading, axes = names[key]
        score = result.references[key]
        points = next(test_maps) if m is not None else None
        references.append(MapPanel(f"{heading}\n{_short(score)}", points, axes))
    runs = []
    for ck, facts, z in zip(checkpoints, result.runs, train_codes, strict=True):
        lo, hi = np.percentile(z, [1, 99], axis=0)
        xs = np.linspace(lo[0], hi[0], GRID_CELLS)
        ys = np.linspace(hi[1], lo[1], GRID_CELLS)
        grid = decode(ck.model, np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2))
        label = _label(facts)
        heading = f"{label} (epoch {facts.epoch})\n{_short(facts.protocol)}"
        heading += f" · test error {facts.test_error:.2f}"
        runs.append(RunPanel(MapPanel(heading, next(test_maps), ("code 1", "code 2")),
                             grid.reshape(GRID_CELLS, GRID_CELLS, 28, 28), xs, ys,
                             RunDir(ck.run_dir).read_metrics(ck.epoch), label))  # fmt: skip
    n_test = len(labels)
    title = f"{_dataset_title(splits.name)}: 2-D maps of the {n_test:,} test images"
    fig = runs_comparison(references, runs, labels, splits.class_names, title=title, seed=seed)
    save_figure(fig, result.png)


def _short(p: Protocol | None) -> str:
    if p is None:
        return "(skipped: --skip-tsne)"
    return f"1-NN {p.knn1_test:.3f} · 5-NN {p.knn5_test:.3f} · trust. {p.trustworthiness:.3f}"


def _label(facts: RunFacts) -> str:
    return facts.name if facts.name else facts.run_dir.name


def _dataset_title(name: str) -> str:
    from aecli.experiment.jobs import display_name

    return display_name(name)


def markdown(result: CompareResult) -> str:
    """The comparison table (and the figure) as Markdown: ``comparison.md``."""
    lines = [f"# aecli compare: {_dataset_title(result.dataset)}", "", *table_lines(result)]
    return "\n".join([*lines, "", f"![comparison]({result.png.name})", ""])


def table_lines(result: CompareResult) -> list[str]:
    """The comparison's explanation and table as Markdown lines (``report.md`` uses them too)."""
    p0 = next(iter(r.protocol for r in result.runs))
    lines = [
        f"k-NN (k = 1, 5) fitted on the {p0.n_train:,} training codes and scored on the "
        f"{p0.n_test:,} test codes; trustworthiness (k = {p0.trust_k}) of the first "
        f"{p0.trust_n:,} training images against their pixels (Sainburg, McInnes & Gentner "
        "2021). Test error: squared error per test image in [0, 1] pixel units; test loss adds "
        "the code penalty.",
        "",
        "| run | model | epochs | 1-NN | 5-NN | trust. | test error | test loss | s/epoch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.runs:
        model = "-".join(map(str, r.sizes)) + ("" if r.tied else " untied")
        model += f", map {r.map_kind}" if r.map_kind != "none" else ""
        secs = f"{r.median_epoch_seconds:.2f}" if r.median_epoch_seconds else "–"
        q = r.protocol
        lines.append(
            f"| `{r.run_dir}` ({r.name}) | {model} | {r.epoch} | {q.knn1_test:.4f} | "
            f"{q.knn5_test:.4f} | {q.trustworthiness:.4f} | {r.test_error:.2f} | "
            f"{r.test_loss:.2f} | {secs} |"
        )
    labels = {"pca": "PCA, 2 components", "tsne": "t-SNE of PCA-50 (no decoder)"}
    for key, q in result.references.items():
        if q is None:
            lines.append(f"| {labels[key]} | – | – | skipped | | | | | |")
            continue
        lines.append(
            f"| {labels[key]} | – | – | {q.knn1_test:.4f} | {q.knn5_test:.4f} | "
            f"{q.trustworthiness:.4f} | – | – | – |"
        )
    if result.references.get("tsne") is not None:
        n = result.references["tsne"].n_train
        lines += ["", f"t-SNE cannot place new points: it mapped the first {n:,} training "
                  "images and the test images together, and its k-NN is fitted on those "
                  f"{n:,}."]  # fmt: skip
    return lines
