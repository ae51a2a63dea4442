"""Bad input, as a suite: every row of docs/reliability.md's table is one case here.

Each case builds a broken input in a fresh folder, runs the real CLI in-process, and checks
what a user would: exit status 1 (2 for usage errors), one ``error:`` line on stderr that
names the problem, no traceback (no exception other than ``SystemExit`` escapes), nothing
left behind and nothing changed in the folder (every file's bytes are compared).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aecli import header as header_mod
from aecli.cli.app import app

runner = CliRunner()

# --------------------------------------------------------------------------- data builders


def _idx(
    array: np.ndarray, *, magic: int | None = None, dims: tuple[int, ...] | None = None
) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    dims = dims if dims is not None else array.shape
    magic = magic if magic is not None else (0x0800 | len(dims))
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + array.tobytes()


def _mnist_dir(root: Path, n_train: int = 120, n_test: int = 40, **broken: bytes) -> Path:
    """A data dir whose mnist/ holds four small valid IDX .gz files, some replaced by ``broken``."""
    rng = np.random.default_rng(0)
    d = root / "data" / "mnist"
    d.mkdir(parents=True)
    files = {
        "train-images-idx3-ubyte.gz": gzip.compress(
            _idx(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
        ),
        "train-labels-idx1-ubyte.gz": gzip.compress(_idx(np.arange(n_train) % 10)),
        "t10k-images-idx3-ubyte.gz": gzip.compress(
            _idx(rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))
        ),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(_idx(np.arange(n_test) % 10)),
    }
    for name, blob in files.items():
        key = name.split("-idx")[0].replace("-", "_")
        blob = broken.get(key, blob)
        if blob is not None:
            (d / name).write_bytes(blob)
    return root / "data"


def _good_images_gz(n: int = 120) -> bytes:
    return gzip.compress(_idx(np.zeros((n, 28, 28), np.uint8)))


def _png(size: tuple[int, int] = (28, 28)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full(size[::-1], 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _notmnist_folder(root: Path, png: bytes | None = None) -> Path:
    folder = root / "notMNIST_small"
    for letter in "ABCDEFGHIJ":
        (folder / letter).mkdir(parents=True)
        for i in range(3):
            (folder / letter / f"f{i}.png").write_bytes(_png())
    if png is not None:
        (folder / "C" / "odd.png").write_bytes(png)
    return folder


def _npz(root: Path, **arrays: np.ndarray) -> Path:
    p = root / "bad.npz"
    with open(p, "wb") as f:
        np.savez(f, **arrays)
    return p


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# protocol 2: GLOBAL numpy.ndarray, MARK, LONG1 10**12, TUPLE, REDUCE, STOP
_HUGE_NDARRAY_PICKLE = b"\x80\x02cnumpy\nndarray\n(\x8a\x05\x00\x10\xa5\xd4\xe8tR."


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One bad input: ``build(tmp)`` returns the argv; ``words`` must all appear in the error."""

    id: str
    build: Callable[[Path], list[str]]
    words: tuple[str, ...]
    code: int = 1


def _config(text: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        (tmp / "bad.toml").write_text(text)
        return ["train", str(tmp / "bad.toml"), "--run-dir", str(tmp / "run"), "--offline"]

    return build


def _data(**broken: bytes | None) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        d = _mnist_dir(tmp, **broken)
        return ["data", "show", "mnist", "--data-dir", str(d), "--out", str(tmp / "s.png")]

    return build


def _dataset_path(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        p = make(tmp)
        return ["data", "show", str(p), "--out", str(tmp / "s.png"), "--offline"]

    return build


CASES: list[Case] = [
    # ---- data files
    Case("idx-truncated-gzip", _data(train_images=_good_images_gz()[:200]), ("train-images",)),
    Case("idx-not-gzip", _data(train_images=b"this is not gzip data at all"), ("train-images",)),
    Case(
        "idx-wrong-magic",
        _data(train_images=gzip.compress(_idx(np.zeros((120, 28, 28)), magic=0x0801))),
        ("train-images", "magic"),
    ),
    Case(
        "idx-lying-dims",
        _data(train_images=gzip.compress(_idx(np.zeros((120, 28, 28)), dims=(500, 28, 28)))),
        ("train-images",),
    ),
    Case(
        "idx-wrong-image-size",
        _data(train_images=gzip.compress(_idx(np.zeros((120, 32, 32))))),
        ("train-images",),
    ),
    Case(
        "idx-labels-out-of-range",
        _data(train_labels=gzip.compress(_idx(np.full(120, 12)))),
        ("train-labels",),
    ),
    Case(
        "idx-label-count-mismatch",
        _data(train_labels=gzip.compress(_idx(np.zeros(77)))),
        ("train-labels",),
    ),
    Case("idx-missing-file", _data(t10k_labels=None), ("t10k-labels",)),
    Case("idx-empty-file", _data(t10k_images=b""), ("t10k-images",)),
    Case(
        "png-wrong-size",
        _dataset_path(lambda t: _notmnist_folder(t, png=_png((32, 30)))),
        ("odd.png",),
    ),
    Case(
        "png-folder-empty",
        _dataset_path(lambda t: (t / "emptyset").mkdir() or (t / "emptyset")),
        ("emptyset",),
    ),
    Case(
        "tar-truncated",
        _dataset_path(
            lambda t: (
                (t / "notMNIST_small.tar.gz").write_bytes(_tar_of_folder(t)[:3000])
                and t / "notMNIST_small.tar.gz"
            )
        ),
        ("notMNIST_small.tar.gz",),
    ),
    Case(
        "npz-missing-keys",
        _dataset_path(lambda t: _npz(t, pixels=np.zeros((5, 28, 28), np.uint8))),
        ("bad.npz", "images"),
    ),
    Case(
        "npz-wrong-dtype",
        _dataset_path(
            lambda t: _npz(t, images=np.zeros((5, 28, 28), np.complex64), labels=np.zeros(5, int))
        ),
        ("bad.npz",),
    ),
    Case(
        "npz-wrong-shape",
        _dataset_path(
            lambda t: _npz(t, images=np.zeros((5, 30, 30), np.uint8), labels=np.zeros(5, int))
        ),
        ("bad.npz",),
    ),
    Case(
        "npz-not-a-zip",
        _dataset_path(lambda t: (t / "bad.npz").write_bytes(b"garbage") and t / "bad.npz"),
        ("bad.npz",),
    ),
    Case(
        "pickle-runs-code",
        _dataset_path(
            lambda t: (
                (t / "notMNIST.pickle").write_bytes(pickle.dumps({"train_dataset": _Evil()}))
                and t / "notMNIST.pickle"
            )
        ),
        ("notMNIST.pickle",),
    ),
    Case(
        "pickle-huge-ndarray",
        # numpy.ndarray((10**12,)) called by the pickle itself: 7 TiB, if it were allowed.
        _dataset_path(lambda t: _write(t / "notMNIST.pickle", _HUGE_NDARRAY_PICKLE)),
        ("notMNIST.pickle",),
    ),
    Case(
        "pickle-malformed-build",
        _dataset_path(
            lambda t: _write(t / "notMNIST.pickle", b"\x80\x02}}(X\x01\x00\x00\x00aK\x01ub.")
        ),
        ("notMNIST.pickle",),
    ),
    Case(
        "dataset-path-missing",
        lambda t: ["data", "show", str(t / "nowhere.npz"), "--out", str(t / "s.png")],
        ("nowhere.npz",),
    ),
    Case(
        "dataset-unknown-name",
        lambda t: ["data", "show", "cifar10", "--out", str(t / "s.png"), "--offline"],
        ("cifar10",),
    ),
    # ---- configs
    Case("toml-syntax-error", _config("[train\nepochs = 3\n"), ("TOML",)),
    Case("config-unknown-key", _config("[train]\nepoch = 3\n"), ("train.epoch",)),
    Case("config-unknown-section", _config("[optimiser]\nlr = 0.1\n"), ("optimiser",)),
    Case("config-wrong-type", _config('[train]\nepochs = "ten"\n'), ("train.epochs",)),
    Case("config-zero-epochs", _config("[train]\nepochs = 0\n"), ("train.epochs",)),
    Case("config-negative-epochs", _config("[train]\nepochs = -5\n"), ("train.epochs",)),
    Case("config-zero-batch", _config("[train]\nbatch_size = 0\n"), ("train.batch_size",)),
    Case("config-nan-lr", _config("[train]\nlr = nan\n"), ("train.lr",)),
    Case("config-negative-lr", _config("[train]\nlr = -0.001\n"), ("train.lr",)),
    Case("config-sizes-not-784", _config("[model]\nsizes = [100, 32, 2]\n"), ("model.sizes",)),
    Case("config-sizes-too-short", _config("[model]\nsizes = [784]\n"), ("model.sizes",)),
    Case("config-bad-activation", _config('[model]\nactivation = "swish9"\n'), ("activation",)),
    Case("config-negative-l2", _config("[train]\nl2_weight = -1.0\n"), ("l2_weight",)),
    Case("config-grid-step-zero", _config("[grid]\nstep = 0.0\n"), ("step",)),
    Case(
        "config-missing-file",
        lambda t: ["train", str(t / "missing.toml"), "--run-dir", str(t / "run")],
        ("missing.toml",),
    ),
    Case(
        "batch-larger-than-data",
        lambda t: [
            "train",
            "--dataset",
            str(_mnist_dir(t) / "mnist"),
            "--batch-size",
            "100000",
            "--epochs",
            "1",
            "--run-dir",
            str(t / "run"),
            "--offline",
        ],
        ("batch",),
    ),
    # ---- command lines
    Case(
        "cli-epochs-zero",
        lambda t: ["train", "--epochs", "0", "--run-dir", str(t / "r")],
        ("--epochs",),
        code=2,
    ),
    Case("cli-bad-device", lambda t: ["train", "--device", "tpu"], ("tpu",), code=2),
    Case("cli-not-a-number", lambda t: ["train", "--lr", "fast"], ("--lr",), code=2),
    Case(
        "cli-resume-missing",
        lambda t: ["train", "--resume", str(t / "norun"), "--offline"],
        ("norun",),
    ),
    Case("gen-missing-run", lambda t: ["generate", "--run", str(t / "norun")], ("norun",)),
    Case("embed-missing-run", lambda t: ["embed", "--run", str(t / "norun")], ("norun",)),
    Case("tui-missing-run", lambda t: ["tui", str(t / "norun")], ("norun",)),
]


def _tar_of_folder(tmp: Path) -> bytes:
    folder = _notmnist_folder(tmp / "src")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname="notMNIST_small")
    return buf.getvalue()


# ---- cases that need a trained run. ``build(run, tmp)`` may break a copy of the run directory;
# it returns the argv.
RunBuild = Callable[[Path, Path], list[str]]


def _broken_ckpt(mutate: Callable[[bytes], bytes]) -> RunBuild:
    def build(run: Path, tmp: Path) -> list[str]:
        copy = tmp / "run"
        shutil.copytree(run, copy)
        ckpt = copy / "latest.ckpt"
        ckpt.write_bytes(mutate(ckpt.read_bytes()))
        return ["generate", "--checkpoint", str(ckpt), "--out", str(tmp / "g.png")]

    return build


def _header_edit(edit: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def mutate(raw: bytes) -> bytes:
        head, _, payload = raw.partition(b"\n")
        header = json.loads(head)
        edit(header)
        # Re-seal: these cases model a file written that way, not a corrupted one.
        header.pop(header_mod.DIGEST_KEY, None)
        header[header_mod.DIGEST_KEY] = header_mod.digest(header)
        return json.dumps(header).encode() + b"\n" + payload

    return mutate


def _other_arch(header: dict) -> None:
    header["config"]["model"]["sizes"] = [784, 64, 2]


def _future(header: dict) -> None:
    header["format_version"] = 99


def _on_run(*args: str) -> RunBuild:
    return lambda run, tmp: [args[0], "--run", str(run), *args[1:], "--out", str(tmp / "o.png")]


RUN_CASES: list[tuple[str, RunBuild, tuple[str, ...], int]] = [
    ("ckpt-truncated", _broken_ckpt(lambda b: b[: len(b) - 1000]), ("truncated",), 1),
    ("ckpt-empty", _broken_ckpt(lambda b: b""), ("checkpoint",), 1),
    (
        "ckpt-header-not-json",
        _broken_ckpt(lambda b: b"{not json" + b[b.index(b"\n") :]),
        ("json",),
        1,
    ),
    ("ckpt-random-bytes", _broken_ckpt(lambda b: os.urandom(4096)), ("checkpoint",), 1),
    ("ckpt-future-version", _broken_ckpt(_header_edit(_future)), ("upgrade",), 1),
    ("ckpt-other-architecture", _broken_ckpt(_header_edit(_other_arch)), ("architecture",), 1),
    (
        "ckpt-header-edited-unsealed",
        _broken_ckpt(lambda b: b.replace(b'"epoch": 1', b'"epoch": 0', 1)),
        ("damaged",),
        1,
    ),
    (
        "ckpt-flipped-byte",
        _broken_ckpt(lambda b: b[:-10] + bytes([b[-10] ^ 1]) + b[-9:]),
        ("damaged",),
        1,
    ),
    ("gen-step-zero", _on_run("generate", "--range", "-1", "1", "--step", "0"), ("step",), 1),
    ("gen-range-reversed", _on_run("generate", "--range", "1", "-1", "--step", "0.5"), ("low",), 1),
    ("gen-between-out-of-range", _on_run("generate", "--between", "0", "999999"), ("999999",), 1),
    ("recon-n-too-large", _on_run("reconstruct", "--n", "999999"), ("999999",), 1),
    ("tsne-n-too-large", _on_run("tsne", "--n", "999999"), ("999999",), 1),
    (
        "cli-resume-checkpoint-file",
        lambda run, tmp: ["train", "--resume", str(run / "best.ckpt")],
        ("--resume",),
        2,
    ),
    ("embed-unknown-split", _on_run("embed", "--split", "holdout"), ("holdout",), 2),
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_mnist_dir: Path) -> Path:
    """One epoch of training on the tiny MNIST-format set: a real, finished run directory."""
    run = tmp_path_factory.mktemp("rel") / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            str(tiny_mnist_dir / "mnist"),
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--run-dir",
            str(run),
            "--quiet",
            "--offline",
        ],
    )
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.parametrize("case", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_bad_input_on_a_run_fails_cleanly(case, tiny_run: Path, tmp_path: Path, monkeypatch):
    _, build, words, code = case
    monkeypatch.chdir(tmp_path)
    argv = build(tiny_run, tmp_path)
    before_run, before_tmp = _snapshot(tiny_run), _snapshot(tmp_path)
    result = runner.invoke(app, argv)
    _check_clean_failure(result, code, words)
    assert _snapshot(tiny_run) == before_run, "the failed command changed the run directory"
    assert _snapshot(tmp_path) == before_tmp, "the failed command changed or left files"


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = "dir"
    return out


def _check_clean_failure(result, code: int, words: tuple[str, ...]) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    # Only SystemExit may end the command: anything else would have been a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    err = result.stderr
    assert "Traceback" not in result.output
    if code == 1:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        error_lines = [ln for ln in lines if ln.startswith("error:")]
        assert len(error_lines) == 1, err
        for word in words:
            assert word.lower() in error_lines[0].lower(), (word, error_lines[0])
    else:
        for word in words:
            assert word.lower() in err.lower(), (word, err)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_cleanly(case: Case, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, argv)
    _check_clean_failure(result, case.code, case.words)
    assert _snapshot(tmp_path) == before, "the failed command changed or left files"
    assert not (tmp_path / "PWNED").exists()


def test_case_count_matches_docs():
    """docs/reliability.md lists every case id once; at least 40 in all with the run cases."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
    text = doc.read_text()
    ids = [c.id for c in CASES] + [c[0] for c in RUN_CASES]
    assert len(ids) == len(set(ids)) >= 40
    missing = [i for i in ids if f"`{i}`" not in text]
    assert not missing, missing
