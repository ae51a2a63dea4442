"""Issue 10, sections 3, 5 and 7, black box: writes touch only what they own, work bounded by
the arguments, output streams and terminals.

Every case runs the real CLI as a user would, ``python -m aecli ...`` in a subprocess, on a
tiny MNIST-format set and a short run trained once per session, and checks what the user
would see: the exit status, exactly one ``error:`` line (short, naming the problem), no
traceback, no Python warning, the work bounded in time and memory, and nothing written,
replaced or left behind that the command does not own. The cases are those written before
the fix (the colleague's ``test_hardening.py``) plus held-out ones of the same classes.
Nothing here imports aecli: the command line and the file formats are what must hold.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
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


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
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
            env=_env(env),
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


def show_bounded(dataset: object, tmp: Path) -> Ran:
    """``aecli data show DATASET --out tmp/s.png`` under ``ulimit -v 3000000``, killed on a hang."""
    return aecli(
        ["data", "show", dataset, "--out", tmp / "s.png"], tmp, limit_as=AS_LIMIT, timeout=HANG
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
    return root / "hardening-out-base"


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-epoch run on a tiny MNIST-format set, trained once per session.

    Layout: ``data/mnist`` (300 train, 100 test), ``run/`` (trained from this folder with
    ``--dataset data/mnist``, a relative path, so a copy of both works from any folder) and
    ``epoch2.ckpt`` (the same run's checkpoint after epoch 2). Read-only: copy it.
    """
    root = _base_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    with open(root.parent / "hardening-out-base.lock", "w") as lock:
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


# ============================================================================ 3. writes


def _out_cases(tmp: Path, run: Path | None, out: Path) -> list[object]:
    if run is None:
        return ["data", "show", "data/mnist", "--out", out]
    return ["generate", "--run", run, "--out", out]


@pytest.mark.parametrize("command", ["generate", "data-show"])
def test_out_is_a_fifo(base: Path, tmp_path: Path, command: str):
    """``--out`` naming a FIFO: the FIFO is never replaced by a PNG; the command ends."""
    run = copy_base(base, tmp_path) if command == "generate" else None
    if run is None:
        write_mnist(tmp_path / "data" / "mnist", 120, 40)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    before = node(fifo)
    r = aecli(_out_cases(tmp_path, run, fifo), tmp_path, timeout=HANG)
    assert node(fifo) == before, "the FIFO was replaced"
    clean_failure(r, words=("pipe.png", "--out"))


def test_out_is_a_character_device(base: Path, tmp_path: Path):
    """``--out`` naming a character device (a private copy of /dev/null): never replaced."""
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    run = copy_base(base, tmp_path)
    dev = tmp_path / "null.png"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    before = node(dev)
    r = aecli(_out_cases(tmp_path, run, dev), tmp_path, timeout=HANG)
    assert node(dev) == before, "the device node was replaced"
    clean_failure(r, words=("null.png", "--out"))


def test_out_dev_null_left_intact(tmp_path: Path):
    """``--out /dev/null``: /dev/null stays the same character device.

    As root, a failing aecli would replace the system's /dev/null, so the command runs in a
    private mount namespace whose /dev is a fresh tmpfs (the host's /dev is never at risk);
    as another user it runs directly (replacing /dev/null is then impossible anyway).
    """
    write_mnist(tmp_path / "data" / "mnist", 120, 40)
    args = ["data", "show", "data/mnist", "--out", "/dev/null"]
    if os.geteuid() != 0:
        before = node("/dev/null")
        r = aecli(args, tmp_path)
        assert node("/dev/null") == before
        ends_cleanly(r)
        return
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to protect the host's /dev/null")
    script = (
        "mount -t tmpfs none /dev || exit 97; "
        "mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; "
        "mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/random c 1 8; mkdir /dev/shm; "
        'stat -c "BEFORE %i %F" /dev/null; "$@" >/dev/tty-less 2>&1; echo "RC $?"; '
        'cat /dev/tty-less; stat -c "AFTER %i %F" /dev/null'
    )
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", PY, "-m", "aecli", *args],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode == 97 or "BEFORE" not in r.stdout:
        pytest.skip(f"cannot mount a private /dev here: {r.stderr.strip()[:200]}")
    lines = r.stdout.splitlines()
    before = next(ln for ln in lines if ln.startswith("BEFORE")).split(" ", 1)[1]
    after = next(ln for ln in lines if ln.startswith("AFTER")).split(" ", 1)[1]
    assert after == before and after.endswith("character special file"), r.stdout
    assert "Traceback" not in r.stdout, r.stdout


@pytest.mark.parametrize(
    "command",
    ["generate", "embed", "reconstruct", "data-show"],
)
def test_out_with_a_bad_extension_refused_before_work(base: Path, tmp_path: Path, command: str):
    """``--out x.txt``: refused before any work, one error line, nothing written or left."""
    run = copy_base(base, tmp_path)
    out = tmp_path / "x.txt"
    if command == "data-show":
        argv: list[object] = ["data", "show", "data/mnist", "--out", out]
    else:
        argv = [command, "--run", run, "--out", out]
    before = snapshot(tmp_path)
    r = aecli(argv, tmp_path)
    clean_failure(r, code=(1, 2), words=("x.txt", ".txt", "--out"), within=FAST)
    assert snapshot(tmp_path) == before, "files were written or left behind"


def test_out_parent_is_a_file_refused_before_work(base: Path, tmp_path: Path):
    """``--out afile/e.png`` where ``afile`` is a regular file: refused, nothing left."""
    run = copy_base(base, tmp_path)
    (tmp_path / "afile").write_text("not a folder\n")
    before = snapshot(tmp_path)
    r = aecli(["embed", "--run", run, "--out", tmp_path / "afile" / "e.png"], tmp_path)
    clean_failure(r, code=(1, 2), words=("afile", "--out"), within=FAST)
    assert snapshot(tmp_path) == before


def test_out_checked_before_the_checkpoint_is_read(base: Path, tmp_path: Path):
    """Order: with ``--out x.txt`` and a truncated checkpoint, the error is about ``--out``:
    the output path is checked before the work (reading the checkpoint) starts."""
    run = copy_base(base, tmp_path)
    ck = run / "latest.ckpt"
    ck.write_bytes(ck.read_bytes()[:-1000])
    r = aecli(["generate", "--run", run, "--out", tmp_path / "x.txt"], tmp_path)
    clean_failure(r, code=(1, 2), words=("x.txt", ".txt", "--out"), within=FAST)


def _fsize_failure(base: Path, tmp: Path, argv_tail: Sequence[str], outputs: Sequence[str]):
    """Run once (epoch 3), then again on the epoch-2 checkpoint with file writes capped at
    20 kB (a full disk): the second run fails, and the outputs are all from the first run."""
    run = copy_base(base, tmp)
    ok = aecli([argv_tail[0], "--run", run, *argv_tail[1:]], tmp, timeout=240)
    assert ok.rc == 0, str(ok)
    made = {
        p.name: p.read_bytes() for p in run.iterdir() if any(p.name.startswith(o) for o in outputs)
    }
    assert all(any(n.startswith(o) for n in made) for o in outputs), (sorted(made), outputs)
    assert len(made) >= 2, f"expected a data file and its figure: {sorted(made)}"
    before_names = {p.name for p in run.iterdir()}
    shutil.copy(base / "epoch2.ckpt", run / "latest.ckpt")
    r = aecli([argv_tail[0], "--run", run, *argv_tail[1:]], tmp, fsize=20_000, timeout=240)
    return run, made, before_names, r


@pytest.mark.slow
def test_embed_outputs_committed_together(base: Path, tmp_path: Path):
    """A full disk during ``embed``: codes.npz and its scatter stay the earlier pair (same
    epoch), and no ``codes-*``/temporary file is left."""
    run, made, names, r = _fsize_failure(base, tmp_path, ["embed"], ["codes", "embed"])
    clean_failure(r)
    now = {p.name: p.read_bytes() for p in run.iterdir() if p.name in made}
    epochs = {
        name: int(np.load(io.BytesIO(data))["epoch"])
        for name, data in now.items()
        if name.endswith(".npz")
    }
    assert now == made, f"outputs of different runs side by side (codes epochs {epochs})"
    left = sorted({p.name for p in run.iterdir()} - names)
    assert not left, f"left behind: {left}"


@pytest.mark.slow
def test_tsne_outputs_committed_together(base: Path, tmp_path: Path):
    """The same for ``tsne``: tsne.npz and its PNG are from one run, no temporary left."""
    run, made, names, r = _fsize_failure(
        base, tmp_path, ["tsne", "--n", "100", "--engine", "sklearn"], ["tsne"]
    )
    clean_failure(r)
    now = {p.name: p.read_bytes() for p in run.iterdir() if p.name in made}
    assert now == made, "tsne.npz and its PNG are from different runs"
    assert not sorted({p.name for p in run.iterdir()} - names)


def _kill_at_first_fsync(run: Path, tmp: Path, argv: Sequence[object]) -> set[str]:
    """Run a latent command under strace, SIGKILLed at its first fsync (mid-write)."""
    if shutil.which("strace") is None:
        pytest.skip("needs strace to kill a command in the middle of a write")
    wrap = [
        "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync,fdatasync",
        "-e", "inject=fsync,fdatasync:signal=KILL:when=1",
    ]  # fmt: skip
    # Fill the shared caches first (the decoded-grid cache is fsynced too), so that the first
    # fsync of the killed command is its own write into the run directory.
    warm = tmp / "warm-up-run"
    shutil.copytree(run, warm)
    aecli([a if a != run else warm for a in argv], tmp, timeout=240)
    shutil.rmtree(warm)
    names = {p.name for p in run.iterdir()}
    r = aecli(argv, tmp, wrap=wrap, timeout=240)
    if r.rc == 0 or "ptrace" in r.err:
        pytest.skip(f"strace could not kill the command here: {r.err[-300:]}")
    debris = {p.name for p in run.iterdir()} - names
    assert debris, f"the kill left nothing behind to clean up\n{r}"
    return debris


@pytest.mark.slow
@pytest.mark.parametrize(
    "killed,next_command",
    [("embed", "generate"), ("generate", "reconstruct")],
    ids=["embed-then-generate", "generate-then-reconstruct"],
)
def test_temp_files_of_a_killed_command_cleaned_by_the_next(
    base: Path, tmp_path: Path, killed: str, next_command: str
):
    """A latent command killed mid-write leaves a temporary file; the next latent command in
    that run directory (not only ``train``) removes it."""
    run = copy_base(base, tmp_path)
    debris = _kill_at_first_fsync(run, tmp_path, [killed, "--run", run])
    r = aecli([next_command, "--run", run], tmp_path)
    assert r.rc == 0, str(r)
    left = debris & {p.name for p in run.iterdir()}
    assert not left, f"temporary files of the killed {killed} survive {next_command}: {left}"


# ============================================================================ 5. bounded work


_GRID_CASES: dict[str, list[object]] = {
    "step-1e-9": ["generate", "--step", "1e-9"],
    "step-1e-7-range": ["generate", "--range", "-1", "1", "--step", "1e-7"],
    "range-1e308": ["generate", "--range", "-1e308", "1e308"],
    "range-1e308-step": ["generate", "--range", "-1e308", "1e308", "--step", "1"],
    "between-steps-1e9": ["generate", "--between", "0", "1", "--steps", "1000000000"],
    "size-1e6": ["generate", "--size", "1000000"],
    "tsne-jobs-0": ["tsne", "--jobs", "0"],
}


@pytest.mark.parametrize("case", list(_GRID_CASES), ids=list(_GRID_CASES))
def test_work_is_bounded_by_the_arguments(base: Path, tmp_path: Path, case: str):
    """Arguments asking for endless work: refused at once with a limit a person understands."""
    run = copy_base(base, tmp_path)
    command, *rest = _GRID_CASES[case]
    reads_data = command == "tsne" or "--between" in rest
    before = snapshot(tmp_path)
    r = aecli(
        [command, "--run", run, *rest, "--out", tmp_path / "o.png"],
        tmp_path,
        limit_as=WORK_LIMIT if reads_data else AS_LIMIT,
        timeout=HANG,
    )
    flag = next(str(a) for a in rest if str(a).startswith("--"))
    clean_failure(r, words=(flag, flag.lstrip("-")), within=FAST)
    assert snapshot(tmp_path) == before


def test_range_1e308_with_a_small_grid(base: Path, tmp_path: Path):
    """``--range -1e308 1e308 --size 5``: 25 codes, bounded; decoded or refused, cleanly."""
    run = copy_base(base, tmp_path)
    argv = ["generate", "--run", run, "--range", "-1e308", "1e308", "--size", "5"]
    r = aecli([*argv, "--out", tmp_path / "o.png"], tmp_path, limit_as=AS_LIMIT, timeout=HANG)
    ends_cleanly(r, within=FAST)


@pytest.mark.slow
def test_reconstruct_n_3000_is_bounded(base: Path, tmp_path: Path):
    """``reconstruct --n 3000`` on a 3,000-image test set: refused, or done in bounded time."""
    run = copy_base(base, tmp_path)
    write_mnist(tmp_path / "big" / "mnist", 300, 3000, seed=3)
    argv = ["reconstruct", "--run", run, "--dataset", "big/mnist", "--n", "3000"]
    r = aecli([*argv, "--out", tmp_path / "r.png"], tmp_path, limit_as=WORK_LIMIT, timeout=75)
    ends_cleanly(r, within=60)
    if r.rc != 0:
        assert "--n" in r.error_lines()[0] or "3000" in r.error_lines()[0].replace(",", "")


@pytest.mark.parametrize(
    "sizes",
    ["[784, 100000000, 2]", "[784, 60000, 60000, 2]", "[784, 128, 4000000000, 2]"],
    ids=["1e8-hidden", "3.6e9-parameters", "4e9-hidden"],
)
def test_model_too_large_for_memory_refused(tmp_path: Path, sizes: str):
    """A config whose model cannot fit: refused with a clear line (no SIGABRT), no files left."""
    write_mnist(tmp_path / "data" / "mnist", 120, 40)
    cfg = tmp_path / "huge.toml"
    cfg.write_text(
        f'[model]\nsizes = {sizes}\n[data]\ndataset = "data/mnist"\n'
        "[train]\nepochs = 1\nbatch_size = 32\n"
    )
    before = snapshot(tmp_path)
    r = aecli(
        ["train", cfg, "--run-dir", tmp_path / "run"], tmp_path, limit_as=WORK_LIMIT, timeout=90
    )
    assert r.rc >= 0, f"killed by signal {-r.rc} (SIGABRT is 6)\n{r}"
    clean_failure(r, words=("sizes", "model", "memory", "parameters"), within=60)
    assert snapshot(tmp_path) == before, "files were left behind"


# ============================================================================ 7. output streams


def test_json_with_stdout_closed(base: Path, tmp_path: Path):
    """``generate --json >&-``: ends cleanly (no traceback, no 'Exception ignored')."""
    run = copy_base(base, tmp_path)
    argv = ["generate", "--run", run, "--json", "--out", tmp_path / "g.png"]
    r = aecli(argv, tmp_path, close_stdout=True)
    assert "Exception ignored" not in r.err, str(r)
    ends_cleanly(r)


@pytest.mark.parametrize("command", ["data-list", "generate"])
def test_json_to_a_full_stdout(base: Path, tmp_path: Path, command: str):
    """``--json > /dev/full`` (every write fails with ENOSPC): one error line, exit 1."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    if command == "data-list":
        argv: list[object] = ["data", "list", "--json"]
    else:
        argv = [
            "generate",
            "--run",
            copy_base(base, tmp_path),
            "--json",
            "--out",
            tmp_path / "g.png",
        ]
    with open("/dev/full", "wb") as full:
        r = aecli(argv, tmp_path, stdout=full)
    assert "Exception ignored" not in r.err, str(r)
    clean_failure(r)


def _piped_to_head(argv: Sequence[object], cwd: Path) -> tuple[int, str, str]:
    """``aecli ARGV | head -1``: aecli's status, its stderr, what head printed."""
    with tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(
            [PY, "-m", "aecli", *map(str, argv)],
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=fe,
            start_new_session=True,
        )
        head = subprocess.run(["head", "-1"], stdin=p.stdout, capture_output=True, timeout=180)
        p.stdout.close()
        try:
            rc = p.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            pytest.fail("aecli did not end after its pipe closed")
        fe.seek(0)
        return rc, fe.read().decode("utf-8", "replace"), head.stdout.decode("utf-8", "replace")


def _quiet_end(rc: int, err: str) -> None:
    """How a command whose reader went away must end: quietly, or with one error line."""
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert rc in (0, 1, 141), (rc, err)
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) <= 1, err


@pytest.mark.parametrize("command", ["generate", "reconstruct"])
def test_ascii_piped_to_head(base: Path, tmp_path: Path, command: str):
    """``aecli ... --ascii | head -1``: the reader goes away early; aecli ends quietly."""
    run = copy_base(base, tmp_path)
    argv: list[object] = [command, "--run", run, "--ascii", "--out", tmp_path / "o.png"]
    if command == "generate":
        argv += ["--size", "12"]
    rc, err, shown = _piped_to_head(argv, tmp_path)
    assert shown.strip(), "head printed nothing"
    _quiet_end(rc, err)


@pytest.mark.parametrize("command", ["data-list", "generate"])
def test_json_into_a_pipe_without_reader(base: Path, tmp_path: Path, command: str):
    """``--json`` into a pipe whose reader has already gone (EPIPE on the first write)."""
    argv: list[object] = ["data", "list", "--json"]
    if command == "generate":
        run = copy_base(base, tmp_path)
        argv = ["generate", "--run", run, "--json", "--out", tmp_path / "g.png"]
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    with os.fdopen(w_fd, "wb") as w:
        r = aecli(argv, tmp_path, stdout=w)
    assert not r.timed_out and r.rc >= 0, str(r)
    _quiet_end(r.rc, r.err)


_ASCII_ENV = {"PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"}


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--between", "0", "1", "--ascii"],
        ["generate", "--size", "6", "--ascii"],
        ["reconstruct", "--ascii", "--n", "4"],
    ],
    ids=["generate-between", "generate-grid", "reconstruct"],
)
def test_ascii_on_a_non_utf8_stdout(base: Path, tmp_path: Path, argv: list[str]):
    """``--ascii`` with an ASCII-only stdout (PYTHONIOENCODING=ascii, LANG=C): works, or fails
    with one line *before* writing the PNG (not after it)."""
    run = copy_base(base, tmp_path)
    out = tmp_path / "o.png"
    r = aecli([argv[0], "--run", run, *argv[1:], "--out", out], tmp_path, env=_ASCII_ENV)
    ends_cleanly(r)
    if r.rc != 0:
        assert not out.exists(), "the PNG was written before the command failed"
    else:
        assert out.is_file()


@pytest.mark.parametrize("command", ["data-list", "data-show"])
def test_lang_c_and_ascii_stdout_for_data_commands(tmp_path: Path, command: str):
    """The data commands under LANG=C with an ASCII stdout: they work (or fail cleanly)."""
    write_mnist(tmp_path / "data" / "mnist", 120, 40)
    if command == "data-list":
        argv: list[object] = ["data", "list"]
    else:
        argv = ["data", "show", "data/mnist", "--out", tmp_path / "s.png"]
    r = aecli(argv, tmp_path, env=_ASCII_ENV)
    ends_cleanly(r)


# ============================================================================ held-out cases


def test_out_is_a_symlink_to_a_file_outside(base: Path, tmp_path: Path):
    """``--out link.png`` where the link points at a file outside: neither is touched."""
    run = copy_base(base, tmp_path)
    victim = tmp_path / "outside.png"
    victim.write_bytes(b"not aecli's\n")
    link = tmp_path / "link.png"
    link.symlink_to(victim)
    r = aecli(["generate", "--run", run, "--out", link], tmp_path, timeout=HANG)
    clean_failure(r, words=("link.png", "--out"), within=FAST)
    assert link.is_symlink() and victim.read_bytes() == b"not aecli's\n"


def test_out_is_a_folder_with_a_figure_suffix(base: Path, tmp_path: Path):
    """``--out d.png/`` an existing folder: the default name is written inside, nothing else."""
    run = copy_base(base, tmp_path)
    d = tmp_path / "d.png"
    d.mkdir()
    r = aecli(["generate", "--run", run, "--out", d], tmp_path, timeout=HANG)
    ends_cleanly(r, within=FAST)
    assert r.rc == 0 and (d / "generate.png").is_file()


def test_out_below_a_file_two_levels_up(base: Path, tmp_path: Path):
    """``--out afile/new/t.png``: a file where a folder must be, refused before t-SNE runs."""
    run = copy_base(base, tmp_path)
    (tmp_path / "afile").write_text("not a folder\n")
    before = snapshot(tmp_path)
    argv = ["tsne", "--run", run, "--out", tmp_path / "afile" / "new" / "t.png"]
    r = aecli(argv, tmp_path)
    clean_failure(r, words=("afile", "--out"), within=FAST)
    assert snapshot(tmp_path) == before


def test_out_is_a_socket(base: Path, tmp_path: Path):
    """``--out`` naming a Unix socket: never replaced."""
    import socket

    run = copy_base(base, tmp_path)
    path = tmp_path / "s.png"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    try:
        before = node(path)
        r = aecli(["reconstruct", "--run", run, "--out", path], tmp_path, timeout=HANG)
        assert node(path) == before
        clean_failure(r, words=("s.png", "--out"), within=FAST)
    finally:
        sock.close()


_MORE_BOUNDS: dict[str, list[object]] = {
    "step-1e-300": ["generate", "--range", "0", "1", "--step", "1e-300"],
    "range-nan": ["generate", "--range", "nan", "1"],
    "range-inf": ["generate", "--range", "-inf", "inf", "--size", "3"],
    "reconstruct-n-101": ["reconstruct", "--n", "101"],
    "tsne-jobs-minus-5": ["tsne", "--jobs", "-5"],
    "between-steps-201": ["generate", "--between", "0", "1", "--steps", "201"],
}


@pytest.mark.parametrize("case", list(_MORE_BOUNDS), ids=list(_MORE_BOUNDS))
def test_more_work_bounded_by_the_arguments(base: Path, tmp_path: Path, case: str):
    """Held-out requests for unbounded work: one error line naming the option, at once."""
    run = copy_base(base, tmp_path)
    command, *rest = _MORE_BOUNDS[case]
    before = snapshot(tmp_path)
    r = aecli(
        [command, "--run", run, *rest, "--out", tmp_path / "o.png"],
        tmp_path,
        limit_as=WORK_LIMIT,
        timeout=HANG,
    )
    flag = next(str(a) for a in rest if str(a).startswith("--"))
    clean_failure(r, words=(flag, flag.lstrip("-")), within=FAST)
    assert snapshot(tmp_path) == before


def test_json_with_stdout_closed_data_list(tmp_path: Path):
    """``data list --json >&-``: ends cleanly."""
    r = aecli(["data", "list", "--json"], tmp_path, close_stdout=True)
    assert "Exception ignored" not in r.err, str(r)
    ends_cleanly(r)


def test_data_list_piped_to_head(tmp_path: Path):
    """``aecli data list --json | head -1``: ends quietly."""
    rc, err, shown = _piped_to_head(["data", "list", "--json"], tmp_path)
    assert shown.strip()
    _quiet_end(rc, err)
