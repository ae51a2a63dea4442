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

import io
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import blackbox
import numpy as np
import pytest
from blackbox import (  # the shared black-box harness
    AS_LIMIT,
    FAST,
    HANG,
    PY,
    WORK_LIMIT,
    Ran,
    aecli,
    clean_failure,
    cli_env,
    copy_base,
    ends_cleanly,
    node,
    snapshot,
    write_mnist,
)

# ============================================================================ the harness

# The shared fixtures: pytest finds them by name in this module's namespace.
base = blackbox.base
dev_null_intact = blackbox.dev_null_intact  # autouse: /dev/null intact


def show_bounded(dataset: object, tmp: Path) -> Ran:
    """``aecli data show DATASET --out tmp/s.png`` under ``ulimit -v 3000000``, killed on a hang."""
    return aecli(
        ["data", "show", dataset, "--out", tmp / "s.png"], tmp, limit_as=AS_LIMIT, timeout=HANG
    )


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
        env=cli_env(),
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
            env=cli_env(),
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
