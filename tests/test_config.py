"""Config: defaults in code, TOML overrides, errors that name the key, the shipped configs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aecli.config import Config, check_grid, from_dict, load_config
from aecli.errors import ConfigError
from aecli.latent.grid import grid_values

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_are_the_original_experiment():
    c = Config()
    assert c.model.sizes == (784, 128, 32, 2) and c.model.activation == "relu"
    assert c.model.init_std == 0.1
    assert (c.train.epochs, c.train.batch_size, c.train.lr, c.train.l2_weight) == (
        100,
        128,
        1e-3,
        0.1,
    )
    assert c.data.dataset == "mnist"
    assert (c.grid.low, c.grid.high, c.grid.step) == (-1.0, 0.8, 0.2)


def test_file_overrides_only_what_it_names(tmp_path):
    c = load_config(write(tmp_path, 'name = "x"\n[train]\nepochs = 3\nlr = 1\n'))
    assert c.name == "x" and c.train.epochs == 3 and c.train.lr == 1.0
    assert isinstance(c.train.lr, float)  # an integer in TOML is accepted for a float key
    assert c.train.batch_size == 128 and c.model == Config().model


def test_none_path_gives_defaults():
    assert load_config(None) == Config()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[train]\nepoch = 3\n", "train.epoch"),
        ("[trian]\nepochs = 3\n", "'trian'"),
        ("bogus = 1\n", "bogus"),
        ('[train]\nepochs = "ten"\n', "train.epochs"),
        ("[train]\nepochs = 2.5\n", "train.epochs"),
        ("[train]\nlr = true\n", "train.lr"),
        ('[model]\nsizes = [784, "a"]\n', "model.sizes"),
        ("[data]\noffline = 1\n", "data.offline"),
        ("train = 3\n", "train"),
        ("[train]\nepochs = 0\n", "train.epochs"),
        ("[train]\nlr = nan\n", "train.lr"),
        ("[train]\nl2_weight = -1.0\n", "train.l2_weight"),
        ("[model]\nsizes = [100, 2]\n", "model.sizes"),
        ('[model]\nactivation = "swish"\n', "model.activation"),
        ('[train]\ndevice = "tpu"\n', "train.device"),
    ],
)
def test_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(write(tmp_path, text))


def test_toml_syntax_error_names_the_file(tmp_path):
    p = write(tmp_path, "[train\nepochs = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as e:
        load_config(p)
    assert str(p) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_replace_and_round_trip():
    c = Config().replace(**{"train.epochs": 7, "name": "r", "data.data_dir": None})
    assert c.train.epochs == 7 and c.name == "r"
    assert from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="train.bogus"):
        Config().replace(**{"train.bogus": 1})


def test_grid_checks():
    assert len(grid_values(-1.0, 0.8, 0.2)) == 10
    assert grid_values(-2.0, 1.8, 0.2)[0] == -2.0 and len(grid_values(-2.0, 1.8, 0.2)) == 20
    for args in ((0, 1, 0), (1, 0, 0.1), (0, 1, 2), (0, float("nan"), 0.1)):
        with pytest.raises(ConfigError):
            check_grid(*args)


def test_shipped_configs():
    mnist = load_config(CONFIGS / "mnist.toml")
    assert mnist == Config()  # the original settings, written out
    notmnist = load_config(CONFIGS / "notmnist.toml")
    assert notmnist.data.dataset == "notmnist" and notmnist.name == "notmnist"
    g = notmnist.grid
    assert (g.low, g.high, g.step) == (-2.0, 1.8, 0.2)
    assert len(grid_values(g.low, g.high, g.step)) == 20
    assert notmnist.train == Config().train
    quick = load_config(CONFIGS / "quick.toml")
    assert 1 <= quick.train.epochs <= 10
    for name, dataset in (("mnist-map", "mnist"), ("notmnist-map", "notmnist")):
        cfg = load_config(CONFIGS / f"{name}.toml")
        assert cfg.map.kind == "umap" and cfg.model.tied and cfg.data.dataset == dataset
        assert cfg.train == Config().train  # the original's optimisation, map term added


@pytest.mark.parametrize(
    "name", ["mnist.toml", "notmnist.toml", "quick.toml", "mnist-map.toml", "notmnist-map.toml"]
)
def test_every_value_in_the_shipped_configs_says_why(name):
    for line in (CONFIGS / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"{name}: no comment on {line!r}"
