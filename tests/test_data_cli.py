"""``aecli data list | download | show`` through the real CLI (typer's CliRunner, in-process).

Checks what a user sees: exit status, exactly one JSON object on stdout with ``--json``, notices
on stderr, the figure written, and for every bad input one ``error:`` line naming the file,
exit status 1, no traceback.
"""

from __future__ import annotations

import gzip
import json
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import png_bytes, tiny_letter_members, write_png_tar
from typer.testing import CliRunner

from aecli import data as D
from aecli.cli.app import app
from aecli.data import fetch

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok_json(*args) -> dict:
    r = invoke(*args, "--json")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)  # exactly one JSON object: json.loads rejects anything else


def fails_one_line(*args, code: int = 1) -> str:
    r = invoke(*args)
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and r.stdout == ""
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


# =========================================================================== list


def test_list_finds_full_mnist_and_notmnist_small(shared_data):
    out = ok_json("data", "list", "--data-dir", shared_data)
    ds = out["datasets"]
    assert ds["mnist"]["origin"] == "data-dir"
    assert ds["mnist"]["splits"] == {"train": 55_000, "validation": 5_000, "test": 10_000}
    assert ds["notmnist"]["origin"] == "data-dir"
    assert ds["notmnist"]["files"][0].endswith("notMNIST_small.tar.gz")
    assert sum(ds["notmnist"]["splits"].values()) == 18_724 and ds["notmnist"]["skipped"] == 2
    assert ds["letters"]["origin"] == "generated"
    assert out["cache_dir"] == str(D.cache_dir())


def test_list_table_for_people(shared_data):
    r = invoke("data", "list", "--data-dir", shared_data)
    assert r.exit_code == 0, r.stderr
    assert "55,000" in r.stdout and "notMNIST_small.tar.gz" in r.stdout
    assert f"cache: {D.cache_dir()}" in r.stdout
    assert "also present, not used: notMNIST_small.npz" in r.stdout


def test_list_offline_shows_the_embedded_defaults():
    out = ok_json("data", "list", "--offline")
    ds = out["datasets"]
    assert ds["mnist"]["origin"] == "embedded" and ds["mnist"]["splits"]["train"] == 4000
    assert ds["notmnist"]["origin"] == "embedded" and ds["notmnist"]["name"] == "letters"


def test_list_online_never_downloads(monkeypatch):
    monkeypatch.delenv("AECLI_OFFLINE")
    monkeypatch.setattr(fetch, "http_downloader", lambda bar: pytest.fail("list must not download"))
    out = ok_json("data", "list")
    assert out["datasets"]["mnist"]["origin"] == "download"
    assert out["datasets"]["mnist"]["expected"] is True
    assert "aecli data download mnist" in out["datasets"]["mnist"]["source"]


# =========================================================================== show


def test_show_writes_a_sample_sheet(tiny_mnist_dir, tmp_path):
    png = tmp_path / "figs" / "m.png"
    out = ok_json("data", "show", tiny_mnist_dir / "mnist", "--out", png, "--n", 30, "--seed", 3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out["out"] == str(png) and out["n"] == 30 and len(out["indices"]) == 30
    (summary,) = out["datasets"].values()
    assert summary["splits"] == {"train": 275, "validation": 25, "test": 100}
    assert not list(png.parent.glob("*.tmp"))


def test_show_letters_split_and_plain_output(tmp_path):
    r = invoke(
        "data", "show", "letters:20", "--split", "test", "--n", 16, "--out", tmp_path / "l.png"
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "l.png")
    assert "letters: using" in r.stderr


def test_show_real_mnist(shared_data, tmp_path):
    r = invoke("data", "show", "mnist", "--data-dir", shared_data, "--out", tmp_path / "m.png")
    assert r.exit_code == 0, r.stderr
    assert "sha256 verified; 55,000 train / 5,000 validation / 10,000 test" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--split", "valid"),
        ("--n", "0"),
        ("--n", "401"),
        ("--out", "sheet.txt"),
    ],
    ids=["split", "n-zero", "n-too-many", "suffix"],
)
def test_show_usage_errors_exit_2(args, tmp_path):
    argv = ["data", "show", "letters:10", "--out", tmp_path / "s.png", *args]
    r = invoke(*argv)
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "s.png").exists()


# =========================================================================== download


def test_download_letters_and_unknown_names():
    out = ok_json("data", "download", "letters")
    assert out["datasets"]["letters"]["action"] == "generated"
    r = invoke("data", "download", "cifar10")
    assert r.exit_code == 2 and "cifar10" in r.stderr


def test_download_offline_fails_with_one_line():
    line = fails_one_line("data", "download", "mnist", "--offline")
    assert "cannot download mnist while offline" in line


def test_download_with_a_fake_mirror(monkeypatch, tiny_notmnist_tar, isolated_cache):
    import dataclasses

    blob = tiny_notmnist_tar.read_bytes()
    rf = D.RemoteFile("notMNIST_small.tar.gz", len(blob), None, ("https://a.example/",))
    entry = dataclasses.replace(D.REGISTRY["notmnist"], downloads=(rf,))
    monkeypatch.setitem(D.REGISTRY, "notmnist", entry)
    monkeypatch.delenv("AECLI_OFFLINE")

    def server(url, output_file, pooch, check_only=False):
        Path(output_file).write_bytes(blob)

    monkeypatch.setattr(fetch, "http_downloader", lambda bar: server)
    out = ok_json("data", "download", "notmnist")
    assert out["datasets"]["notmnist"]["action"] == "downloaded"
    assert (isolated_cache / "notmnist" / "notMNIST_small.tar.gz").read_bytes() == blob
    again = ok_json("data", "download", "notmnist")
    assert again["datasets"]["notmnist"]["action"] == "present"


def test_download_failure_is_one_line(monkeypatch):
    monkeypatch.delenv("AECLI_OFFLINE")

    def server(url, output_file, pooch, check_only=False):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(fetch, "http_downloader", lambda bar: server)
    line = fails_one_line("data", "download", "mnist")
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in line
    assert "ossci-datasets.s3.amazonaws.com" in line


# =========================================================================== bad input


def _tiny_copy(tiny_mnist_dir: Path, tmp: Path) -> Path:
    dest = tmp / "data"
    shutil.copytree(tiny_mnist_dir, dest)
    return dest


def _mnist_case(file: str, blob: Callable[[bytes], bytes] | None):
    def build(tiny: Path, tmp: Path) -> list:
        d = _tiny_copy(tiny, tmp)
        path = d / "mnist" / file
        if blob is None:
            path.unlink()
        else:
            path.write_bytes(blob(path.read_bytes()))
        return ["data", "show", "mnist", "--data-dir", d]

    return build


def _path_case(make: Callable[[Path], Path]):
    def build(tiny: Path, tmp: Path) -> list:
        return ["data", "show", make(tmp)]

    return build


def _idx(array, magic=None, dims=None) -> bytes:
    a = np.ascontiguousarray(array, dtype=np.uint8)
    dims = a.shape if dims is None else dims
    head = (magic or 0x0800 | len(dims)).to_bytes(4, "big")
    return gzip.compress(head + b"".join(int(d).to_bytes(4, "big") for d in dims) + a.tobytes())


def _npz(tmp: Path, **arrays) -> Path:
    np.savez(tmp / "bad.npz", **arrays)
    return tmp / "bad.npz"


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _evil_pickle(tmp: Path) -> Path:
    path = tmp / "notMNIST.pickle"
    path.write_bytes(pickle.dumps({"train_dataset": _Evil(tmp / "PWNED")}))
    return path


def _tar_with(tmp: Path, extra: dict[str, bytes]) -> Path:
    return write_png_tar(tmp / "notMNIST_small.tar.gz", {**tiny_letter_members(10), **extra})


BAD = {
    "truncated-gzip": (
        _mnist_case("train-images-idx3-ubyte.gz", lambda b: b[:300]),
        "train-images-idx3-ubyte.gz: truncated gzip",
    ),
    "wrong-magic": (
        _mnist_case(
            "t10k-images-idx3-ubyte.gz", lambda b: _idx(np.zeros((100, 28, 28)), magic=0x0801)
        ),
        "t10k-images-idx3-ubyte.gz: wrong IDX magic number",
    ),
    "lying-dims": (
        _mnist_case(
            "train-images-idx3-ubyte.gz",
            lambda b: _idx(np.zeros((300, 28, 28)), dims=(60000, 28, 28)),
        ),
        "train-images-idx3-ubyte.gz: the header says 60,000 x 28 x 28",
    ),
    "labels-out-of-range": (
        _mnist_case("t10k-labels-idx1-ubyte.gz", lambda b: _idx(np.full(100, 10))),
        "t10k-labels-idx1-ubyte.gz: label 10 at position 0 is out of range",
    ),
    "checksum-mismatch": (
        lambda tiny, tmp: ["data", "show", "mnist", "--data-dir", _tiny_copy(tiny, tmp)],
        "train-images-idx3-ubyte.gz: checksum mismatch",
    ),
    "missing-file": (
        _mnist_case("train-labels-idx1-ubyte.gz", None),
        "train-labels-idx1-ubyte.gz: missing file",
    ),
    "missing-data-dir": (
        lambda tiny, tmp: ["data", "list", "--data-dir", tmp / "nowhere"],
        "nowhere (--data-dir) does not exist",
    ),
    "missing-dataset-path": (
        _path_case(lambda tmp: tmp / "nowhere.tar.gz"),
        "nowhere.tar.gz: no such file or folder",
    ),
    "empty-folder": (
        _path_case(lambda tmp: (tmp / "emptyset").mkdir() or tmp / "emptyset"),
        "emptyset: empty: no PNG files",
    ),
    "wrong-size-png": (
        _path_case(
            lambda tmp: _tar_with(tmp, {"notMNIST_small/C/odd.png": png_bytes(np.zeros((30, 32)))})
        ),
        "notMNIST_small/C/odd.png: image is 32x30 pixels, expected 28x28",
    ),
    "truncated-tar": (
        _path_case(
            lambda tmp: (
                (tmp / "t.tar.gz").write_bytes(_tar_with(tmp, {}).read_bytes()[:2000])
                and tmp / "t.tar.gz"
            )
        ),
        "t.tar.gz: not a readable tar archive, or truncated",
    ),
    "npz-missing-keys": (
        _path_case(lambda tmp: _npz(tmp, pixels=np.zeros((5, 28, 28), np.uint8))),
        "bad.npz: missing array(s) images, labels",
    ),
    "npz-wrong-dtype": (
        _path_case(lambda tmp: _npz(tmp, images=np.zeros((5, 28, 28)), labels=np.zeros(5, int))),
        "bad.npz: 'images' has dtype float64, expected uint8",
    ),
    "pickle-runs-code": (
        _path_case(_evil_pickle),
        "notMNIST.pickle: refusing to load: the pickle asks for posix.system",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_line_naming_the_file_exit_1(case, tiny_mnist_dir, tmp_path):
    build, words = BAD[case]
    argv = build(tiny_mnist_dir, tmp_path)
    if argv[1] == "show":
        argv += ["--out", tmp_path / "sheet.png"]
    line = fails_one_line(*argv)
    assert words in line, line
    assert not (tmp_path / "sheet.png").exists()
    assert not (tmp_path / "PWNED").exists()


# =========================================================================== start-up


def test_data_commands_import_nothing_heavy():
    code = (
        "import sys, aecli.cli.data; "
        "print([m for m in ('numpy', 'matplotlib', 'PIL', 'pooch', 'jax', 'platformdirs', "
        "'aecli.data') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_data_help_lists_the_commands():
    r = invoke("data", "--help")
    assert r.exit_code == 0
    for command in ("list", "download", "show"):
        assert command in r.stdout
