"""Checkpoints: JSON header + Equinox leaves, atomic writes, every damage detected."""

from __future__ import annotations

import json

import equinox as eqx
import jax
import numpy as np
import pytest

from aecli.checkpoint import (
    BEST,
    LATEST,
    atomic_write_bytes,
    load_checkpoint,
    read_header,
    save_checkpoint,
)
from aecli.config import Config
from aecli.errors import CheckpointError
from aecli.header import digest as header_digest
from aecli.model import TiedAutoencoder
from aecli.optim import make_optimizer

CFG = Config()


@pytest.fixture
def saved(tmp_path):
    model = TiedAutoencoder(key=jax.random.key(5))
    opt_state = make_optimizer(CFG.train).init(eqx.filter(model, eqx.is_array))
    path = save_checkpoint(
        tmp_path / LATEST,
        model=model,
        opt_state=opt_state,
        header={"config": CFG.to_dict(), "epoch": 3, "step": 1290},
    )
    return path, model, opt_state


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def test_round_trip_exact(saved):
    path, model, opt_state = saved
    ckpt = load_checkpoint(path.parent, with_optimizer=True)
    assert ckpt.epoch == 3 and ckpt.header["step"] == 1290 and ckpt.run_dir == path.parent
    assert ckpt.config == CFG
    for a, b in zip(leaves((model, opt_state)), leaves((ckpt.model, ckpt.opt_state)), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert load_checkpoint(path).opt_state is None  # not asked for


def test_header_is_one_json_line_and_no_pickle(saved):
    path, _, _ = saved
    raw = path.read_bytes()
    header = json.loads(raw.split(b"\n", 1)[0])
    assert header["magic"] == "aecli-checkpoint" and header["has_optimizer"] is True
    assert b"pickle" not in raw and b"\x80\x04\x95" not in raw[:200]  # no pickle protocol


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_bytes(tmp_path / "f", b"one")
    atomic_write_bytes(tmp_path / "f", b"two")
    assert (tmp_path / "f").read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_failed_write_keeps_the_previous_file(tmp_path, saved, monkeypatch):
    path, model, opt_state = saved
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    import aecli.atomic

    monkeypatch.setattr(aecli.atomic.os, "replace", boom)
    with pytest.raises(OSError):
        save_checkpoint(path, model=model, opt_state=opt_state, header={"config": CFG.to_dict()})
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [LATEST]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda raw: raw[: len(raw) - 100], "truncated"),
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "checksum"),
        (lambda raw: b"not json\n" + raw.split(b"\n", 1)[1], "not an aecli checkpoint"),
        (lambda raw: b"", "not an aecli checkpoint"),
    ],
)
def test_damage_is_detected(saved, damage, match):
    path, _, _ = saved
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def _rewrite_header(path, *, reseal=False, **changes):
    """Edit the header; ``reseal`` recomputes its digest (a consistent header that lies)."""
    head, payload = path.read_bytes().split(b"\n", 1)
    header = json.loads(head)
    header.update(changes)
    if reseal:
        header["header_sha256"] = header_digest(header)
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)


def test_future_format_is_refused(saved):
    path, _, _ = saved
    _rewrite_header(path, format_version=99)
    with pytest.raises(CheckpointError, match="upgrade"):
        read_header(path)


def test_weights_of_another_architecture_are_refused(saved):
    path, _, _ = saved
    other = Config().replace(**{"model.sizes": [784, 64, 2]}).to_dict()
    _rewrite_header(path, config=other, reseal=True)
    with pytest.raises(CheckpointError, match="architecture"):
        load_checkpoint(path)


def test_an_edited_header_is_refused_by_its_checksum(saved):
    path, _, _ = saved
    _rewrite_header(path, epoch=2)
    with pytest.raises(CheckpointError, match="header does not match its checksum"):
        read_header(path)


def test_a_header_without_checksum_still_loads(saved):
    """Checkpoints written before the header digest stay readable."""
    path, _, _ = saved
    head, payload = path.read_bytes().split(b"\n", 1)
    header = json.loads(head)
    del header["header_sha256"]
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)
    assert read_header(path)[0]["epoch"] == header["epoch"]


def test_missing_run_directory_and_best(tmp_path, saved):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope")
    path, _, _ = saved
    with pytest.raises(CheckpointError, match=BEST):
        load_checkpoint(path.parent, which=BEST)
