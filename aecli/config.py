"""Run configuration: frozen dataclasses with the original experiment as defaults.

Defaults live here, in code. A TOML file holds only overrides (``[model]``, ``[data]``,
``[train]``, ``[grid]``, ``[map]`` tables and a top-level ``name``); command-line options
override the file. Unknown keys and wrong types are errors that name the key, so a typo never
silently trains the wrong model. The resolved config is stored in every checkpoint header, so
every command after ``train`` rebuilds the model from the run directory alone.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecli.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "gelu", "softplus", "leaky_relu")

RESUME_KEYS = ("train.epochs", "train.device", "train.devices", "data.data_dir", "data.offline")
"""The only config keys a resumed run takes from the command line: how long it trains, where
it runs and where its data is found (which data it trains on may not change)."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the tied autoencoder."""

    sizes: tuple[int, ...] = (784, 128, 32, 2)
    activation: str = "relu"
    init_std: float = 0.1
    # The original's decoder runs the encoder's matrices transposed; false gives the decoder
    # its own weights and biases (about twice the parameters) to test what tying buys.
    tied: bool = True


INVERT_MODES = ("auto", "yes", "no")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to train on, where to look for it, and whether to invert its images.

    ``invert``: ``auto`` inverts images of dark ink on a light background (so that they look
    like MNIST, light on dark), ``yes`` inverts every image, ``no`` none.
    """

    dataset: str = "mnist"
    data_dir: str | None = None
    offline: bool = False
    invert: str = "auto"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of the original experiment."""

    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    l2_weight: float = 0.1
    seed: int = 0
    device: str = "auto"
    devices: int = 1
    # Number of scanned chunks per epoch: more chunks = smoother progress display, a few more
    # host round-trips. 8 costs nothing measurable on 430-step MNIST epochs.
    chunks_per_epoch: int = 8


@dataclass(frozen=True)
class GridConfig:
    """The decode grid of ``aecli generate``: codes from ``low`` to ``high`` inclusive."""

    low: float = -1.0
    high: float = 0.8
    step: float = 0.2


MAP_KINDS = ("none", "umap")


@dataclass(frozen=True)
class MapConfig:
    """Map mode: a neighbour-embedding term on the codes, added to the training loss.

    ``kind = "umap"`` adds parametric UMAP's cross-entropy (Sainburg, McInnes & Gentner 2021)
    between the training images' fuzzy k-NN graph and the codes; "none" is the original
    experiment. ``configs/mnist-map.toml`` says why each value is what it is.
    """

    kind: str = "none"
    # The cross-entropy per image against the summed squared error per image (~30 on MNIST):
    # far below ~20 the reconstruction gradient decides the layout and the map stays AE-like;
    # 3,000 gave the best 100-epoch MNIST map of 300 / 3,000 (5-NN 0.937 / 0.942) at a test
    # error of 31.0 (configs/mnist-map.toml).
    weight: float = 3000.0
    n_neighbors: int = 15  # UMAP's neighbourhood size, the image itself included
    min_dist: float = 0.1  # how tightly UMAP may pack neighbours; with spread gives a, b
    spread: float = 1.0  # UMAP's scale of the embedding; with min_dist gives a, b
    # UMAP's repulsion: the weight of the negative (non-neighbour) term against one edge.
    negative_rate: float = 5.0
    # Edges drawn per optimizer step; each costs one encoder pass per end (the cost knob).
    edges_per_step: int = 128
    pca_dims: int = 50  # neighbours are found on this many principal components of the pixels


@dataclass(frozen=True)
class Config:
    """The whole resolved configuration of one run."""

    name: str = "mnist"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    map: MapConfig = field(default_factory=MapConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-friendly nested dict (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    def replace(self, **overrides: Any) -> Config:
        """Return a copy with dotted-key overrides (``{"train.epochs": 3}``); None is skipped."""
        return apply_overrides(self, {k: v for k, v in overrides.items() if v is not None})

    def get(self, dotted: str) -> Any:
        """The value of a dotted key (``"train.epochs"``, or ``"name"``)."""
        section, _, key = dotted.partition(".")
        return getattr(getattr(self, section), key) if key else getattr(self, section)


_SECTIONS = {
    "model": ModelConfig,
    "data": DataConfig,
    "train": TrainConfig,
    "grid": GridConfig,
    "map": MapConfig,
}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


MAX_NAME = 100  # a run name becomes a folder name
MAX_CONFIG_BYTES = 1 << 20  # a real config is a few hundred bytes


def _shown(value: Any) -> str:
    """``repr(value)`` cut to a length an error line can hold (a hostile value may be 10 MB)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text):,} characters)"


def _coerce(key: str, value: Any, default: Any, annotation: str) -> Any:
    """Check ``value`` against the type of the field's default; return it in the field's type."""
    where = f"config key {_shown(key)}"
    if isinstance(default, bool) or annotation == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {_shown(value)}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{where} must be a list of integers, got {_shown(value)}")
        return tuple(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {_shown(value)}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {_shown(value)}")
        return value
    # str fields, some of which may be None (data_dir)
    if value is None and "None" in annotation:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {_shown(value)}")
    return value


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Apply ``{"section.key": value}`` (or ``{"name": value}``) overrides with type checks."""
    sections: dict[str, dict[str, Any]] = {}
    name = config.name
    for dotted, value in overrides.items():
        if dotted == "name":
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"config key 'name' must be a non-empty string, got {_shown(value)}"
                )
            if len(value) > MAX_NAME or "\x00" in value or "/" in value or value in (".", ".."):
                raise ConfigError(
                    f"config key 'name' must be a folder name of at most {MAX_NAME} characters "
                    f"without '/' or NUL, got {_shown(value)}"
                )
            name = value
            continue
        section, _, key = dotted.partition(".")
        cls = _SECTIONS.get(section)
        if cls is None or not key:
            known = ", ".join(["name", *_SECTIONS])
            raise ConfigError(f"unknown config key {_shown(dotted)}: top-level keys are {known}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if key not in fields:
            raise ConfigError(
                f"unknown config key {_shown(dotted)}: [{section}] accepts {', '.join(fields)}"
            )
        current = getattr(config, section)
        sections.setdefault(section, {})[key] = _coerce(
            dotted, value, getattr(current, key), str(fields[key].type)
        )
    new = dataclasses.replace(
        config,
        name=name,
        **{s: dataclasses.replace(getattr(config, s), **kv) for s, kv in sections.items()},
    )
    validate(new)
    return new


def from_dict(data: dict[str, Any], base: Config | None = None) -> Config:
    """Build a config from a nested dict (a TOML document or a checkpoint header)."""
    if not isinstance(data, dict):
        raise ConfigError("config must be a table of sections")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{key}' must be a table ([{key}])")
            for sub, v in value.items():
                flat[f"{key}.{sub}"] = v
        else:
            flat[key] = value
    return apply_overrides(base or Config(), flat)


def load_config(path: str | Path | None) -> Config:
    """Read a TOML override file (``tomllib`` only); ``None`` gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found: pass an existing .toml file")
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {p} is over {MAX_CONFIG_BYTES >> 20} MiB: pass a small .toml file"
        )
    if b"\x00" in raw:
        raise ConfigError(f"config file {p} contains NUL bytes: pass a .toml text file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"config file {p} is not valid TOML ({str(e)[:120]}): fix the syntax"
        ) from None
    except RecursionError:
        raise ConfigError(f"config file {p} is nested too deeply: fix the syntax") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text: pass a .toml file") from None
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


def validate(config: Config) -> None:
    """Check values that have the right type but make no sense; raise ConfigError naming the key."""
    m, t, g = config.model, config.train, config.grid
    if len(m.sizes) < 2 or m.sizes[0] != 784:
        raise ConfigError(
            f"config key 'model.sizes' must start at 784 (28x28 pixels) and have at least two "
            f"sizes, got {list(m.sizes)}"
        )
    if any(s <= 0 for s in m.sizes):
        raise ConfigError(f"config key 'model.sizes' must be positive, got {list(m.sizes)}")
    check_model_size(m.sizes)
    if m.activation not in ACTIVATIONS:
        raise ConfigError(
            f"config key 'model.activation' must be one of {', '.join(ACTIVATIONS)}, "
            f"got {m.activation!r}"
        )
    if not (math.isfinite(m.init_std) and m.init_std > 0):
        raise ConfigError(
            f"config key 'model.init_std' must be a positive number, got {m.init_std}"
        )
    if t.epochs <= 0:
        raise ConfigError(f"config key 'train.epochs' must be at least 1, got {t.epochs}")
    if t.batch_size <= 0:
        raise ConfigError(f"config key 'train.batch_size' must be at least 1, got {t.batch_size}")
    if not (math.isfinite(t.lr) and t.lr > 0):
        raise ConfigError(f"config key 'train.lr' must be a positive finite number, got {t.lr}")
    if not (math.isfinite(t.l2_weight) and t.l2_weight >= 0):
        raise ConfigError(
            f"config key 'train.l2_weight' must be a finite number >= 0, got {t.l2_weight}"
        )
    if config.data.invert not in INVERT_MODES:
        raise ConfigError(
            f"config key 'data.invert' must be one of {', '.join(INVERT_MODES)}, "
            f"got {config.data.invert!r}"
        )
    if t.device not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"config key 'train.device' must be auto, cpu or gpu, got {t.device!r}")
    if t.devices < 1:
        raise ConfigError(f"config key 'train.devices' must be at least 1, got {t.devices}")
    if t.chunks_per_epoch < 1:
        raise ConfigError(
            f"config key 'train.chunks_per_epoch' must be at least 1, got {t.chunks_per_epoch}"
        )
    if not 0 <= t.seed < 2**32:
        raise ConfigError(f"config key 'train.seed' must be in 0..4294967295, got {t.seed}")
    check_grid(g.low, g.high, g.step, key="grid")
    validate_map(config.map)
    codes = t.batch_size + config.map.edges_per_step
    if config.map.kind != "none" and codes > MAX_MAP_CODES:
        raise ConfigError(
            f"config keys 'train.batch_size' + 'map.edges_per_step' must be at most "
            f"{MAX_MAP_CODES:,} in map mode (the repulsion takes every pair of a step's codes), "
            f"got {t.batch_size:,} + {config.map.edges_per_step:,}"
        )


# Map mode repels every pair of a step's codes (the batch's and the edges' tails): 8,192 codes
# are 67 million pairs, a few float32 arrays of 268 MB each in the step, forward and backward.
MAX_MAP_CODES = 8192


def validate_map(m: MapConfig) -> None:
    """Raise ConfigError naming the ``[map]`` key whose value makes no sense."""
    if m.kind not in MAP_KINDS:
        raise ConfigError(
            f"config key 'map.kind' must be one of {', '.join(MAP_KINDS)}, got {m.kind!r}"
        )
    checks = (
        ("weight", math.isfinite(m.weight) and m.weight >= 0, "a finite number >= 0"),
        ("n_neighbors", m.n_neighbors >= 2, "at least 2 (the image itself and one neighbour)"),
        ("spread", math.isfinite(m.spread) and m.spread > 0, "a positive number"),
        ("min_dist", 0 <= m.min_dist <= m.spread, "between 0 and map.spread"),
        ("negative_rate", math.isfinite(m.negative_rate) and m.negative_rate >= 0, ">= 0"),
        ("edges_per_step", m.edges_per_step >= 1, "at least 1"),
        ("pca_dims", 1 <= m.pca_dims <= 784, "between 1 and 784"),
    )
    for key, ok, want in checks:
        if not ok:
            raise ConfigError(f"config key 'map.{key}' must be {want}, got {getattr(m, key)}")


# The largest model aecli trains: 50 million parameters are 200 MB of float32 weights and
# about 1 GB with their gradients, Adam's two moments and the best copy, far beyond the
# original's 104,000 parameters and still within a laptop's memory.
MAX_PARAMETERS = 50_000_000


def check_model_size(sizes: tuple[int, ...]) -> None:
    """Refuse, before any array exists, a model whose parameters would not fit in memory.

    Raises:
        ConfigError: the tied weights and biases of ``sizes`` exceed ``MAX_PARAMETERS``.
    """
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    params = weights + sum(sizes[1:]) + sum(sizes[:-1])  # encoder and decoder biases
    if params > MAX_PARAMETERS:
        shown = ", ".join(f"{s:,}" for s in sizes[:8]) + (", ..." if len(sizes) > 8 else "")
        raise ConfigError(
            f"config key 'model.sizes' [{shown}] makes a model of {params:,} parameters "
            f"(about {params * 20 / 1e9:,.1f} GB to train): at most {MAX_PARAMETERS:,} "
            "parameters; use smaller layers"
        )


# The largest code magnitude a grid may ask for: far beyond any trained code, still finite
# for every computation on it (float32 decoding included).
MAX_CODE = 1e6


def check_grid(low: float, high: float, step: float, *, key: str = "grid") -> None:
    """Raise ConfigError unless ``low < high`` and ``0 < step <= high - low`` (all finite)."""
    if not all(math.isfinite(v) for v in (low, high, step)):
        raise ConfigError(f"{key}: low, high and step must be finite numbers")
    if max(abs(low), abs(high)) > MAX_CODE:
        raise ConfigError(
            f"{key}: codes must lie within -{MAX_CODE:g}..{MAX_CODE:g} (trained codes are "
            f"small; beyond that a decoded image is saturated), got {low:g}..{high:g}"
        )
    if step <= 0:
        raise ConfigError(f"{key}: step must be positive, got {step}")
    if low >= high:
        raise ConfigError(f"{key}: low must be below high, got low={low} high={high}")
    if step > high - low + 1e-9:
        raise ConfigError(f"{key}: step {step} is larger than the range {low}..{high}")
