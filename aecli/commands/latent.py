"""Commands on a trained run: reconstruct, embed, tsne, generate, and the whole experiment.

Each command takes ``--run RUN_DIR`` (or ``--checkpoint FILE``), rebuilds the model from the
checkpoint header alone, uses the run's dataset unless told otherwise, writes its PNG into the
run directory (or ``--out``), prints the paths and figures, and with ``--json`` prints exactly
one JSON object on stdout (notices and progress go to stderr).

The work of each command is a plain ``job_*`` function returning a JSON-ready dict, so
``experiment`` runs the same code as the single commands. Heavy libraries (JAX, matplotlib,
scikit-learn, openTSNE) are imported inside the functions, so ``aecli --help`` stays instant.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

SPLITS = ("train", "validation", "test")
DISPLAY = {"mnist": "MNIST", "notmnist": "notMNIST", "letters": "letters"}
ENGINE_NAMES = {"opentsne": "openTSNE", "sklearn": "scikit-learn"}

# ---- shared options ---------------------------------------------------------------------------

RUN_OPT = typer.Option(
    None, "--run", help="Run directory made by 'aecli train' (its latest.ckpt is used)."
)
CKPT_OPT = typer.Option(None, "--checkpoint", help="A checkpoint file, instead of --run.")
DATASET_OPT = typer.Option(
    None, "--dataset", help="Dataset name or path (default: the run's dataset)."
)
DATA_DIR_OPT = typer.Option(
    None, "--data-dir", help="Folder holding mnist/ and notmnist/ (default: the run's, the cache)."
)
OFFLINE_OPT = typer.Option(False, "--offline", help="Never download; use local files or defaults.")
JSON_OPT = typer.Option(False, "--json", help="Print one JSON object on stdout and nothing else.")
SEED_OPT = typer.Option(
    0, "--seed", min=0, max=2**32 - 1, help="Seed for sampling, subsampling and t-SNE."
)


def _split_opt(default: str) -> Any:
    return typer.Option(default, "--split", help=f"Split to use: {', '.join(SPLITS)}.")


def _out_opt(what: str) -> Any:
    return typer.Option(
        None, "--out", help=f"Where to write the {what} PNG (default: inside the run directory)."
    )


# ---- helpers ------------------------------------------------------------------------------------


def notice(message: str) -> None:
    """One-line notice on stderr (data sources, fallbacks): never on stdout, where JSON goes."""
    print(message, file=sys.stderr, flush=True)


def open_checkpoint(run: Path | None, checkpoint: Path | None) -> Any:
    """Load the checkpoint named by ``--run`` or ``--checkpoint`` (exactly one of them)."""
    from aecli.checkpoint import load_checkpoint

    if run is None and checkpoint is None:
        raise typer.BadParameter("pass --run RUN_DIR or --checkpoint FILE", param_hint="--run")
    if run is not None and checkpoint is not None:
        raise typer.BadParameter("pass either --run or --checkpoint, not both", param_hint="--run")
    if run is not None and not run.is_dir():
        from aecli.errors import CheckpointError

        raise CheckpointError(
            f"run directory {run} not found: pass a run directory made by 'aecli train'"
        )
    return load_checkpoint(run if run is not None else checkpoint)


def load_splits(dataset: str, data_dir: str | None, offline: bool, invert: str = "auto") -> Any:
    """``aecli.data.load_dataset`` with notices on stderr (a seam the tests replace)."""
    from aecli.data import load_dataset

    return load_dataset(dataset, data_dir=data_dir, offline=offline, report=notice, invert=invert)


def run_splits(ck: Any, dataset: str | None, data_dir: Path | None, offline: bool) -> Any:
    """The dataset for a run: the options, else what the run was trained on (as it was read)."""
    cfg = ck.config.data
    return load_splits(
        dataset or cfg.dataset,
        str(data_dir) if data_dir is not None else cfg.data_dir,
        offline or cfg.offline,
        cfg.invert if dataset is None else "auto",
    )


def check_split(split: str) -> str:
    """Usage error unless ``split`` is one of train, validation, test."""
    if split not in SPLITS:
        raise typer.BadParameter(
            f"must be one of {', '.join(SPLITS)}, got {split!r}", param_hint="--split"
        )
    return split


def display_name(name: str) -> str:
    """MNIST / notMNIST / letters, or the name as given (a path's stem)."""
    return DISPLAY.get(name, Path(name).stem or name)


def title_for(splits: Any, split: str, ck: Any, what: str) -> str:
    """A figure title: dataset, split, what it shows, epoch."""
    return f"{display_name(splits.name)} {split} · {what} · epoch {ck.epoch}"


def out_path(out: Path | None, ck: Any, stem: str, suffix: str = ".png", tag: str = "") -> Path:
    """``--out`` if given (a folder gets the default name inside), else the run directory."""
    name = f"{stem}{tag}{suffix}"
    if out is None:
        return ck.run_dir / name
    out = Path(out)
    if out.is_dir() or (not out.suffix and not out.exists()):
        return out / name
    return out


def name_tag(ck: Any, splits: Any, split: str, default_split: str) -> str:
    """File-name tag for a non-default dataset or split, so other results are not overwritten."""
    parts = []
    if splits.name != ck.config.data.dataset:
        parts.append(Path(splits.name).stem)
    if split != default_split:
        parts.append(split)
    return "".join(f"-{p}" for p in parts)


def _round(x: Any, digits: int = 6) -> Any:
    if isinstance(x, float):
        return round(x, digits) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _round(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v, digits) for v in x]
    return x


def emit(payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """Print ``payload`` as one JSON object (``--json``) or ``lines`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(_round(payload), sort_keys=False) + "\n")
        sys.stdout.flush()
    else:
        for line in lines:
            typer.echo(line)


def _console(as_json: bool) -> Any:
    from rich.console import Console

    # Terminal pictures go to stdout, unless stdout is reserved for the JSON object.
    return Console(stderr=as_json, highlight=False, soft_wrap=True)


@contextmanager
def progress_display(enabled: bool = True):
    """A rich progress line on stderr; yields ``update(stage, done, total)``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    if not enabled:
        yield lambda stage, done, total: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    state = {"task": progress.add_task("starting", total=None), "counted": False}

    def update(stage: str, done: int, total: int) -> None:
        if state["counted"] and not total:
            # rich cannot turn a counted bar back into a spinner (total=None means "keep"):
            # a stage without a count gets a fresh task.
            progress.remove_task(state["task"])
            state["task"] = progress.add_task(stage, total=None)
        state["counted"] = bool(total)
        progress.update(state["task"], description=stage, completed=done, total=total or None)

    with progress:
        yield update


# ---- jobs ---------------------------------------------------------------------------------------


def job_reconstruct(
    ck: Any, splits: Any, split: str, n: int, seed: int, out: Path | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reconstruct N seeded random images; figure + mean error over the whole split.

    Returns the JSON payload and the arrays (for ``--ascii``).
    """
    from aecli import figures, latent

    ds = splits[split]
    latent.check_count(n, len(ds.images), f"reconstruct --n on {split}")
    t0 = time.perf_counter()
    whole = latent.reconstruct(ck.model, ds.images)
    idx = latent.random_indices(len(ds.images), n, seed)
    mse = float(whole.errors.mean())
    mean_loss = float(whole.loss(ck.config.train.l2_weight).mean())
    fig = figures.reconstruction_grid(
        ds.images[idx],
        whole.images[idx],
        whole.errors[idx],
        labels=ds.labels[idx],
        class_names=ds.class_names,
        title=(
            f"{title_for(splits, split, ck, f'{n} random images (seed {seed})')}\n"
            f"number above each reconstruction: its squared error; mean over all "
            f"{len(ds.images):,} {split} images: {mse:.2f}"
        ),
    )
    path = figures.save_figure(
        fig, out_path(out, ck, "reconstruct", tag=name_tag(ck, splits, split, "test"))
    )
    payload = {
        "command": "reconstruct",
        "png": str(path),
        "checkpoint": str(ck.path),
        "epoch": ck.epoch,
        "dataset": splits.name,
        "split": split,
        "images_in_split": len(ds.images),
        "indices": [int(i) for i in idx],
        "labels": [ds.class_names[int(c)] for c in ds.labels[idx]],
        "errors": [float(e) for e in whole.errors[idx]],
        "mean_squared_error": mse,
        "mean_loss": mean_loss,
        "l2_weight": ck.config.train.l2_weight,
        "seconds": time.perf_counter() - t0,
    }
    arrays = {
        "originals": ds.images[idx],
        "reconstructions": whole.images[idx],
        "errors": whole.errors[idx],
        "labels": ds.labels[idx],
        "class_names": ds.class_names,
    }
    return payload, arrays


def job_embed(
    ck: Any,
    splits: Any,
    split: str,
    out: Path | None,
    *,
    grid: bool,
    seed: int,
    trust_n: int,
) -> dict[str, Any]:
    """Encode a whole split: codes.npz, scatter PNG, 5-NN accuracy and trustworthiness."""
    import numpy as np

    from aecli import figures, latent
    from aecli.atomic import atomic_write_bytes

    latent.require_2d_code(ck.model, "embed")
    latent.preload_measures()
    ds = splits[split]
    t0 = time.perf_counter()
    codes = latent.encode(ck.model, ds.images)
    t_encode = time.perf_counter() - t0
    tag = name_tag(ck, splits, split, "train")
    png = out_path(out, ck, "embed", tag=tag)
    npz = png.parent / f"codes{tag}.npz"
    import io

    buf = io.BytesIO()
    np.savez(
        buf,
        codes=codes.astype(np.float32),
        labels=np.asarray(ds.labels, np.int64),
        indices=np.arange(len(codes), dtype=np.int64),
        class_names=np.asarray(ds.class_names, dtype=str),
        dataset=np.asarray(splits.name),
        split=np.asarray(split),
        epoch=np.asarray(ck.epoch),
    )
    atomic_write_bytes(npz, buf.getvalue())
    g = ck.config.grid
    box = (g.low, g.high) if grid else None
    t1 = time.perf_counter()
    fig = figures.embedding_scatter(
        codes,
        ds.labels,
        ds.class_names,
        title=title_for(splits, split, ck, f"autoencoder codes of all {len(codes):,} images"),
        grid_box=box,
        seed=seed,
    )
    figures.save_figure(fig, png)
    t_fig = time.perf_counter() - t1
    m = latent.measure(ds.images, codes, ds.labels, trust_n=trust_n, seed=seed)
    inside = None
    if box is not None:
        inside = float(np.mean(np.all((codes >= g.low) & (codes <= g.high), axis=1)))
    return {
        "command": "embed",
        "png": str(png),
        "codes": str(npz),
        "checkpoint": str(ck.path),
        "epoch": ck.epoch,
        "dataset": splits.name,
        "split": split,
        "n": len(codes),
        "measures": m.to_dict(),
        "code_min": [float(v) for v in codes.min(axis=0)],
        "code_max": [float(v) for v in codes.max(axis=0)],
        "grid_box": list(box) if box else None,
        "fraction_inside_grid": inside,
        "seconds": {"encode": t_encode, "figure": t_fig, "measures": m.seconds},
    }


def job_tsne(
    ck: Any,
    splits: Any,
    split: str,
    out: Path | None,
    *,
    n: int | None,
    engine: str,
    seed: int,
    compare: bool,
    jobs: int,
    trust_n: int,
    progress: Any,
) -> dict[str, Any]:
    """t-SNE (PCA-50 first) of a split or a stratified subsample; optional 3-panel comparison."""
    import io

    import numpy as np

    from aecli import figures, latent
    from aecli.atomic import atomic_write_bytes

    ds = splits[split]
    total = len(ds.images)
    if compare:
        latent.require_2d_code(ck.model, "tsne --compare")
    if n is None:
        idx = np.arange(total)
    else:
        idx = latent.stratified_indices(
            ds.labels, latent.check_count(n, total, f"tsne --n on {split}"), seed
        )
    images, labels = ds.images[idx], np.asarray(ds.labels)[idx]
    res = latent.tsne(images, engine=engine, seed=seed, n_jobs=jobs, progress=progress)
    progress("t-SNE: measuring (5-NN accuracy, trustworthiness)", 0, 0)
    m = latent.measure(images, res.embedding, labels, trust_n=trust_n, seed=seed)
    tag = name_tag(ck, splits, split, "train")
    png = out_path(out, ck, "tsne", tag=tag)
    npz = png.parent / f"tsne{tag}.npz"
    buf = io.BytesIO()
    np.savez(
        buf,
        embedding=res.embedding,
        labels=labels.astype(np.int64),
        indices=idx.astype(np.int64),
        class_names=np.asarray(ds.class_names, dtype=str),
        engine=np.asarray(res.engine),
        seed=np.asarray(seed),
    )
    atomic_write_bytes(npz, buf.getvalue())
    what = (
        f"all {total:,} images" if n is None else f"{len(idx):,} of {total:,} images (stratified)"
    )
    fig = figures.embedding_scatter(
        res.embedding,
        labels,
        ds.class_names,
        title=(
            f"{display_name(splits.name)} {split} · t-SNE of PCA-50 "
            f"({ENGINE_NAMES[res.engine]}), {what}\n"
            f"{m.short()}"
        ),
        xlabel="t-SNE 1",
        ylabel="t-SNE 2",
        seed=seed,
    )
    figures.save_figure(fig, png)
    payload: dict[str, Any] = {
        "command": "tsne",
        "png": str(png),
        "npz": str(npz),
        "dataset": splits.name,
        "split": split,
        "n": len(idx),
        "engine": res.engine,
        "params": res.params,
        "seconds": res.seconds,
        "measures": {"tsne": m.to_dict()},
    }
    if compare:
        progress("comparison: PCA-2 and autoencoder codes, their measures", 0, 0)
        p2 = latent.pca(images, 2, seed=seed)
        codes = latent.encode(ck.model, images)
        mp = latent.measure(images, p2, labels, trust_n=trust_n, seed=seed)
        ma = latent.measure(images, codes, labels, trust_n=trust_n, seed=seed)
        panels = [
            (f"PCA, 2 components\n{mp.short()}", p2, "PC 1", "PC 2"),
            (f"autoencoder codes (epoch {ck.epoch})\n{ma.short()}", codes, "code 1", "code 2"),
            (
                f"t-SNE of PCA-50 ({ENGINE_NAMES[res.engine]}), no decoder\n{m.short()}",
                res.embedding,
                "t-SNE 1",
                "t-SNE 2",
            ),
        ]
        cmp_png = png.parent / f"compare{tag}.png"
        fig = figures.comparison_figure(
            panels,
            labels,
            ds.class_names,
            title=f"{display_name(splits.name)} {split}, {what}: three 2-D maps of the same images",
            seed=seed,
        )
        figures.save_figure(fig, cmp_png)
        payload["compare_png"] = str(cmp_png)
        payload["measures"].update(pca=mp.to_dict(), autoencoder=ma.to_dict())
        payload["checkpoint"] = str(ck.path)
        payload["epoch"] = ck.epoch
    return payload


def resolve_grid(
    ck: Any, range_: tuple[float, float] | None, step: float | None, size: int | None
) -> Any:
    """The decode grid from the options, defaulting to the run's ``[grid]`` config."""
    from aecli import latent
    from aecli.errors import ConfigError

    g = ck.config.grid
    low, high = range_ if range_ is not None else (g.low, g.high)
    if step is not None and size is not None:
        raise ConfigError("generate: pass --step or --size, not both")
    try:
        if size is not None:
            return latent.code_grid(low, high, size=size)
        return latent.code_grid(low, high, step if step is not None else g.step)
    except ConfigError as e:
        raise ConfigError(f"generate --range/--step/--size: {e}") from None


def job_generate(ck: Any, grid: Any, out: Path | None) -> tuple[dict[str, Any], Any]:
    """Decode an evenly spaced grid of codes into one sheet with code values on the axes."""
    from aecli import figures, latent

    latent.require_2d_code(ck.model, "generate")
    t0 = time.perf_counter()
    images = latent.decode_grid(ck.model, grid)
    rows, cols = grid.shape
    name = display_name(ck.config.data.dataset)
    fig = figures.decode_grid_sheet(
        images,
        grid.xs,
        grid.ys,
        title=(
            f"{name} · {rows}x{cols} codes from {grid.low:g} to {grid.high:g} "
            f"(step {grid.step:.3g}) decoded · epoch {ck.epoch}"
        ),
    )
    path = figures.save_figure(fig, out_path(out, ck, "generate"))
    payload = {
        "command": "generate",
        "png": str(path),
        "checkpoint": str(ck.path),
        "epoch": ck.epoch,
        "rows": rows,
        "cols": cols,
        "low": grid.low,
        "high": grid.high,
        "step": grid.step,
        "xs": [float(v) for v in grid.xs],
        "ys": [float(v) for v in grid.ys],
        "layout": "row r, column c decodes (xs[c], ys[r]); xs ascend left to right, ys descend "
        "top to bottom (the scatter plot's orientation)",
        "seconds": time.perf_counter() - t0,
    }
    return payload, images


def job_interpolate(
    ck: Any, splits: Any, split: str, i: int, j: int, steps: int, out: Path | None
) -> tuple[dict[str, Any], Any]:
    """Decode the straight line between the codes of images I and J of a split."""
    from aecli import figures, latent

    latent.require_2d_code(ck.model, "generate --between")
    ds = splits[split]
    latent.check_index(i, len(ds.images), "I", split)
    latent.check_index(j, len(ds.images), "J", split)
    ends = latent.encode(ck.model, ds.images[[i, j]])
    codes = latent.interpolate(ends[0], ends[1], steps)
    decoded = latent.decode(ck.model, codes)
    names = [ds.class_names[int(ds.labels[k])] for k in (i, j)]
    fig = figures.interpolation_strip(
        ds.images[i],
        ds.images[j],
        decoded,
        codes,
        start_label=f"{split} #{i}: {names[0]}",
        end_label=f"{split} #{j}: {names[1]}",
        title=(
            f"{display_name(splits.name)} {split} · from image #{i} ({names[0]}) to #{j} "
            f"({names[1]}): {steps} codes on the straight line, decoded · epoch {ck.epoch}"
        ),
    )
    path = figures.save_figure(fig, out_path(out, ck, f"interpolate-{split}-{i}-{j}"))
    payload = {
        "command": "generate",
        "png": str(path),
        "checkpoint": str(ck.path),
        "epoch": ck.epoch,
        "dataset": splits.name,
        "split": split,
        "between": [i, j],
        "labels": names,
        "steps": steps,
        "codes": [[float(a), float(b)] for a, b in codes],
    }
    return payload, (ds.images[i], decoded, ds.images[j], codes)


# ---- terminal pictures (--ascii) --------------------------------------------------------------


def _term_width() -> int:
    return max(40, shutil.get_terminal_size((100, 40)).columns)


def ascii_reconstruct(console: Any, arrays: dict[str, Any]) -> None:
    """Originals and reconstructions side by side, in pairs, with class and error captions."""
    from aecli import textart

    n = len(arrays["originals"])
    width = _term_width()
    pairs = max(1, min(n, 5))
    # Fewer pairs per row rather than cells too small to read (12 columns x 6 lines at least).
    while pairs > 1 and textart.fit_grid(2 * pairs, 2 * pairs, width, 10**6, caption_lines=1) < 12:
        pairs -= 1
    pairs = -(-n // -(-n // pairs))  # balance the rows: 4 images as 2 + 2, not 3 + 1
    cell = min(16, max(4, textart.fit_grid(2 * pairs, 2 * pairs, width, 10**6, caption_lines=1)))
    images, captions = [], []
    names = arrays["class_names"]
    for k in range(n):
        images += [arrays["originals"][k], arrays["reconstructions"][k]]
        captions += [f"{names[int(arrays['labels'][k])]}", f"err {arrays['errors'][k]:.1f}"]
    mode = textart.auto_mode(console.color_system, console.encoding)
    console.print("original | reconstruction (squared error), in pairs")
    console.print(
        textart.grid(images, cols=2 * pairs, width=cell, captions=captions, row_gap=1, mode=mode)
    )


def ascii_grid(console: Any, images: Any, xs: Any, ys: Any) -> None:
    """The decode grid as text, code 2 values down the left, code 1 values along the bottom."""
    from rich.text import Text

    from aecli import textart

    rows, cols = images.shape[:2]
    label_w = max(len(f"{v:g}") for v in ys) + 1
    cell = textart.fit_grid(cols, cols, _term_width() - label_w, 10**6, gap=0, max_cell=14)
    cell = max(cell, 2)
    mode = textart.auto_mode(console.color_system, console.encoding)
    for r in range(rows):
        block = textart.row(list(images[r]), width=cell, gap=0, mode=mode)
        lines = block.split("\n", allow_blank=True)
        mid = len(lines) // 2
        for k, line in enumerate(lines):
            label = f"{ys[r]:g}" if k == mid else ""
            out = Text(label.rjust(label_w - 1) + " ")
            out.append_text(line)
            console.print(out)
    # Column labels: every column's value when it fits, else every other one.
    every = 1 if cell >= 5 else 2
    axis = [" "] * (cols * cell)
    for c in range(0, cols, every):
        s = f"{xs[c]:g}"
        start = max(0, c * cell + (cell - len(s)) // 2)
        for k, ch in enumerate(s):
            if start + k < len(axis):
                axis[start + k] = ch
    console.print(" " * label_w + "".join(axis).rstrip())
    console.print(" " * label_w + "code 1 →   (code 2 ↑ on the left)")


def ascii_strip(console: Any, start: Any, decoded: Any, end: Any, codes: Any) -> None:
    """The interpolation strip as text: original, decoded line, original."""
    from aecli import textart

    images = [start, *decoded, end]
    n = len(images)
    cell = max(4, min(12, textart.fit_grid(n, n, _term_width(), 10**6, caption_lines=1)))
    captions = ["start", *[f"{a:.1f},{b:.1f}" for a, b in codes], "end"]
    mode = textart.auto_mode(console.color_system, console.encoding)
    cols = max(1, min(n, (_term_width() + 1) // (cell + 1)))
    console.print(textart.grid(images, cols=cols, width=cell, captions=captions, mode=mode))


# ---- commands -----------------------------------------------------------------------------------


def reconstruct(
    run: Path | None = RUN_OPT,
    checkpoint: Path | None = CKPT_OPT,
    n: int = typer.Option(10, "--n", help="How many random images to show."),
    split: str = _split_opt("test"),
    dataset: str | None = DATASET_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    offline: bool = OFFLINE_OPT,
    out: Path | None = _out_opt("reconstruction grid"),
    ascii_: bool = typer.Option(False, "--ascii", help="Also print the images as terminal text."),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Originals above, reconstructions below (each titled with its squared error), and the
    mean error over the whole split."""
    check_split(split)
    if n < 1:
        raise typer.BadParameter(f"must be at least 1, got {n}", param_hint="--n")
    ck = open_checkpoint(run, checkpoint)
    splits = run_splits(ck, dataset, data_dir, offline)
    payload, arrays = job_reconstruct(ck, splits, split, n, seed, out)
    if ascii_:
        ascii_reconstruct(_console(as_json), arrays)
    emit(
        payload,
        as_json,
        [
            f"wrote {payload['png']}",
            f"mean squared error per image over all {payload['images_in_split']:,} {split} "
            f"images: {payload['mean_squared_error']:.2f} (loss with the code penalty: "
            f"{payload['mean_loss']:.2f})",
        ],
    )


def embed(
    run: Path | None = RUN_OPT,
    checkpoint: Path | None = CKPT_OPT,
    split: str = _split_opt("train"),
    dataset: str | None = DATASET_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    offline: bool = OFFLINE_OPT,
    out: Path | None = _out_opt("scatter"),
    grid: bool = typer.Option(False, "--grid", help="Draw the decode grid's box on the scatter."),
    trust_n: int = typer.Option(
        4000, "--trust-n", min=10, help="Subsample size for trustworthiness (O(n^2))."
    ),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Encode a whole split: codes.npz, a scatter of every code by class, and two measures."""
    from aecli import latent

    check_split(split)
    latent.preload_measures()  # overlaps scikit-learn's slow import with loading and encoding
    ck = open_checkpoint(run, checkpoint)
    splits = run_splits(ck, dataset, data_dir, offline)
    p = job_embed(ck, splits, split, out, grid=grid, seed=seed, trust_n=trust_n)
    m = p["measures"]
    emit(
        p,
        as_json,
        [
            f"wrote {p['png']}",
            f"wrote {p['codes']} ({p['n']:,} codes)",
            f"{m['k']}-NN accuracy ({m['folds']}-fold CV): {m['knn_accuracy']:.4f}",
            f"trustworthiness (k={m['k']}, {m['trust_n']:,} random points): "
            f"{m['trustworthiness']:.4f}",
        ],
    )


def tsne(
    run: Path | None = RUN_OPT,
    checkpoint: Path | None = CKPT_OPT,
    split: str = _split_opt("train"),
    dataset: str | None = DATASET_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    offline: bool = OFFLINE_OPT,
    out: Path | None = _out_opt("t-SNE scatter"),
    n: int | None = typer.Option(
        None, "--n", help="Stratified seeded subsample of N images (default: the whole split)."
    ),
    engine: str = typer.Option(
        "auto",
        "--engine",
        help="opentsne (FFT, fast on large inputs), sklearn (Barnes-Hut), or auto: openTSNE "
        "from 5,000 images.",
    ),
    compare: bool = typer.Option(
        False, "--compare", help="Also write PCA / autoencoder / t-SNE side by side."
    ),
    jobs: int = typer.Option(-1, "--jobs", help="Threads (-1: all cores)."),
    trust_n: int = typer.Option(4000, "--trust-n", min=10, help="Subsample for trustworthiness."),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """t-SNE of the same images (PCA to 50 dimensions first), for comparison with the codes."""
    from aecli import latent

    check_split(split)
    if engine not in latent.ENGINES:
        raise typer.BadParameter(
            f"must be one of {', '.join(latent.ENGINES)}, got {engine!r}", param_hint="--engine"
        )
    if n is not None and n < 10:
        raise typer.BadParameter(f"t-SNE needs at least 10 images, got {n}", param_hint="--n")
    ck = open_checkpoint(run, checkpoint)
    splits = run_splits(ck, dataset, data_dir, offline)
    with progress_display() as progress:
        p = job_tsne(
            ck,
            splits,
            split,
            out,
            n=n,
            engine=engine,
            seed=seed,
            compare=compare,
            jobs=jobs,
            trust_n=trust_n,
            progress=progress,
        )
    lines = [
        f"wrote {p['png']}",
        f"t-SNE ({p['engine']}) of {p['n']:,} images in {p['seconds']:.1f} s",
    ]
    if "compare_png" in p:
        lines.append(f"wrote {p['compare_png']}")
    for name, m in p["measures"].items():
        lines.append(
            f"{name:12s} {m['k']}-NN accuracy {m['knn_accuracy']:.4f}   "
            f"trustworthiness {m['trustworthiness']:.4f}"
        )
    emit(p, as_json, lines)


def generate(
    run: Path | None = RUN_OPT,
    checkpoint: Path | None = CKPT_OPT,
    range_: tuple[float, float] | None = typer.Option(
        None, "--range", metavar="LOW HIGH", help="Code range on both axes (default: the run's)."
    ),
    step: float | None = typer.Option(None, "--step", help="Spacing of the codes."),
    size: int | None = typer.Option(None, "--size", help="K x K codes over the range."),
    between: tuple[int, int] | None = typer.Option(
        None, "--between", metavar="I J", help="Decode the line between images I and J instead."
    ),
    steps: int = typer.Option(10, "--steps", help="Codes on the --between line (ends included)."),
    split: str = _split_opt("test"),
    dataset: str | None = DATASET_OPT,
    data_dir: Path | None = DATA_DIR_OPT,
    offline: bool = OFFLINE_OPT,
    out: Path | None = _out_opt("decoded sheet"),
    ascii_: bool = typer.Option(False, "--ascii", help="Also print the sheet as terminal text."),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Decode an evenly spaced grid of codes into one sheet (rows and columns follow the
    scatter's axes: code 1 left to right, code 2 bottom to top), or with --between the
    straight line between two images' codes."""
    del seed  # decoding is deterministic; accepted for symmetry with the other commands
    check_split(split)
    if between is not None and steps < 2:
        raise typer.BadParameter(f"must be at least 2, got {steps}", param_hint="--steps")
    ck = open_checkpoint(run, checkpoint)
    console = _console(as_json)
    if between is not None:
        splits = run_splits(ck, dataset, data_dir, offline)
        p, (start, decoded, end, codes) = job_interpolate(
            ck, splits, split, between[0], between[1], steps, out
        )
        if ascii_:
            ascii_strip(console, start, decoded, end, codes)
        emit(p, as_json, [f"wrote {p['png']}"])
        return
    grid = resolve_grid(ck, range_, step, size)
    p, images = job_generate(ck, grid, out)
    if ascii_:
        ascii_grid(console, images, grid.xs, grid.ys)
    emit(
        p,
        as_json,
        [
            f"wrote {p['png']}",
            f"{p['rows']}x{p['cols']} codes from {p['low']:g} to {p['high']:g}, step "
            f"{p['step']:.3g}; code 1 left to right, code 2 bottom to top",
        ],
    )


# ---- experiment ---------------------------------------------------------------------------------

# Config keys that do not change what a run computes: a finished run with other values of these
# is reused, not retrained.
_IRRELEVANT = {
    ("train", "epochs"),
    ("train", "device"),
    ("train", "devices"),
    ("train", "chunks_per_epoch"),
    ("data", "data_dir"),
    ("data", "offline"),
}


def _comparable(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, value in cfg_dict.items():
        if isinstance(value, dict):
            out[section] = {k: v for k, v in value.items() if (section, k) not in _IRRELEVANT}
        else:
            out[section] = value
    return out


def run_state(run_dir: Path, config: Any, splits: Any = None) -> tuple[str, int]:
    """``("new" | "resume" | "reuse", epochs done)`` for training ``config`` into ``run_dir``.

    Raises:
        TrainingError: the directory holds a run of another configuration, or one trained on
            other data than ``splits`` (say the embedded sample, now that full MNIST is found).
    """
    from aecli.checkpoint import LATEST, read_header
    from aecli.errors import TrainingError

    f = run_dir / LATEST
    if not f.is_file():
        return "new", 0
    header, _ = read_header(f)
    old, new = _comparable(header.get("config", {})), _comparable(config.to_dict())
    if old != new:
        diff = sorted(
            f"{s}.{k}"
            for s in set(old) | set(new)
            for k in set(_as_dict(old.get(s))) | set(_as_dict(new.get(s)))
            if _as_dict(old.get(s)).get(k) != _as_dict(new.get(s)).get(k)
        ) or sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise TrainingError(
            f"{run_dir} holds a run with another configuration (differs in {', '.join(diff)}): "
            "pass --run-dir NEW_DIR, or delete that directory to retrain"
        )
    trained_on = header.get("dataset", {})
    if splits is not None and trained_on.get("n_train") not in (None, len(splits["train"].images)):
        raise TrainingError(
            f"{run_dir} was trained on {trained_on['n_train']:,} images "
            f"({trained_on.get('source') or 'another source'}), but the data found now has "
            f"{len(splits['train'].images):,} ({splits.source}): pass --run-dir NEW_DIR to train "
            "on this data, or point at the data the run was trained on"
        )
    epoch = int(header.get("epoch", 0))
    return ("reuse" if epoch >= config.train.epochs else "resume"), epoch


def _as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The run's ``metrics.jsonl`` (one dict per epoch); empty when missing."""
    f = run_dir / "metrics.jsonl"
    rows = []
    if f.is_file():
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the rest is still good
            if isinstance(row, dict) and "epoch" in row:
                rows.append(row)
    return rows


def _loss_at(rows: list[dict[str, Any]], epoch: int, key: str = "train_loss") -> float | None:
    for row in rows:
        if row.get("epoch") == epoch and isinstance(row.get(key), (int, float)):
            return float(row[key])
    return None


def train_for_experiment(config: Any, run_dir: Path, splits: Any, update: Any) -> str:
    """Train (or resume, or reuse) ``run_dir``; returns what was done."""
    from aecli import events
    from aecli.errors import TrainingError
    from aecli.train import train

    state, done = run_state(run_dir, config, splits)
    if state == "reuse":
        notice(f"reusing the finished run in {run_dir} ({done} epochs)")
        return state
    if state == "resume":
        notice(f"resuming the run in {run_dir} from epoch {done}")
    epochs = config.train.epochs
    for ev in train(config, run_dir=run_dir, data=splits, resume=state == "resume", report=notice):
        if isinstance(ev, events.Compiling):
            update(f"training: {ev.message}", done, epochs)
        elif isinstance(ev, events.EpochProgress):
            update(f"training epoch {ev.epoch}/{epochs}", ev.epoch - 1, epochs)
        elif isinstance(ev, events.EpochEnd):
            update(
                f"training: epoch {ev.epoch}/{epochs}, loss {ev.train_loss:.2f}", ev.epoch, epochs
            )
        elif isinstance(ev, events.TrainingStopped):
            raise TrainingError(f"training stopped at epoch {ev.epoch}: {ev.message}")
    return state


_TRAINED = {
    "new": "trained by this command",
    "resume": "resumed and finished by this command",
    "reuse": "an earlier finished run, reused; its training time is not in the table below",
}


def write_report(run_dir: Path, r: dict[str, Any]) -> Path:
    """``report.md``: every figure with its numbers beside the original experiment's."""
    from aecli import latent
    from aecli.atomic import atomic_write_bytes

    ds = r["dataset"]
    orig = latent.ORIGINAL.get(ds, {})
    rows = r["metrics"]

    def f(v: Any, digits: int = 2) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    def rel(path: str | None) -> str:
        return Path(path).name if path else ""

    last = rows[-1] if rows else {}
    o_grid = orig.get("grid")
    g = r["grid"]
    lines = [
        f"# aecli experiment: {r['name']}",
        "",
        f"Dataset: {display_name(ds)} ({r['source']}). Model: tied autoencoder "
        f"{'-'.join(str(s) for s in r['sizes'])}, {r['activation']}, {r['n_params']:,} parameters. "
        f"Checkpoint: `{Path(r['checkpoint']).name}` after epoch {r['epoch']}. "
        f"Run directory: `{run_dir}` ({_TRAINED[r['trained']]}).",
        "",
        "## Training loss per image",
        "",
        "Loss per image = squared pixel error (pixels/255 - 0.5) + "
        f"{r['l2_weight']:g} x squared code norm, the figure the original printed.",
        "",
        "| | this run | original (TensorFlow) |",
        "|---|---:|---:|",
        f"| training loss, epoch 1 | {f(_loss_at(rows, 1))} | {f(orig.get('loss_epoch_1'))} |",
        f"| training loss, epoch 67 | {f(_loss_at(rows, 67))} | {f(orig.get('loss_epoch_67'))} |",
        f"| training loss, epoch {last.get('epoch', r['epoch'])} (last) | "
        f"{f(last.get('train_loss'))} | {f(orig.get('loss_final'))} |",
        f"| validation loss, last epoch | {f(last.get('val_loss'))} | – |",
        f"| test loss (all {r['test_n']:,} test images) | {f(r['test_loss'])} | – |",
        "",
        f"The original trained on {orig.get('data', 'its own data')}." if orig else "",
        "",
    ]
    if (run_dir / "loss_curve.png").is_file():  # written by aecli.train
        lines += ["![loss curve](loss_curve.png)", ""]
    lines += [
        "## The data",
        "",
        f"![sample of the training images]({rel(r['figures'].get('samples'))})",
        "",
        "## Reconstructions",
        "",
        f"Mean squared error per image over all {r['test_n']:,} test images: "
        f"**{f(r['test_mse'])}** (with the code penalty: {f(r['test_loss'])}).",
        "",
        f"![reconstructions]({rel(r['figures'].get('reconstruct'))})",
        "",
        "## The 2-D code",
        "",
        "Measures on the training split: k-NN accuracy is 5-fold cross-validated 5-nearest-"
        "neighbour classification of the 2-D points; trustworthiness (k=5) is computed on a "
        f"seeded subsample of {r['trust_n']:,} points.",
        "",
        "| 2-D map | 5-NN accuracy | trustworthiness | decoder |",
        "|---|---:|---:|---|",
    ]
    meas = r["measures"]
    names = {
        "pca": "PCA, 2 components",
        "autoencoder": "autoencoder codes",
        "tsne": "t-SNE of PCA-50",
    }
    decoders = {"pca": "linear", "autoencoder": "yes", "tsne": "none"}
    for key in ("pca", "autoencoder", "tsne"):
        if key in meas:
            m = meas[key]
            lines.append(
                f"| {names[key]} | {m['knn_accuracy']:.4f} | {m['trustworthiness']:.4f} | "
                f"{decoders[key]} |"
            )
    lines += [
        "",
        f"For reference, t-SNE on PCA-50 of the 55,000 MNIST training images gives 5-NN "
        f"accuracy about {latent.TSNE_REFERENCE_KNN}."
        if ds == "mnist"
        else "",
        "",
        f"![codes of the training images]({rel(r['figures'].get('embed'))})",
        "",
    ]
    if r["figures"].get("compare"):
        lines += [
            "t-SNE separates the classes better, but it has no decoder: only the autoencoder's "
            "map can be walked to draw new images (the grid below).",
            "",
            f"![PCA, autoencoder and t-SNE]({rel(r['figures']['compare'])})",
            "",
        ]
    else:
        lines += ["(t-SNE skipped: `--skip-tsne`.)", ""]
    lines += [
        "## Decode grid",
        "",
        "| | this run | original |",
        "|---|---|---|",
        f"| codes | {g['low']:g} to {g['high']:g}, step {g['step']:g} ({g['rows']}x{g['cols']}) | "
        + (f"{o_grid[0]:g} to {o_grid[1]:g}, step {o_grid[2]:g}" if o_grid else "–")
        + " |",
        "| layout | row = code 2 (top = highest), column = code 1 (left = lowest): the scatter "
        "plot's orientation | transposed against its scatter plot |",
        "",
        f"![decoded grid]({rel(r['figures'].get('generate'))})",
        "",
        "## Wall time",
        "",
        "| step | seconds |",
        "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in r["seconds"].items()],
        "",
    ]
    path = run_dir / "report.md"
    text = "\n".join(lines).replace("\n\n\n", "\n\n")
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def experiment(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="A config .toml file."),
    run_dir: Path | None = typer.Option(
        None, "--run-dir", help="Run directory (default: runs/<config name>)."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    data_dir: Path | None = DATA_DIR_OPT,
    offline: bool = OFFLINE_OPT,
    skip_tsne: bool = typer.Option(False, "--skip-tsne", help="Skip t-SNE and the comparison."),
    tsne_n: int | None = typer.Option(
        None, "--tsne-n", help="t-SNE on a stratified subsample of N training images."
    ),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """The whole original experiment: train (or reuse a finished run), then the sample sheet,
    reconstructions, embedding, t-SNE comparison, decode grid and report.md."""
    from aecli import figures, latent
    from aecli.checkpoint import load_checkpoint
    from aecli.config import load_config

    if epochs is not None and epochs < 1:
        raise typer.BadParameter(f"must be at least 1, got {epochs}", param_hint="--epochs")
    config = load_config(config_path).replace(
        **{
            "train.epochs": epochs,
            "data.data_dir": str(data_dir) if data_dir is not None else None,
            "data.offline": True if offline else None,
        }
    )
    run_dir = run_dir or Path("runs") / config.name
    seconds: dict[str, float] = {}
    fig_paths: dict[str, str] = {}
    steps = ["data", "train", "samples", "reconstruct", "embed", "tsne", "generate", "report"]
    if skip_tsne:
        steps.remove("tsne")
    with progress_display() as update:

        def step(name: str, k: int) -> Any:
            def detail(stage: str, done: int = 0, total: int = 0) -> None:
                update(f"[{k + 1}/{len(steps)}] {stage}", done, total)

            detail(name)
            return detail

        t0 = time.perf_counter()
        step("loading the data", 0)
        d = config.data
        splits = load_splits(d.dataset, d.data_dir, d.offline, d.invert)
        seconds["data"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        trained = train_for_experiment(config, run_dir, splits, step("training", 1))
        seconds["train"] = time.perf_counter() - t0
        ck = load_checkpoint(run_dir)

        t0 = time.perf_counter()
        step("data sample sheet", 2)
        tr = splits["train"]
        idx = latent.random_indices(len(tr.images), min(40, len(tr.images)), seed)
        fig = figures.sample_sheet(
            tr.images[idx],
            tr.labels[idx],
            tr.class_names,
            title=f"{display_name(splits.name)} train · {len(idx)} random images with their labels",
        )
        fig_paths["samples"] = str(figures.save_figure(fig, run_dir / "samples.png"))
        seconds["samples"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        step("reconstructions", 3)
        rec, _ = job_reconstruct(
            ck, splits, "test", min(10, len(splits["test"].images)), seed, None
        )
        fig_paths["reconstruct"] = rec["png"]
        seconds["reconstruct"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        step("embedding the training split", 4)
        emb = job_embed(ck, splits, "train", None, grid=True, seed=seed, trust_n=4000)
        fig_paths["embed"] = emb["png"]
        measures = {"autoencoder": emb["measures"]}
        seconds["embed"] = time.perf_counter() - t0

        k = 5
        if not skip_tsne:
            t0 = time.perf_counter()
            ts = job_tsne(
                ck,
                splits,
                "train",
                None,
                n=tsne_n,
                engine="auto",
                seed=seed,
                compare=True,
                jobs=-1,
                trust_n=4000,
                progress=step("t-SNE", k),
            )
            fig_paths["tsne"] = ts["png"]
            fig_paths["compare"] = ts["compare_png"]
            measures = {
                "pca": ts["measures"]["pca"],
                "autoencoder": emb["measures"] if tsne_n is None else ts["measures"]["autoencoder"],
                "tsne": ts["measures"]["tsne"],
            }
            seconds["tsne"] = time.perf_counter() - t0
            k += 1

        t0 = time.perf_counter()
        step("decode grid", k)
        g = ck.config.grid
        grid = latent.code_grid(g.low, g.high, g.step)
        gen, _ = job_generate(ck, grid, None)
        fig_paths["generate"] = gen["png"]
        seconds["generate"] = time.perf_counter() - t0

        step("report", k + 1)
        from aecli.model import count_parameters

        result = {
            "name": config.name,
            "dataset": splits.name,
            "source": getattr(splits, "source", ""),
            "sizes": list(ck.config.model.sizes),
            "activation": ck.config.model.activation,
            "n_params": count_parameters(ck.model),
            "checkpoint": str(ck.path),
            "epoch": ck.epoch,
            "trained": trained,
            "l2_weight": ck.config.train.l2_weight,
            "metrics": read_metrics(run_dir),
            "test_n": rec["images_in_split"],
            "test_mse": rec["mean_squared_error"],
            "test_loss": rec["mean_loss"],
            "trust_n": emb["measures"]["trust_n"],
            "measures": measures,
            "grid": {k2: gen[k2] for k2 in ("low", "high", "step", "rows", "cols")},
            "figures": fig_paths,
            "seconds": seconds,
        }
        report = write_report(run_dir, result)
    rows = result["metrics"]
    payload = {
        "command": "experiment",
        "run_dir": str(run_dir),
        "report": str(report),
        "trained": trained,
        "epoch": ck.epoch,
        "dataset": splits.name,
        "loss_epoch_1": _loss_at(rows, 1),
        "loss_last": rows[-1].get("train_loss") if rows else None,
        "test_loss": rec["mean_loss"],
        "test_mse": rec["mean_squared_error"],
        "measures": measures,
        "figures": fig_paths,
        "seconds": seconds,
    }
    lines = [f"wrote {p}" for p in fig_paths.values()] + [f"wrote {report}"]
    emit(payload, as_json, lines)


def register(app: typer.Typer) -> None:
    """Add reconstruct, embed, tsne, generate and experiment to ``app``."""
    app.command("reconstruct")(reconstruct)
    app.command("embed")(embed)
    app.command("tsne")(tsne)
    app.command("generate")(generate)
    app.command("experiment")(experiment)
