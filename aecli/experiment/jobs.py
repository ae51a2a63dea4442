"""The jobs on a trained run: reconstruct, embed, tsne, generate, interpolate.

Each job takes a loaded checkpoint (``aecli.checkpoint.load_checkpoint``), the data where it
needs images, and an optional ``out`` path; it writes its PNG (and ``.npz``) and returns a
typed result (``aecli.experiment.results``) whose ``to_json()`` is the command's ``--json``
object. ``aecli experiment`` runs the same jobs as the single commands. matplotlib, JAX and
scikit-learn are imported inside the functions.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aecli.experiment.results import (
    EmbedResult,
    GenerateResult,
    InterpolateResult,
    ReconstructResult,
    TsneMapResult,
)
from aecli.latent.embed import ProgressFn
from aecli.latent.protocol import model_protocol

ENGINE_NAMES = {"opentsne": "openTSNE", "sklearn": "scikit-learn"}


def display_name(name: str) -> str:
    """MNIST / notMNIST / letters (the registry's titles), or the name as given (a path's stem)."""
    from aecli.data import REGISTRY

    entry = REGISTRY.get(name)
    return entry.title if entry is not None else (Path(name).stem or name)


def title_for(splits: Any, split: str, ck: Any, what: str) -> str:
    """A figure title: dataset, split, what it shows, epoch."""
    return f"{display_name(splits.name)} {split} · {what} · epoch {ck.epoch}"


def out_path(out: Path | None, ck: Any, stem: str, suffix: str = ".png", tag: str = "") -> Path:
    """``out`` if given (a folder gets the default name inside), else the run directory."""
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


def load_splits(
    dataset: str,
    data_dir: str | None,
    offline: bool,
    notice: Callable[[str], None],
    invert: str = "auto",
) -> Any:
    """``aecli.data.load_dataset`` with its notices (which source, fallbacks) to ``notice``."""
    from aecli.data import load_dataset

    return load_dataset(dataset, data_dir=data_dir, offline=offline, report=notice, invert=invert)


def run_splits(
    ck: Any,
    dataset: str | None,
    data_dir: Path | None,
    offline: bool,
    notice: Callable[[str], None],
) -> Any:
    """The data for a run's jobs: the dataset, folder and offline flag given, else the run's.

    The run's own dataset is read as it was trained on (its ``data.invert``).
    """
    cfg = ck.config.data
    return load_splits(
        dataset or cfg.dataset,
        str(data_dir) if data_dir is not None else cfg.data_dir,
        offline or cfg.offline,
        notice,
        cfg.invert if dataset is None else "auto",
    )


def _npz_bytes(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _write_pair(npz: Path, arrays: dict[str, Any], png: Path, fig: Any) -> None:
    """An ``.npz`` and its figure, committed together: both replaced, or neither."""
    from aecli.atomic import write_together
    from aecli.render import figures

    write_together({npz: _npz_bytes(**arrays), png: figures.figure_bytes(fig, png)})


def sample_sheet(splits: Any, path: Path, seed: int) -> Path:
    """Up to 40 seeded random training images with their labels: the first look at the data."""
    from aecli.latent.sampling import random_indices
    from aecli.render import figures

    tr = splits["train"]
    idx = random_indices(len(tr.images), min(40, len(tr.images)), seed)
    fig = figures.sample_sheet(
        tr.images[idx],
        tr.labels[idx],
        tr.class_names,
        title=f"{display_name(splits.name)} train · {len(idx)} random images with their labels",
    )
    return figures.save_figure(fig, path)


def reconstruct(
    ck: Any, splits: Any, split: str, n: int, seed: int, out: Path | None
) -> ReconstructResult:
    """Reconstruct N seeded random images of a split: their figure, the split's mean error.

    Raises:
        LatentError: ``n`` is not between 1 and the split's size.
    """
    from aecli.latent import codes, sampling
    from aecli.render import figures

    ds = splits[split]
    sampling.check_count(n, len(ds.images), f"reconstruct --n on {split}")
    t0 = time.perf_counter()
    whole = codes.reconstruct(ck.model, ds.images)
    idx = sampling.random_indices(len(ds.images), n, seed)
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
    return ReconstructResult(
        png=path,
        checkpoint=ck.path,
        epoch=ck.epoch,
        dataset=splits.name,
        split=split,
        images_in_split=len(ds.images),
        indices=idx,
        originals=ds.images[idx],
        reconstructions=whole.images[idx],
        errors=whole.errors[idx],
        labels=ds.labels[idx],
        class_names=tuple(ds.class_names),
        mean_squared_error=mse,
        mean_loss=mean_loss,
        l2_weight=ck.config.train.l2_weight,
        seconds=time.perf_counter() - t0,
    )


def embed(
    ck: Any, splits: Any, split: str, out: Path | None, *, grid: bool, seed: int, trust_n: int
) -> EmbedResult:
    """Encode a whole split: codes.npz, scatter PNG, the measures and the paper's protocol.

    Raises:
        LatentError: the model's code is not 2-D.
    """
    from aecli.latent import codes as latent_codes
    from aecli.latent import embed as measures
    from aecli.render import figures

    latent_codes.require_2d_code(ck.model, "embed")
    measures.preload_measures()
    ds = splits[split]
    t0 = time.perf_counter()
    codes = latent_codes.encode(ck.model, ds.images)
    t_encode = time.perf_counter() - t0
    tag = name_tag(ck, splits, split, "train")
    png = out_path(out, ck, "embed", tag=tag)
    npz = png.parent / f"codes{tag}.npz"
    arrays = dict(
        codes=codes.astype(np.float32),
        labels=np.asarray(ds.labels, np.int64),
        indices=np.arange(len(codes), dtype=np.int64),
        class_names=np.asarray(ds.class_names, dtype=str),
        dataset=np.asarray(splits.name),
        split=np.asarray(split),
        epoch=np.asarray(ck.epoch),
    )
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
    _write_pair(npz, arrays, png, fig)
    t_fig = time.perf_counter() - t1
    m = measures.measure(ds.images, codes, ds.labels, trust_n=trust_n, seed=seed)
    return EmbedResult(
        png=png,
        npz=npz,
        checkpoint=ck.path,
        epoch=ck.epoch,
        dataset=splits.name,
        split=split,
        codes=codes,
        measures=m,
        grid_box=box,
        fraction_inside_grid=None if box is None else _inside(codes, box),
        protocol=model_protocol(ck.model, splits, {split: codes}),
        seconds={"encode": t_encode, "figure": t_fig, "measures": m.seconds},
    )


def _inside(codes: np.ndarray, box: tuple[float, float]) -> float:
    """Fraction of the codes inside the square ``box`` (the decode grid's range)."""
    low, high = box
    return float(np.mean(np.all((codes >= low) & (codes <= high), axis=1)))


def tsne(
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
    progress: ProgressFn,
) -> TsneMapResult:
    """t-SNE (PCA-50 first) of a split or a stratified subsample; optional 3-panel comparison.

    Raises:
        LatentError: ``n`` larger than the split, or ``compare`` with a code that is not 2-D.
    """
    from aecli.latent import codes, embed

    ds = splits[split]
    if compare:
        codes.require_2d_code(ck.model, "tsne --compare")
    idx, what = _tsne_sample(ds, split, n, seed)
    images, labels = ds.images[idx], np.asarray(ds.labels)[idx]
    res = embed.tsne(images, engine=engine, seed=seed, n_jobs=jobs, progress=progress)
    progress("t-SNE: measuring (5-NN accuracy, trustworthiness)", 0, 0)
    m = embed.measure(images, res.embedding, labels, trust_n=trust_n, seed=seed)
    tag = name_tag(ck, splits, split, "train")
    png = out_path(out, ck, "tsne", tag=tag)
    npz = png.parent / f"tsne{tag}.npz"
    heading = f"{display_name(splits.name)} {split}"
    title = f"{heading} · t-SNE of PCA-50 ({ENGINE_NAMES[res.engine]}), {what}"
    _save_map(png, npz, res, m, idx, labels, ds.class_names, title, seed)
    measures = {"tsne": m}
    cmp_png = png.parent / f"compare{tag}.png" if compare else None
    if cmp_png is not None:
        progress("comparison: PCA-2 and autoencoder codes, their measures", 0, 0)
        title = f"{heading}, {what}: three 2-D maps of the same images"
        sample = (images, labels, ds.class_names)
        measures.update(_compare(ck, sample, (res, m), cmp_png, title, seed, trust_n))
    return TsneMapResult(
        png=png,
        npz=npz,
        dataset=splits.name,
        split=split,
        n=len(idx),
        engine=res.engine,
        params=res.params,
        seconds=res.seconds,
        measures=measures,
        compare_png=cmp_png,
        checkpoint=ck.path,
        epoch=ck.epoch,
    )


def _tsne_sample(ds: Any, split: str, n: int | None, seed: int) -> tuple[np.ndarray, str]:
    """The images to map (the whole split, or a stratified seeded subsample) and their words."""
    from aecli.latent import sampling

    total = len(ds.images)
    if n is None:
        return np.arange(total), f"all {total:,} images"
    idx = sampling.stratified_indices(
        ds.labels, sampling.check_count(n, total, f"tsne --n on {split}"), seed
    )
    return idx, f"{len(idx):,} of {total:,} images (stratified)"


def _save_map(
    png: Path,
    npz: Path,
    res: Any,
    m: Any,
    idx: np.ndarray,
    labels: np.ndarray,
    class_names: Any,
    title: str,
    seed: int,
) -> None:
    """The t-SNE map's npz (embedding, labels, indices) and its scatter PNG."""
    from aecli.render import figures

    arrays = dict(
        embedding=res.embedding,
        labels=labels.astype(np.int64),
        indices=idx.astype(np.int64),
        class_names=np.asarray(class_names, dtype=str),
        engine=np.asarray(res.engine),
        seed=np.asarray(seed),
    )
    fig = figures.embedding_scatter(
        res.embedding,
        labels,
        class_names,
        title=f"{title}\n{m.short()}",
        xlabel="t-SNE 1",
        ylabel="t-SNE 2",
        seed=seed,
    )
    _write_pair(npz, arrays, png, fig)


def _compare(
    ck: Any,
    sample: tuple[np.ndarray, np.ndarray, Any],
    tsne_map: tuple[Any, Any],
    path: Path,
    title: str,
    seed: int,
    trust_n: int,
) -> dict[str, Any]:
    """PCA-2, the codes and the t-SNE map side by side at ``path``; the first two's measures."""
    from aecli.latent import codes as latent_codes
    from aecli.latent import embed
    from aecli.render import figures

    images, labels, class_names = sample
    res, m = tsne_map
    p2 = embed.pca(images, 2, seed=seed)
    codes = latent_codes.encode(ck.model, images)
    mp = embed.measure(images, p2, labels, trust_n=trust_n, seed=seed)
    ma = embed.measure(images, codes, labels, trust_n=trust_n, seed=seed)
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
    fig = figures.comparison_figure(panels, labels, class_names, title=title, seed=seed)
    figures.save_figure(fig, path)
    return {"pca": mp, "autoencoder": ma}


def resolve_grid(
    ck: Any, range_: tuple[float, float] | None, step: float | None, size: int | None
) -> Any:
    """The decode grid from the options, defaulting to the run's ``[grid]`` config.

    Raises:
        ConfigError: both ``step`` and ``size``, or a range, step or size that makes no grid.
    """
    from aecli.errors import ConfigError
    from aecli.latent.grid import code_grid

    g = ck.config.grid
    low, high = range_ if range_ is not None else (g.low, g.high)
    if step is not None and size is not None:
        raise ConfigError("generate: pass --step or --size, not both")
    key = "generate --range/--step/--size: grid"  # the rule, named by the options it checks
    if size is not None:
        return code_grid(low, high, size=size, key=key)
    return code_grid(low, high, step if step is not None else g.step, key=key)


def generate(
    ck: Any, grid: Any, out: Path | None, model: Callable[[], Any] | None = None
) -> GenerateResult:
    """Decode an evenly spaced grid of codes into one sheet with code values on the axes.

    A grid these weights decoded before comes from ``aecli.latent.grid_cache``, without the
    model: ``ck`` may then be a ``CheckpointFile`` and ``model`` the function that builds the
    model when it is needed (default: ``ck.model``).

    Raises:
        LatentError: the model's code is not 2-D.
    """
    from aecli.latent import codes, grid_cache
    from aecli.latent.grid import decode_grid
    from aecli.render import figures

    def decode() -> np.ndarray:
        m = model() if model is not None else ck.model
        codes.require_2d_code(m, "generate")
        return decode_grid(m, grid)

    t0 = time.perf_counter()
    images = grid_cache.decoded_grid(ck.header, grid, decode)
    rows, cols = grid.shape
    name = display_name(ck.config.data.dataset)
    fig = figures.decode_grid_figure(
        images,
        grid.xs,
        grid.ys,
        title=(
            f"{name} · {rows}x{cols} codes from {grid.low:g} to {grid.high:g} "
            f"(step {grid.step:.3g}) decoded · epoch {ck.epoch}"
        ),
    )
    path = figures.save_figure(fig, out_path(out, ck, "generate"))
    return GenerateResult(path, ck.path, ck.epoch, grid, images, time.perf_counter() - t0)


def interpolate(
    ck: Any, splits: Any, split: str, i: int, j: int, steps: int, out: Path | None
) -> InterpolateResult:
    """Decode the straight line between the codes of images I and J of a split.

    Raises:
        LatentError: the model's code is not 2-D, or I or J is out of range.
        ConfigError: fewer than 2 steps.
    """
    from aecli.latent import codes, grid, sampling
    from aecli.render import figures

    codes.require_2d_code(ck.model, "generate --between")
    ds = splits[split]
    sampling.check_index(i, len(ds.images), "I", split)
    sampling.check_index(j, len(ds.images), "J", split)
    ends = codes.encode(ck.model, ds.images[[i, j]])
    line = grid.interpolate(ends[0], ends[1], steps)
    decoded = codes.decode(ck.model, line)
    names = (ds.class_names[int(ds.labels[i])], ds.class_names[int(ds.labels[j])])
    fig = figures.interpolation_strip(
        ds.images[i],
        ds.images[j],
        decoded,
        line,
        start_label=f"{split} #{i}: {names[0]}",
        end_label=f"{split} #{j}: {names[1]}",
        title=(
            f"{display_name(splits.name)} {split} · from image #{i} ({names[0]}) to #{j} "
            f"({names[1]}): {steps} codes on the straight line, decoded · epoch {ck.epoch}"
        ),
    )
    path = figures.save_figure(fig, out_path(out, ck, f"interpolate-{split}-{i}-{j}"))
    return InterpolateResult(
        png=path,
        checkpoint=ck.path,
        epoch=ck.epoch,
        dataset=splits.name,
        split=split,
        between=(i, j),
        labels=names,
        start=ds.images[i],
        end=ds.images[j],
        codes=line,
        decoded=decoded,
    )
