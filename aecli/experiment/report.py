"""``report.md``: every figure of an experiment with its numbers beside the original's.

The published figures come from ``aecli.reference`` and the run's history from
``RunDir.read_metrics`` (already in the ``ExperimentResult``), so the report, ``--json`` and the
TUI agree on what the run did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aecli.experiment.earlier import TSNE_RECORD
from aecli.experiment.jobs import display_name
from aecli.experiment.results import ExperimentResult, loss_at

REPORT = "report.md"
"""The report's file name inside the run directory."""

LOSS_CURVE = "loss_curve.png"
"""The loss curve's file name (``RunDir.loss_curve``: training writes it first)."""

_TRAINED = {
    "new": "trained by this command",
    "resume": "resumed and finished by this command",
    "reuse": "an earlier finished run, reused; its training time is not in the table below",
}
_MAP_NAMES = {
    "pca": "PCA, 2 components",
    "autoencoder": "autoencoder codes",
    "tsne": "t-SNE of PCA-50",
}
_DECODERS = {"pca": "linear", "autoencoder": "yes", "tsne": "none"}


def _f(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _rel(path: str | Path | None) -> str:
    return Path(path).name if path else ""


def _loss_rows(r: ExperimentResult, orig: Any) -> list[str]:
    """One table row per epoch the original printed a loss for, and one for the run's last."""
    rows = r.metrics
    last = rows[-1].get("epoch", r.epoch) if rows else r.epoch
    published = dict(orig.losses) if orig else {}
    out = []
    for epoch in sorted({1, *published, last}):
        mine = loss_at(rows, epoch)
        here = _f(mine) if mine is not None or epoch <= last else f"– (this run: {last} epochs)"
        tag = " (last)" if epoch == last else ""
        out.append(f"| training loss, epoch {epoch}{tag} | {here} | {_f(published.get(epoch))} |")
    return out


def n_train(r: ExperimentResult) -> int:
    """Training images of the run (the embedding step encodes the whole training split)."""
    return len(r.embed.codes)


def data_note(r: ExperimentResult, orig: Any) -> str:
    """What the original trained on, against this run; says when the two differ in size."""
    if orig is None:
        return ""
    n = n_train(r)
    if n == orig.n_train:
        return f"The original trained on {orig.data}, as this run did."
    return (
        f"The original trained on {orig.data}; this run on {n:,}, so its losses compare with "
        "the original's only roughly."
    )


def _training(r: ExperimentResult, orig: Any) -> list[str]:
    """Header and the training-loss table against every loss the original printed."""
    rows, m, rec = r.metrics, r.model, r.reconstruct
    last = rows[-1] if rows else {}
    lines = [
        f"# aecli experiment: {r.name}",
        "",
        f"Dataset: {display_name(r.dataset)} ({r.source}). Model: tied autoencoder "
        f"{'-'.join(str(s) for s in m['sizes'])}, {m['activation']}, {m['n_params']:,} "
        f"parameters. Checkpoint: `{Path(r.checkpoint).name}` after epoch {r.epoch}. "
        f"Run directory: `{r.run_dir}` ({_TRAINED[r.trained]}).",
        "",
        "## Training loss per image",
        "",
        "Loss per image = squared pixel error (pixels/255 - 0.5) + "
        f"{m['l2_weight']:g} x squared code norm, the figure the original printed.",
        "",
        "| | this run | original (TensorFlow) |",
        "|---|---:|---:|",
        *_loss_rows(r, orig),
        f"| validation loss, last epoch | {_f(last.get('val_loss'))} | – |",
        f"| test loss (all {rec.images_in_split:,} test images) | {_f(rec.mean_loss)} | – |",
        "",
        data_note(r, orig),
        "",
    ]
    if (Path(r.run_dir) / LOSS_CURVE).is_file():
        marks = " (the crosses: the original's printed losses)" if orig else ""
        lines += [f"![loss curve{marks}]({LOSS_CURVE})", ""]
    return lines


def write_loss_curve(r: ExperimentResult) -> Path:
    """Redraw the run's ``loss_curve.png`` with every loss the original printed for the data.

    Training draws the curve too, but marks the original's figures only for the original
    setup on full MNIST; the experiment marks them for every dataset the original ran on,
    saying when it trained on more images than this run.
    """
    from aecli.reference import ORIGINAL
    from aecli.render.figures import loss_curve, save_figure

    orig = ORIGINAL.get(r.dataset)
    n = n_train(r)
    note = None
    if orig is not None and orig.n_train != n:
        note = f"(on {orig.data}; this run: {n:,})"
    fig = loss_curve(
        r.metrics,
        title=f"{display_name(r.dataset)} ({n:,} training images): loss per image",
        l2_weight=r.model["l2_weight"],
        reference=dict(orig.losses) if orig else None,
        reference_label="original (TensorFlow)",
        reference_note=note,
    )
    return save_figure(fig, Path(r.run_dir) / LOSS_CURVE)


def _figures(r: ExperimentResult) -> list[str]:
    """The data sample, the reconstructions and the table of 2-D maps."""
    from aecli.reference import TSNE_REFERENCE_KNN

    rec, figs = r.reconstruct, r.figures
    lines = [
        "## The data",
        "",
        f"![sample of the training images]({_rel(figs.get('samples'))})",
        "",
        "## Reconstructions",
        "",
        f"Mean squared error per image over all {rec.images_in_split:,} test images: "
        f"**{_f(rec.mean_squared_error)}** (with the code penalty: {_f(rec.mean_loss)}).",
        "",
        f"![reconstructions]({_rel(figs.get('reconstruct'))})",
        "",
        "## The 2-D code",
        "",
        "Measures on the training split: k-NN accuracy is 5-fold cross-validated 5-nearest-"
        "neighbour classification of the 2-D points; trustworthiness (k=5) is computed on a "
        f"seeded subsample of {r.embed.measures.trust_n:,} points.",
        "",
        "| 2-D map | 5-NN accuracy | trustworthiness | decoder |",
        "|---|---:|---:|---|",
    ]
    for key in ("pca", "autoencoder", "tsne"):
        if key in r.measures:
            m = r.measures[key]
            lines.append(
                f"| {_MAP_NAMES[key]} | {m['knn_accuracy']:.4f} | {m['trustworthiness']:.4f} | "
                f"{_DECODERS[key]} |"
            )
    lines += _protocol(r)
    lines += [
        "",
        f"For reference, t-SNE on PCA-50 of the 55,000 MNIST training images gives 5-NN "
        f"accuracy about {TSNE_REFERENCE_KNN}."
        if r.dataset == "mnist"
        else "",
        "",
        f"![codes of the training images]({_rel(figs.get('embed'))})",
        "",
    ]
    if figs.get("compare"):
        lines += [
            "t-SNE separates the classes better, but it has no decoder: only the autoencoder's "
            "map can be walked to draw new images (the grid below).",
            "",
            f"![PCA, autoencoder and t-SNE]({_rel(figs['compare'])})",
            "",
        ]
    elif r.earlier_tsne is not None:
        lines += _earlier_tsne(r)
    else:
        lines += ["(t-SNE skipped: `--skip-tsne`.)", ""]
    return lines


def _earlier_tsne(r: ExperimentResult) -> list[str]:
    """The t-SNE step kept from an earlier experiment (``--skip-tsne``), and how old it is."""
    e = r.earlier_tsne
    what = "the whole training split" if e.n == e.split_size else f"{e.n:,} training images"
    lines = [
        f"The PCA and t-SNE rows and the figure below were kept from an earlier experiment in "
        f"this run directory (`--skip-tsne`; t-SNE of {what}, made at epoch {e.epoch}, "
        f"`{TSNE_RECORD}`).",
        "",
    ]
    if e.stale:
        lines += [
            f"**They are older than the checkpoint**: made at epoch {e.epoch}, the checkpoint "
            f"is now at epoch {r.epoch}. PCA and t-SNE do not depend on the model, but the "
            f"comparison's autoencoder panel"
            + ("" if e.n == e.split_size else " and the autoencoder row")
            + f" show the codes of epoch {e.epoch}: run without `--skip-tsne` to redo them.",
            "",
        ]
    figure = e.compare_png or e.png
    return lines + [f"![PCA, autoencoder and t-SNE (epoch {e.epoch})]({_rel(figure)})", ""]


def _protocol(r: ExperimentResult) -> list[str]:
    """The codes under the paper's protocol (``aecli.latent.protocol``), when it applies."""
    q = r.embed.protocol
    if q is None:
        return []
    return [
        "",
        "The paper's protocol (Sainburg, McInnes & Gentner 2021): k-NN fitted on the "
        f"{q.n_train:,} training codes, scored on the {q.n_test:,} test codes; "
        f"trustworthiness (k={q.trust_k}) of the first {q.trust_n:,} training images.",
        "",
        "| 2-D map | 1-NN (test) | 5-NN (test) | trustworthiness |",
        "|---|---:|---:|---:|",
        f"| autoencoder codes | {q.knn1_test:.4f} | {q.knn5_test:.4f} | {q.trustworthiness:.4f} |",
    ]


def _comparison(r: ExperimentResult) -> list[str]:
    """A map run beside its plain run (``aecli.experiment.compare``)."""
    from aecli.experiment.compare import table_lines

    if r.compare is None:
        return []
    alone = len(r.compare.runs) == 1
    return [
        "## Map against the plain autoencoder",
        "",
        "(No plain run was found next to this one: train it, e.g. `aecli train "
        "configs/mnist.toml`, and run the experiment again.)"
        if alone
        else "This map run beside the plain run of the same data, and PCA and t-SNE:",
        "",
        *table_lines(r.compare),
        "",
        f"![comparison]({_rel(r.compare.png)})",
        "",
    ]


def _grid_and_time(r: ExperimentResult, orig: Any) -> list[str]:
    """The decode grid against the original's, and the wall time of every step."""
    g = r.generate.grid
    rows, cols = g.shape
    o_grid = orig.grid if orig else None
    return [
        "## Decode grid",
        "",
        "| | this run | original |",
        "|---|---|---|",
        f"| codes | {g.low:g} to {g.high:g}, step {g.step:g} ({rows}x{cols}) | "
        + (f"{o_grid[0]:g} to {o_grid[1]:g}, step {o_grid[2]:g}" if o_grid else "–")
        + " |",
        "| layout | row = code 2 (top = highest), column = code 1 (left = lowest): the scatter "
        "plot's orientation | transposed against its scatter plot |",
        "",
        f"![decoded grid]({_rel(r.figures.get('generate'))})",
        "",
        "## Wall time",
        "",
        "| step | seconds |",
        "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in r.seconds.items()],
        "",
    ]


def render_report(r: ExperimentResult) -> str:
    """The text of ``report.md`` for an experiment."""
    from aecli.reference import ORIGINAL

    orig = ORIGINAL.get(r.dataset)
    lines = _training(r, orig) + _figures(r) + _comparison(r) + _grid_and_time(r, orig)
    return "\n".join(lines).replace("\n\n\n", "\n\n")


def write_report(r: ExperimentResult) -> Path:
    """Write ``render_report(r)`` to ``r.report`` atomically; returns the path."""
    from aecli.atomic import atomic_write_bytes

    atomic_write_bytes(r.report, render_report(r).encode("utf-8"))
    return r.report
