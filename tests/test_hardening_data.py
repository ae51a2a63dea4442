"""Hostile and faulty data files, and downloads, through the real CLI (issue 10, sections 1 and 6).

Every read is bounded before it allocates: gzip bombs behind small IDX headers, lying IDX
headers, huge header claims, tar long-name and pax bombs, archives of a million tiny members,
``.npz`` members whose zip directory claims more than they hold, PNGs whose IHDR claims
billions of pixels, pickles whose shared references or arrays explode. Each ends in exit status
1, one ``error:`` line naming the problem, no traceback, and nothing written.

Downloads (a fake downloader, no sockets): a padded notMNIST archive of the right size is
refused and nothing is recorded as trusted; wrong class counts are refused; a size check is
never called a verification; with no mirror reachable one line says so.

The bombs are built as streams (zlib a chunk at a time, gzip members repeated), so the tests
stay small in memory; two cases run in a subprocess under ``ulimit -v 3000000``.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import pickle
import resource
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import png_bytes, tiny_letter_members, write_png_tar, write_tiny_mnist
from typer.testing import CliRunner

from aecli import data as D
from aecli.cli.app import app
from aecli.data import fetch
from aecli.data.formats import limits

runner = CliRunner()
AS_LIMIT = 3_000_000 * 1024  # ulimit -v 3000000 (KiB)
GB = 1 << 30
IDX_NAMES = [rf.name for rf in D.MNIST_FILES]


# ============================================================================ helpers


def fails_one_line(*args: object, code: int = 1) -> str:
    """Run the CLI; it must exit ``code`` with exactly one ``error:`` line and no traceback."""
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    assert len(errors[0]) < 1000, errors[0]
    return errors[0]


def show_fails(dataset: Path, tmp_path: Path, *words: str) -> str:
    """``aecli data show DATASET`` fails with one line naming the file and every word."""
    out = tmp_path / "sheet.png"
    line = fails_one_line("data", "show", dataset, "--out", out, "--json")
    for word in (dataset.name, *words):
        assert word in line, line
    assert not out.exists()
    return line


def idx_header(ndim: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(f">I{ndim}I", 0x0800 | ndim, *dims)


def gzip_zeros_members(total: int, chunk: int = 64 << 20) -> bytes:
    """gzip members that inflate to ``total`` zero bytes: one member, repeated (a few MB)."""
    member = gzip.compress(b"\0" * chunk, compresslevel=9, mtime=0)
    return member * (total // chunk)


def idx_folder(tmp_path: Path, name: str, blob: bytes) -> Path:
    """A tiny MNIST-format folder whose file ``name`` is replaced by ``blob``."""
    folder = write_tiny_mnist(tmp_path / "mnist")
    (folder / name).write_bytes(blob)
    return folder


def tar_header(name: bytes, size: int, kind: bytes) -> bytes:
    """One raw 512-byte ustar header block, checksum included (any size, any type)."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = f"{size:011o}\0".encode()
    block[136:148] = b"00000000000\0"
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)


def gz_stream(blocks, tmp: Path) -> Path:
    """Write the gzip of an iterable of byte chunks, compressed as they come."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(tmp, "wb") as f:
        for chunk in blocks:
            f.write(comp.compress(chunk))
        f.write(comp.flush())
    return tmp


def png_with_ihdr(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height greyscale pixels (its data is one tiny IDAT)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def run_limited(args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str, float]:
    """``python -m aecli ARGS`` under ``ulimit -v 3000000``: exit status, stderr, seconds."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    env = dict(os.environ, JAX_PLATFORMS="cpu", AECLI_OFFLINE="1", COLUMNS="200")
    started = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "aecli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
    )
    return r.returncode, r.stderr, time.perf_counter() - started


# ============================================================================ IDX


def test_idx_gzip_bomb_behind_a_one_image_header(tmp_path: Path):
    # 16-byte header claims one image; the stream inflates to 3.5 GB after it.
    bomb = gzip.compress(idx_header(3, (1, 28, 28)) + bytes(784)) + gzip_zeros_members(3_500 << 20)
    folder = idx_folder(tmp_path, "train-images-idx3-ubyte.gz", bomb)
    started = time.perf_counter()
    line = show_fails(folder, tmp_path, "train-images-idx3-ubyte.gz", "1 x 28 x 28", "more than")
    assert time.perf_counter() - started < 20, line  # never inflated in full


def test_idx_gzip_bomb_behind_a_plausible_header(tmp_path: Path):
    bomb = gzip.compress(idx_header(3, (300, 28, 28)) + bytes(300 * 784))
    bomb += gzip_zeros_members(1 << 30)
    folder = idx_folder(tmp_path, "train-images-idx3-ubyte.gz", bomb)
    show_fails(folder, tmp_path, "300 x 28 x 28 = 235,200 bytes", "more than")


def test_idx_labels_bomb(tmp_path: Path):
    bomb = gzip.compress(idx_header(1, (300,)) + bytes(300)) + gzip_zeros_members(1 << 30)
    folder = idx_folder(tmp_path, "train-labels-idx1-ubyte.gz", bomb)
    show_fails(folder, tmp_path, "train-labels-idx1-ubyte.gz", "300 = 300 bytes of labels")


@pytest.mark.parametrize(
    ("dims", "have", "words"),
    [
        ((400, 28, 28), 300, "but the file holds 235,200"),  # promises more than it holds
        ((200, 28, 28), 300, "but the file holds 235,200"),  # promises fewer
    ],
)
def test_idx_lying_header_uncompressed(tmp_path: Path, dims, have, words):
    folder = write_tiny_mnist(tmp_path / "mnist")
    (folder / "train-images-idx3-ubyte.gz").unlink()
    raw = folder / "train-images-idx3-ubyte"
    raw.write_bytes(idx_header(3, dims) + bytes(have * 784))
    show_fails(folder, tmp_path, "train-images-idx3-ubyte", words)


def test_idx_huge_claims_refused_from_the_header(tmp_path: Path):
    # 4 billion images in a 129-byte file: refused from the 16-byte header, no allocation.
    folder = write_tiny_mnist(tmp_path / "mnist")
    (folder / "train-images-idx3-ubyte.gz").unlink()
    (folder / "train-images-idx3-ubyte").write_bytes(idx_header(3, (2**32 - 1, 28, 28)) + b"x")
    show_fails(folder, tmp_path, "4,294,967,295 images", "more than aecli reads")


def test_idx_huge_claim_in_a_small_gzip(tmp_path: Path):
    # 1.9 million images promised by 100 compressed bytes: more than deflate can hold.
    blob = gzip.compress(idx_header(3, (1_900_000, 28, 28)) + bytes(1000))
    folder = idx_folder(tmp_path, "train-images-idx3-ubyte.gz", blob)
    show_fails(folder, tmp_path, "1,900,000 x 28 x 28", "compressed bytes can hold")


def test_idx_fifo_refused_at_once(tmp_path: Path):
    folder = write_tiny_mnist(tmp_path / "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    os.mkfifo(folder / "t10k-labels-idx1-ubyte.gz")
    show_fails(folder, tmp_path, "not a regular file")


@pytest.mark.slow
def test_idx_bomb_under_a_3gb_address_space(tmp_path: Path):
    """The 3.5 GB bomb under ``ulimit -v 3000000``: one line, no MemoryError, quickly."""
    bomb = gzip.compress(idx_header(3, (1, 28, 28)) + bytes(784)) + gzip_zeros_members(3_500 << 20)
    folder = idx_folder(tmp_path, "train-images-idx3-ubyte.gz", bomb)
    rc, err, seconds = run_limited(["data", "show", str(folder), "--out", "x.png"], tmp_path)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 1 and len(errors) == 1 and "Traceback" not in err, err
    assert "more than" in errors[0] and "MemoryError" not in err
    assert not (tmp_path / "x.png").exists() and seconds < 60


# ============================================================================ tar


@pytest.mark.parametrize(
    ("kind", "size", "words"),
    [
        (b"L", 4 * GB, "long-name or pax header claims 4,294,967,296 bytes"),
        (b"K", 2 * GB, "long-name or pax header claims 2,147,483,648 bytes"),
        (b"x", 1 * GB, "long-name or pax header claims 1,073,741,824 bytes"),
        (b"g", 8 * GB - 1, "long-name or pax header claims 8,589,934,591 bytes"),
    ],
)
def test_tar_extension_header_bombs(tmp_path: Path, kind: bytes, size: int, words: str):
    head = tar_header(b"././@LongLink", size, kind)
    archive = gz_stream([head, bytes(512 * 64)], tmp_path / "bomb.tar.gz")
    show_fails(archive, tmp_path, words)


def test_tar_chain_of_long_name_headers(tmp_path: Path):
    name = b"notMNIST_small/A/" + b"n" * 200 + b".png\0"
    block = tar_header(b"././@LongLink", len(name), b"L") + name + bytes(512 - len(name))
    archive = gz_stream([block * 50, bytes(1024)], tmp_path / "chain.tar.gz")
    show_fails(archive, tmp_path, "long-name or pax headers in a row")


def test_tar_member_claiming_8_gb(tmp_path: Path):
    head = tar_header(b"notMNIST_small/A/a.png", 8 * GB - 1, b"0")  # the most 11 octals hold
    archive = gz_stream([head, bytes(512 * 8)], tmp_path / "big.tar.gz")
    show_fails(archive, tmp_path, "claims 8,589,934,591 bytes")


def test_tar_of_a_million_tiny_members(tmp_path: Path):
    """10**6 members (a 512 MB tar, 1 MB compressed): refused early, in bounded time."""
    head = tar_header(b"notMNIST_small/A/readme.txt", 0, b"0")
    archive = gz_stream((head * 10_000 for _ in range(100)), tmp_path / "million.tar.gz")
    started = time.perf_counter()
    show_fails(archive, tmp_path, "more than 10,000 entries that are not PNG files")
    assert time.perf_counter() - started < 30


def test_tar_of_many_empty_pngs(tmp_path: Path):
    head = tar_header(b"notMNIST_small/A/empty.png", 0, b"0")
    archive = gz_stream([head * 20_000, bytes(1024)], tmp_path / "empties.tar.gz")
    show_fails(archive, tmp_path, "more than 1,000 unreadable PNG files")


def test_tar_member_count_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "MAX_TAR_MEMBERS", 50)
    archive = write_png_tar(tmp_path / "many.tar.gz", tiny_letter_members(6))
    show_fails(archive, tmp_path, "more than 50 members")


def test_tar_total_bytes_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "MAX_TAR_BYTES", 5_000)
    archive = write_png_tar(tmp_path / "bytes.tar.gz", tiny_letter_members(6))
    show_fails(archive, tmp_path, "more than 5,000 bytes in all")


def test_tar_time_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "MAX_DECODE_SECONDS", -1.0)
    archive = write_png_tar(tmp_path / "slow.tar.gz", tiny_letter_members(2))
    show_fails(archive, tmp_path, "decoding took more than")


# ============================================================================ PNG


@pytest.mark.parametrize(("w", "h"), [(100_000, 100_000), (28, 2**31 - 1), (7_000, 7_000)])
def test_png_with_a_huge_ihdr_in_an_archive(tmp_path: Path, w: int, h: int):
    members = tiny_letter_members(2)
    members["notMNIST_small/B/huge.png"] = png_with_ihdr(w, h)
    archive = write_png_tar(tmp_path / "png.tar.gz", members)
    show_fails(archive, tmp_path, "huge.png", f"{w:,}x{h:,} pixels")


@pytest.mark.parametrize(("w", "h"), [(50_000, 50_000), (7_000, 7_000)])
def test_png_with_a_huge_ihdr_in_an_image_folder(tmp_path: Path, w: int, h: int):
    root = tmp_path / "glyphs"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        (root / cls / "ok.png").write_bytes(png_bytes(np.zeros((28, 28), np.uint8)))
    (root / "b" / "huge.png").write_bytes(png_with_ihdr(w, h))
    line = show_fails(root, tmp_path, "huge.png")
    assert "pixels" in line


# ============================================================================ npz


def _patch_declared_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size the zip directory (and local header) give ``member``."""
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(member).header_offset
    struct.pack_into("<I", blob, local + 22, size)
    end = blob.rfind(b"PK\x05\x06")
    (count,) = struct.unpack_from("<H", blob, end + 10)
    (at,) = struct.unpack_from("<I", blob, end + 16)
    for _ in range(count):
        n, m, k = struct.unpack_from("<HHH", blob, at + 28)
        if blob[at + 46 : at + 46 + n] == member.encode():
            struct.pack_into("<I", blob, at + 24, size)
        at += 46 + n + m + k
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_member_declaring_a_huge_size(tmp_path: Path, compressed: bool):
    path = tmp_path / "data.npz"
    save = np.savez_compressed if compressed else np.savez
    save(path, images=np.zeros((10, 28, 28), np.uint8), labels=np.arange(10))
    _patch_declared_size(path, "images.npy", 4_000_000_000)
    show_fails(path, tmp_path, "images.npy")


def test_npz_header_shape_contradicting_its_size(tmp_path: Path):
    path = tmp_path / "data.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)}
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images.npy", buf.getvalue() + bytes(784))
        z.writestr("labels.npy", _npy(np.zeros(1, np.int64)))
    show_fails(path, tmp_path, "'images' claims shape (1000000000, 28, 28)")


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_keras_npz_member_declaring_a_huge_size(tmp_path: Path):
    path = tmp_path / "mnist.npz"
    x, y = np.zeros((20, 28, 28), np.uint8), np.zeros(20, np.uint8)
    np.savez_compressed(path, x_train=x, y_train=y, x_test=x, y_test=y)
    _patch_declared_size(path, "x_train.npy", 3_900_000_000)
    show_fails(path, tmp_path, "x_train.npy")


# ============================================================================ pickle


def test_pickle_memo_bomb(tmp_path: Path):
    """60 levels of a list holding the one below twice: 2**60 paths in a few hundred bytes."""
    node: list = []
    for _ in range(60):
        node = [node, node]
    path = tmp_path / "notMNIST.pickle"
    path.write_bytes(pickle.dumps({"train_dataset": node, "train_labels": node}, protocol=2))
    assert path.stat().st_size < 12_000
    started = time.perf_counter()
    line = show_fails(path, tmp_path)
    assert "nesting too deep" in line or "objects" in line, line
    assert time.perf_counter() - started < 20


def test_pickle_with_too_many_objects(tmp_path: Path):
    path = tmp_path / "notMNIST.pickle"
    path.write_bytes(pickle.dumps({"train_dataset": [None] * 1_100_000}, protocol=2))
    show_fails(path, tmp_path, "more than 1,000,000 objects")


class _SharedArray:
    """Pickles as an ndarray rebuilt from one shared bytes object (memoised once in the file)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        state = (1, (len(self.raw),), np.dtype(np.uint8), False, self.raw)
        return (_reconstruct, (np.ndarray, (0,), b"b"), state)


def test_pickle_array_bytes_bomb(tmp_path: Path):
    """2,100 arrays of 1 MiB each from one shared MiB: 2.2 GB promised by a 1 MB file."""
    raw = bytes(1 << 20)
    path = tmp_path / "notMNIST.pickle"
    arrays = [_SharedArray(raw) for _ in range(2_100)]
    path.write_bytes(pickle.dumps({"train_dataset": arrays}, protocol=4))
    assert path.stat().st_size < 2 << 20
    show_fails(path, tmp_path, "arrays would hold more than 2,147,483,648 bytes")


def test_pickle_length_claim_beyond_the_file(tmp_path: Path):
    path = tmp_path / "notMNIST.pickle"
    path.write_bytes(b"\x80\x04" + b"\x8e" + struct.pack("<Q", 2**62) + b"abc")  # BINBYTES8
    show_fails(path, tmp_path, "not a readable pickle, or truncated", "4,611,686,018,427,387,904")


@pytest.mark.slow
def test_pickle_array_bytes_bomb_under_a_3gb_address_space(tmp_path: Path):
    raw = bytes(1 << 20)
    path = tmp_path / "notMNIST.pickle"
    arrays = [_SharedArray(raw) for _ in range(2_100)]
    path.write_bytes(pickle.dumps({"train_dataset": arrays}, protocol=4))
    rc, err, seconds = run_limited(["data", "show", str(path), "--out", "x.png"], tmp_path)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 1 and len(errors) == 1 and "Traceback" not in err, err
    assert "arrays would hold more than" in errors[0] and seconds < 60


# ============================================================================ downloads


def _tiny_notmnist(tmp_path: Path, per_class: int = 12) -> tuple[bytes, D.RemoteFile]:
    """A notMNIST-style archive and a registry file pinning its real content."""
    from aecli.data.formats.images import read_image_archive
    from aecli.data.verify import decoded_sha256

    path = write_png_tar(tmp_path / "src" / "notMNIST_small.tar.gz", tiny_letter_members(per_class))
    dec = read_image_archive(path)
    rf = D.RemoteFile(
        "notMNIST_small.tar.gz",
        path.stat().st_size,
        None,
        ("https://a.example/", "http://b.example/"),
        content_sha256=decoded_sha256(dec.images, dec.labels),
        class_counts=(per_class,) * 10,
    )
    return path.read_bytes(), rf


def _serve(monkeypatch: pytest.MonkeyPatch, routes: dict) -> list[str]:
    calls: list[str] = []

    def server(url, output_file, pooch, check_only=False):
        calls.append(url)
        answer = routes.get(url)
        if isinstance(answer, BaseException) or answer is None:
            import requests

            raise answer or requests.exceptions.ConnectionError(f"cannot reach {url}")
        Path(output_file).write_bytes(answer)

    monkeypatch.setattr(fetch, "http_downloader", lambda bar: server)
    monkeypatch.delenv("AECLI_OFFLINE")
    return calls


def _use(monkeypatch: pytest.MonkeyPatch, rf: D.RemoteFile, *, large: bool = False) -> None:
    field = "large_downloads" if large else "downloads"
    entry = dataclasses.replace(D.REGISTRY["notmnist"], **{field: (rf,)})
    monkeypatch.setitem(D.REGISTRY, "notmnist", entry)


def _nothing_trusted(cache: Path) -> None:
    folder = cache / "notmnist"
    assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())
    assert not list(cache.glob(".download-*"))
    assert not list(cache.glob("decoded/*"))


def test_padded_archive_of_the_right_size_is_refused(tmp_path, monkeypatch, isolated_cache):
    blob, rf = _tiny_notmnist(tmp_path, 12)
    small, _ = _tiny_notmnist(tmp_path / "other", 3)  # 30 images, padded to the right size
    padded = small + bytes(len(blob) - len(small))
    _use(monkeypatch, rf)
    calls = _serve(monkeypatch, {u: padded for u in rf.urls})
    r = runner.invoke(app, ["data", "download", "notmnist"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "30 decodable images" in errors[0], r.stderr
    assert "verified" not in r.output.replace("not verified", "")
    assert len(calls) == 2  # both mirrors tried, both refused
    _nothing_trusted(isolated_cache)


def test_wrong_class_counts_are_refused(tmp_path, monkeypatch, isolated_cache):
    blob, rf = _tiny_notmnist(tmp_path, 12)
    counts = (13, 11, 12, 12, 12, 12, 12, 12, 12, 12)  # same total, other letters
    _use(monkeypatch, dataclasses.replace(rf, class_counts=counts))
    _serve(monkeypatch, {u: blob for u in rf.urls})
    line = fails_one_line("data", "download", "notmnist")
    assert "A 12, B 12" in line and "13, 11, 12" in line
    _nothing_trusted(isolated_cache)


def test_other_content_with_the_right_counts_is_refused(tmp_path, monkeypatch, isolated_cache):
    blob, rf = _tiny_notmnist(tmp_path, 12)
    _use(monkeypatch, dataclasses.replace(rf, content_sha256="0" * 64))
    _serve(monkeypatch, {u: blob for u in rf.urls})
    line = fails_one_line("data", "download", "notmnist")
    assert "decoded images differ from the original" in line
    _nothing_trusted(isolated_cache)


def test_genuine_archive_is_verified_by_content_and_recorded(tmp_path, monkeypatch, isolated_cache):
    blob, rf = _tiny_notmnist(tmp_path, 12)
    _use(monkeypatch, rf)
    calls = _serve(monkeypatch, {rf.urls[0]: blob})
    r = runner.invoke(app, ["data", "download", "notmnist"])
    assert r.exit_code == 0, r.output
    assert calls == [rf.urls[0]]  # HTTPS first
    assert "pinned sha256 of its decoded images and labels" in r.stderr
    sidecar = isolated_cache / "notmnist" / "notMNIST_small.tar.gz.sha256"
    assert sidecar.is_file()
    assert list(isolated_cache.glob("decoded/notMNIST_small.tar.gz-*.npz"))  # decoded once


def test_counts_only_pin_never_says_verified(tmp_path, monkeypatch, isolated_cache):
    blob, rf = _tiny_notmnist(tmp_path, 12)
    large = dataclasses.replace(rf, name="notMNIST_large.tar.gz", content_sha256=None)
    _use(monkeypatch, large, large=True)
    _serve(monkeypatch, {u: blob for u in large.urls})
    r = runner.invoke(app, ["data", "download", "notmnist", "--large"])
    assert r.exit_code == 0, r.output
    assert "downloaded and checked against the known count" in r.stderr, r.stderr
    assert "verified" not in r.stderr


def test_size_only_download_never_says_verified(tmp_path, monkeypatch, isolated_cache):
    blob, rf = _tiny_notmnist(tmp_path, 12)
    _use(monkeypatch, dataclasses.replace(rf, content_sha256=None, class_counts=None))
    _serve(monkeypatch, {u: blob for u in rf.urls})
    r = runner.invoke(app, ["data", "download", "notmnist"])
    assert r.exit_code == 0, r.output
    assert "size only" in r.stderr and "verified" not in r.stderr, r.stderr
    assert not (isolated_cache / "notmnist" / "notMNIST_small.tar.gz.sha256").exists()


def test_offline_is_one_line(tmp_path, monkeypatch, isolated_cache):
    calls = _serve(monkeypatch, {})  # every mirror unreachable
    out = tmp_path / "sheet.png"
    r = runner.invoke(app, ["data", "show", "notmnist", "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("offline: no mirror reachable, using the embedded default")
    assert len(calls) == 2 and out.is_file()
    _nothing_trusted(isolated_cache)


def test_offline_download_is_one_error_line(monkeypatch, isolated_cache):
    _serve(monkeypatch, {})
    line = fails_one_line("data", "download", "mnist")
    assert line.startswith("error: offline: no mirror reachable")
    assert not (isolated_cache / "mnist").exists()


def test_shared_notmnist_npz_matches_the_pinned_content(shared_data, tmp_path):
    folder = tmp_path / "data" / "notmnist"
    folder.mkdir(parents=True)
    (folder / "notMNIST_small.npz").symlink_to(shared_data / "notmnist" / "notMNIST_small.npz")
    r = runner.invoke(app, ["data", "list", "--data-dir", str(tmp_path / "data"), "--json"])
    assert r.exit_code == 0, r.output
    source = json.loads(r.stdout)["datasets"]["notmnist"]["source"]
    assert "per-class counts and content sha256 verified" in source


@pytest.mark.slow
def test_shared_notmnist_archive_matches_the_pinned_content(shared_data):
    r = runner.invoke(app, ["data", "list", "--data-dir", str(shared_data), "--json"])
    assert r.exit_code == 0, r.output
    source = json.loads(r.stdout)["datasets"]["notmnist"]["source"]
    assert "notMNIST_small.tar.gz" in source and "content sha256 verified" in source


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz", "data.npz", "a.tar.gz", "x.pickle"])
def test_dataset_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path, name: str):
    fifo = tmp_path / name
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    show_fails(fifo, tmp_path, "not a regular file")
