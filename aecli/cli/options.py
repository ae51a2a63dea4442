"""Options shared by several commands, each defined once as an ``Annotated`` alias.

A command declares ``run: Run = None`` and gets the option's flag, type and help from here, so
every command spells ``--run``, ``--json`` or ``--seed`` the same way. The split names in help
texts are written out because ``aecli --help`` must not import ``aecli.data``; the checks use
``aecli.data.SPLITS``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.ascii import TextMode

# ---- commands on a trained run: reconstruct, embed, tsne, generate, experiment -----------------

Run = Annotated[
    Path | None,
    typer.Option("--run", help="Run directory made by 'aecli train' (its latest.ckpt is used)."),
]
Checkpoint = Annotated[
    Path | None, typer.Option("--checkpoint", help="A checkpoint file, instead of --run.")
]
Dataset = Annotated[
    str | None, typer.Option("--dataset", help="Dataset name or path (default: the run's dataset).")
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding mnist/, fashion-mnist/, kmnist/ and notmnist/, looked at before "
        "the cache. Default: the run's own, else $AECLI_DATA_DIR.",
        show_default=False,
    ),
]
Offline = Annotated[
    bool,
    typer.Option("--offline", help="Never download: local files, else the embedded default."),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")
]


def seed_for(purpose: str) -> Any:
    """The ``--seed`` option of a command, its help saying what that command uses it for."""
    return Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help=f"Seed of {purpose}.")]


Seed = seed_for("sampling, subsampling and t-SNE")
Split = Annotated[str, typer.Option("--split", help="Split to use: train, validation or test.")]
UnusedSeed = Annotated[
    int,
    typer.Option(
        "--seed",
        min=0,
        max=2**32 - 1,
        help="Not used: decoding is deterministic (accepted so that one --seed fits every "
        "command).",
    ),
]


def _out(what: str, default: str) -> Any:
    return typer.Option(
        "--out",
        "-o",
        help=f"Where to write the {what}: a .png, .svg or .pdf file, or a folder for the "
        f"default name. Default: {default}.",
        show_default=False,
    )


ReconstructOut = Annotated[
    Path | None, _out("reconstruction grid", "`RUN_DIR/reconstruct.png` (the split's name added)")
]
ScatterOut = Annotated[
    Path | None, _out("scatter (codes.npz goes beside it)", "`RUN_DIR/embed.png`")
]
TsneOut = Annotated[
    Path | None, _out("t-SNE scatter (tsne.npz goes beside it)", "`RUN_DIR/tsne.png`")
]
SheetOut = Annotated[
    Path | None,
    _out(
        "decoded sheet",
        "`RUN_DIR/generate.png`; with --between `RUN_DIR/interpolate-SPLIT-I-J.png`",
    ),
]

# ---- --ascii: the commands that can print their images as text ---------------------------------

TextModeOption = Annotated[
    TextMode | None,
    typer.Option(
        "--text-mode",
        help="How --ascii draws (implies --ascii): blocks (grey half blocks, two pixels a "
        "cell), shades (Unicode shading in the terminal's colours) or ascii (plain "
        "characters). Default: blocks on a colour terminal, ascii into a file or pipe.",
        show_default=False,
    ),
]


# ---- the commands that train: train, experiment ------------------------------------------------

TrainDataset = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help="mnist, fashion-mnist, kmnist, notmnist, letters, or a path to a dataset file or "
        "folder (IDX files, a torchvision root, .npz, .csv, a folder of images by class). "
        "Default: the config's data.dataset.",
        show_default=False,
    ),
]
TrainDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding mnist/, fashion-mnist/, kmnist/ and notmnist/ (as ../shared/data), "
        "looked at before the cache. Default: $AECLI_DATA_DIR.",
        show_default=False,
    ),
]
TrainOffline = Annotated[
    bool,
    typer.Option(
        "--offline", help="Never download: local files, else the embedded default (MNIST sample)."
    ),
]
TrainRunDir = Annotated[
    Path | None,
    typer.Option(
        "--run-dir",
        help="Run directory (default `runs/<name>`, or `runs/<name>-2`... if that holds a run).",
        show_default=False,
    ),
]
ExperimentRunDir = Annotated[
    Path | None,
    typer.Option(
        "--run-dir",
        help="Run directory, figures and report.md (default `runs/<name>`, reused or resumed "
        "when it holds this run; else `runs/<name>-2`..., as train does).",
        show_default=False,
    ),
]
RunName = Annotated[
    str | None,
    typer.Option("--name", help="Run name, for `runs/<name>` (default: the config's name)."),
]

# ---- every command that reads a dataset of its own: train, experiment, data show ----------------


class InvertMode(str, Enum):
    """``--invert``: MNIST is light ink on dark; what to do with images that are not."""

    auto = "auto"
    yes = "yes"
    no = "no"


Invert = Annotated[
    InvertMode | None,
    typer.Option(
        "--invert",
        help="auto: invert a dataset of dark ink on a light background (so it looks like "
        "MNIST); yes: invert it whatever it is; no: keep it as stored. Default: auto (train: "
        "the config's data.invert).",
        show_default=False,
    ),
]

# ---- the data group: list, download, show ------------------------------------------------------

CatalogDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding mnist/, fashion-mnist/, kmnist/ and notmnist/ (as ../shared/data), "
        "looked at before the cache. Default: $AECLI_DATA_DIR.",
        show_default=False,
    ),
]
CatalogOffline = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Never download (also AECLI_OFFLINE=1): local files, else the embedded default.",
    ),
]
CatalogJson = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout; notices go to stderr.")
]


def check_split(split: str, hint: str = "--split") -> str:
    """Usage error unless ``split`` is one of ``aecli.data.SPLITS``; returns it."""
    from aecli.data import SPLITS

    if split not in SPLITS:
        raise typer.BadParameter(
            f"must be one of {', '.join(SPLITS)}, got {split!r}", param_hint=hint
        )
    return split


def split_choices() -> str:
    """``train, validation or test``: the split names for a sentence."""
    from aecli.data import SPLITS

    return f"{', '.join(SPLITS[:-1])} or {SPLITS[-1]}"


def examples(*lines: str) -> str:
    """A command's help epilog: its example command lines, as the help's last paragraph."""
    return "\n\n".join(["Examples:", *(f"  $ {line}" for line in lines)])
