"""The black-box harness of the hardening tests: run the real CLI and check what a user sees.

``test_hardening_out.py`` and ``test_hardening_run.py`` share it: ``aecli()`` runs
``python -m aecli ...`` in a subprocess under optional limits (address space, file size, a
closed stdout) and kills it on a hang; ``clean_failure`` is the promise for bad input (the
exit status, exactly one short ``error:`` line naming the problem, no traceback, no Python
warning); ``snapshot`` and ``node`` tell whether anything was written or replaced; ``base`` is
a short run on a tiny MNIST-format set, trained once per session and shared by the xdist
workers. Nothing here imports aecli: the command line and the file formats are what must hold.
A module that imports the fixtures ``base`` and ``dev_null_intact`` gets them (the second is
autouse there).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

PY = sys.executable
REPO = Path(__file__).resolve().parents[1]
AS_LIMIT = 3_000_000 * 1024  # ulimit -v 3000000 (KiB)
# For cases about something else that read the run's IDX data: room for today's 4 GiB
# read-buffer preallocation (a class-1 bug of its own), still a guard for the machine.
WORK_LIMIT = 6_000_000 * 1024
FAST = 30.0  # "at once", in seconds, on a loaded 2-core machine (the CLI start is ~2-8 s)
HANG = 45.0  # when a case that must end at once is killed (a hang is a failure, not a wait)
SHORT = 300  # an error line about a hostile value stays this short (characters)
LONG = 1000  # any error line, whatever it names (paths in pytest's folders are long)
BOMB = 3_500_000_000  # bytes a bomb inflates to: more than the 3 GB address-space limit


# ============================================================================ running the CLI


@dataclass
class Ran:
    """One finished (or killed) CLI run."""

    argv: list[str]
    rc: int
    out: str
    err: str
    seconds: float
    timed_out: bool

    def error_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.startswith("error:")]

    def __str__(self) -> str:
        err = self.err if len(self.err) < 4000 else self.err[:2000] + "\n...\n" + self.err[-2000:]
        out = self.out if len(self.out) < 1000 else self.out[:1000] + "..."
        return (
            f"argv={self.argv[3:]!r}\nrc={self.rc} timed_out={self.timed_out} "
            f"seconds={self.seconds:.1f}\n--- stderr\n{err}\n--- stdout\n{out}"
        )


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI run: CPU JAX, offline, wide columns, unbuffered, plus ``extra``."""
    env = dict(os.environ)
    env.update(
        {"JAX_PLATFORMS": "cpu", "AECLI_OFFLINE": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    )
    env.update(extra or {})
    return env


def aecli(
    args: Sequence[object],
    cwd: Path,
    *,
    timeout: float = 180,
    env: dict[str, str] | None = None,
    limit_as: int | None = None,
    fsize: int | None = None,
    close_stdout: bool = False,
    stdout: object = None,
    stdin: object = subprocess.DEVNULL,
    wrap: Sequence[str] = (),
) -> Ran:
    """Run ``python -m aecli ARGS`` in ``cwd`` (stdin /dev/null); killed after ``timeout``.

    ``limit_as`` is RLIMIT_AS (``ulimit -v``), ``fsize`` RLIMIT_FSIZE (a write past it fails
    with EFBIG, as on a full disk), ``close_stdout`` closes fd 1 (``>&-``), ``wrap`` runs the
    command under another one (strace).
    """
    argv = [*wrap, PY, "-m", "aecli", *map(str, args)]

    def limits() -> None:
        if limit_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if close_stdout:
            os.close(1)

    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.monotonic()
        p = subprocess.Popen(
            argv,
            cwd=cwd,
            env=cli_env(env),
            stdin=stdin,
            stdout=fo if stdout is None else stdout,
            stderr=fe,
            preexec_fn=limits,
            start_new_session=True,
        )
        try:
            rc, timed_out = p.wait(timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            rc, timed_out = p.wait(), True
        seconds = time.monotonic() - t0
        fo.seek(0)
        fe.seek(0)
        return Ran(
            argv,
            rc,
            fo.read().decode("utf-8", "replace"),
            fe.read().decode("utf-8", "replace"),
            seconds,
            timed_out,
        )


def clean_failure(
    r: Ran,
    *,
    code: int | tuple[int, ...] = 1,
    words: Sequence[str] = (),
    within: float | None = None,
    max_len: int = LONG,
) -> str:
    """The promise for bad input: status, one short ``error:`` line naming it, no traceback.

    ``words``: at least one of them must appear in the error line (case-insensitive).
    Returns the error line.
    """
    codes = code if isinstance(code, tuple) else (code,)
    assert not r.timed_out, f"did not end within its time limit\n{r}"
    assert r.rc in codes, f"exit status {r.rc}, expected {codes}\n{r}"
    assert "Traceback" not in r.err + r.out, str(r)
    assert "Warning:" not in r.err, f"a Python warning reached the user\n{r}"
    if r.rc == 1:
        lines = r.error_lines()
        assert len(lines) == 1, f"expected exactly one error: line\n{r}"
        line = lines[0]
        assert len(line) <= max_len, f"error line of {len(line)} characters: {line[:500]!r}"
        assert "\x00" not in line, repr(line[:500])
    else:  # a usage error (2): Typer's box, which names the option
        line = " ".join(r.err.split())
        assert len(r.err) <= 5 * max_len, f"usage error of {len(r.err)} characters"
    if words:
        assert any(w.lower() in line.lower() for w in words), (words, line)
    if within is not None:
        assert r.seconds < within, f"took {r.seconds:.1f} s, expected under {within} s\n{r}"
    return line


def ends_cleanly(r: Ran, *, within: float | None = None) -> None:
    """Success, or a clean failure: either way no traceback, no warning, no kill, no hang."""
    assert not r.timed_out, f"did not end within its time limit\n{r}"
    assert r.rc >= 0, f"killed by signal {-r.rc}\n{r}"
    if r.rc != 0:
        clean_failure(r, code=r.rc)
    assert "Traceback" not in r.err + r.out, str(r)
    assert "Warning:" not in r.err, f"a Python warning reached the user\n{r}"
    if within is not None:
        assert r.seconds < within, f"took {r.seconds:.1f} s, expected under {within} s\n{r}"


def snapshot(root: Path, *, skip: Sequence[str] = (".lock",)) -> dict[str, str]:
    """Every entry under ``root``: sha256 for regular files, the node type otherwise."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.name in skip:
            continue
        st = p.lstat()
        if stat.S_ISREG(st.st_mode):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif stat.S_ISDIR(st.st_mode):
            out[rel + "/"] = "dir"
        else:
            out[rel] = f"node {stat.S_IFMT(st.st_mode):o} ino {st.st_ino}"
    return out


def node(path: Path | str) -> tuple[int, int, int, int]:
    """What identifies a file-system node: type, inode, device numbers."""
    st = os.lstat(path)
    return (stat.S_IFMT(st.st_mode), st.st_ino, st.st_dev, st.st_rdev)


@pytest.fixture(autouse=True)
def dev_null_intact():
    """No case may touch the system's /dev/null (as root, a replacing write would)."""
    before = node("/dev/null")
    yield
    after = node("/dev/null")
    assert after == before and stat.S_ISCHR(after[0]), "/dev/null was replaced"


def idx(array: np.ndarray, dims: tuple[int, ...] | None = None, magic: int | None = None) -> bytes:
    """IDX bytes (MNIST's format) of a uint8 array; ``dims``/``magic`` may lie."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    dims = a.shape if dims is None else dims
    magic = (0x0800 | len(dims)) if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + a.tobytes()


def mnist_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable 28x28 images (a bar whose height is the class) and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 25, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        row = 3 + 2 * int(k) + int(rng.integers(-1, 2))
        images[i, row : row + 3, int(rng.integers(3, 7)) : int(rng.integers(21, 25))] = 230
    return images, labels


def write_mnist(folder: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """The four MNIST IDX .gz files (synthetic) in ``folder``; load it as a path."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, s in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = mnist_arrays(n, s)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(images), 6))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(labels), 6))
    return folder


# ============================================================================ the shared run


def _base_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the xdist workers of this session
    return root / "hardening-base"


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-epoch run on a tiny MNIST-format set, trained once per session.

    Layout: ``data/mnist`` (300 train, 100 test), ``run/`` (trained from this folder with
    ``--dataset data/mnist``, a relative path, so a copy of both works from any folder) and
    ``epoch2.ckpt`` (the same run's checkpoint after epoch 2). Read-only: copy it.
    """
    root = _base_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    with open(root.parent / "hardening-base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "ready").exists():
            write_mnist(root / "data" / "mnist")
            env = {"AECLI_CACHE_DIR": str(root / "cache")}
            common = ["--run-dir", "run", "--quiet"]
            first = ["train", "--dataset", "data/mnist", "--epochs", "2", "--batch-size", "32"]
            r = aecli([*first, *common], root, env=env)
            assert r.rc == 0, str(r)
            shutil.copy(root / "run" / "latest.ckpt", root / "epoch2.ckpt")
            r = aecli(["train", "--resume", "run", "--epochs", "3", "--quiet"], root, env=env)
            assert r.rc == 0, str(r)
            (root / "ready").touch()
    return root


def copy_base(base: Path, tmp: Path) -> Path:
    """Copy the shared run and its data into ``tmp`` (run from ``tmp``); returns ``tmp/run``."""
    shutil.copytree(base / "data", tmp / "data")
    shutil.copytree(base / "run", tmp / "run")
    return tmp / "run"
