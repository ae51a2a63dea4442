"""Hostile checkpoints, configs and races, black box: issue 10's sections 2, 4 and 8.

The cases of those classes (and the checkpoint reads of section 1) come from the colleague's
``tests/test_hardening.py`` (branch r-harden), written before the fix; more of each follow.

Every case runs the real CLI as a user would, ``python -m aecli ...`` in a subprocess, on
files built here (a tiny MNIST-format set, a short run trained once per session, bombs and
lies crafted byte by byte), and checks what the user would see: the exit status, exactly one
``error:`` line (short, naming the problem), no traceback, no Python warning, the work bounded
in time and memory (bombs run under ``ulimit -v 3000000`` so that a failure cannot take the
machine down), and nothing written, replaced or left behind that the command does not own.

Nothing here imports aecli: the internals are being restructured, the command line and the
file formats are what must hold. No test touches the network (``AECLI_OFFLINE=1``, and the
download mirrors cannot be pointed at a local file, see the section on downloads).

Sections follow issue 10: 1 bounded reads, 2 content checks, 3 writes, 4 concurrency,
5 bounded work, 6 downloads, 7 output streams, 8 resume on other data.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import blackbox
import pytest
from blackbox import (  # the shared black-box harness
    AS_LIMIT,
    FAST,
    HANG,
    PY,
    SHORT,
    Ran,
    aecli,
    clean_failure,
    cli_env,
    copy_base,
    ends_cleanly,
    snapshot,
    write_mnist,
)

# ============================================================================ the harness

# The shared fixtures: pytest finds them by name in this module's namespace.
base = blackbox.base
dev_null_intact = blackbox.dev_null_intact  # autouse: /dev/null intact


def header_of(ckpt: Path) -> dict:
    with open(ckpt, "rb") as f:
        return json.loads(f.readline())


def edit_header_text(ckpt: Path, edit: Callable[[str], str]) -> None:
    """Rewrite the checkpoint's first line (its JSON header) as text; the payload stays."""
    raw = ckpt.read_bytes()
    head, _, payload = raw.partition(b"\n")
    ckpt.write_bytes(edit(head.decode()).encode() + b"\n" + payload)


def flip_one_bit(ckpt: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (which differ in exactly one bit) once in the header."""
    a, b = old.encode(), new.encode()
    diff = [x ^ y for x, y in zip(a, b, strict=True) if x != y]
    assert len(a) == len(b) and len(diff) == 1 and bin(diff[0]).count("1") == 1, (old, new)

    def edit(header: str) -> str:
        assert header.count(old) == 1, f"{old!r} is not in the header exactly once"
        return header.replace(old, new)

    edit_header_text(ckpt, edit)


# ============================================================================ 1. checkpoint reads


def _ckpt_argv(kind: str, target: Path, tmp: Path) -> list[object]:
    if kind == "generate":
        return ["generate", "--checkpoint", target, "--out", tmp / "g.png"]
    return [kind, "--run", target, "--out", tmp / "o.png"]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory"])
def test_checkpoint_that_is_not_a_regular_file(base: Path, tmp_path: Path, special: str):
    """``--checkpoint`` naming /dev/zero, a FIFO without writer or a folder: refused at once."""
    if special == "/dev/zero":
        target = Path("/dev/zero")
    elif special == "fifo":
        target = tmp_path / "fifo.ckpt"
        os.mkfifo(target)
    else:
        target = tmp_path / "folder.ckpt"
        target.mkdir()
    before = snapshot(tmp_path)
    r = aecli(_ckpt_argv("generate", target, tmp_path), tmp_path, limit_as=AS_LIMIT, timeout=HANG)
    clean_failure(r, words=(target.name, "checkpoint"), within=FAST)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["embed", "reconstruct"])
def test_run_latest_ckpt_is_a_fifo(base: Path, tmp_path: Path, command: str):
    """RUN/latest.ckpt replaced by a FIFO (or a link to /dev/zero): refused at once."""
    run = copy_base(base, tmp_path)
    (run / "latest.ckpt").unlink()
    if command == "embed":
        os.mkfifo(run / "latest.ckpt")
    else:
        (run / "latest.ckpt").symlink_to("/dev/zero")
    before = snapshot(tmp_path)
    r = aecli(_ckpt_argv(command, run, tmp_path), tmp_path, limit_as=AS_LIMIT, timeout=HANG)
    clean_failure(r, words=("latest.ckpt", "checkpoint"), within=FAST)
    assert snapshot(tmp_path) == before


def test_checkpoint_sparse_4gib_without_newline(base: Path, tmp_path: Path):
    """A 4 GiB (sparse) file of zero bytes as checkpoint: the header line is read with a cap."""
    p = tmp_path / "huge.ckpt"
    with open(p, "wb") as f:
        f.truncate(4 << 30)
    r = aecli(_ckpt_argv("generate", p, tmp_path), tmp_path, limit_as=AS_LIMIT, timeout=HANG)
    clean_failure(r, words=("huge.ckpt",), within=FAST)
    assert not (tmp_path / "g.png").exists()


def test_checkpoint_header_claims_a_petabyte_payload(base: Path, tmp_path: Path):
    """``payload_bytes`` of 10**15 in the header: checked against the file size, not read."""
    run = copy_base(base, tmp_path)
    edit_header_text(
        run / "latest.ckpt",
        lambda h: json.dumps({**json.loads(h), "payload_bytes": 10**15}, sort_keys=True),
    )
    before = snapshot(tmp_path)
    r = aecli(_ckpt_argv("embed", run, tmp_path), tmp_path, limit_as=AS_LIMIT)
    clean_failure(r, words=("latest.ckpt",), within=FAST)
    assert snapshot(tmp_path) == before


# ============================================================================ 2. content checks


@pytest.mark.slow
def test_flipped_header_bit_epoch_refused_on_resume(base: Path, tmp_path: Path):
    """``"epoch": 3`` -> ``2`` (one bit) in latest.ckpt: ``--resume`` refuses, nothing changes."""
    run = copy_base(base, tmp_path)
    flip_one_bit(
        run / "latest.ckpt", '"epoch": 3, "format_version"', '"epoch": 2, "format_version"'
    )
    before = snapshot(tmp_path)
    r = aecli(["train", "--resume", run, "--epochs", "4", "--quiet"], tmp_path, timeout=240)
    clean_failure(r, words=("latest.ckpt", "checkpoint"))
    assert snapshot(tmp_path) == before


def test_flipped_header_bit_grid_step_refused(base: Path, tmp_path: Path):
    """The decode grid's step 0.2 -> 0.3 (one bit) in the header: ``generate`` refuses."""
    run = copy_base(base, tmp_path)
    flip_one_bit(run / "latest.ckpt", '"step": 0.2}', '"step": 0.3}')
    before = snapshot(tmp_path)
    r = aecli(["generate", "--run", run, "--out", tmp_path / "g.png"], tmp_path)
    clean_failure(r, words=("latest.ckpt", "checkpoint"))
    assert snapshot(tmp_path) == before


def test_flipped_header_bit_l2_weight_refused(base: Path, tmp_path: Path):
    """``l2_weight`` 0.1 -> 0.3 (one bit) in best.ckpt, read with --checkpoint: refused."""
    run = copy_base(base, tmp_path)
    flip_one_bit(run / "best.ckpt", '"l2_weight": 0.1,', '"l2_weight": 0.3,')
    before = snapshot(tmp_path)
    r = aecli(
        ["generate", "--checkpoint", run / "best.ckpt", "--out", tmp_path / "g.png"], tmp_path
    )
    clean_failure(r, words=("best.ckpt", "checkpoint"))
    assert snapshot(tmp_path) == before


def test_flipped_header_bit_n_test_refused(base: Path, tmp_path: Path):
    """The test split's size, last digit one bit off, in latest.ckpt: ``embed`` refuses."""
    run = copy_base(base, tmp_path)
    n = str(header_of(run / "latest.ckpt")["dataset"]["n_test"])
    flipped = n[:-1] + str(int(n[-1]) ^ 1)
    flip_one_bit(run / "latest.ckpt", f'"n_test": {n},', f'"n_test": {flipped},')
    before = snapshot(tmp_path)
    r = aecli(["embed", "--run", run, "--out", tmp_path / "e.png"], tmp_path)
    clean_failure(r, words=("latest.ckpt", "checkpoint"))
    assert snapshot(tmp_path) == before


def test_header_without_its_checksum_still_loads(base: Path, tmp_path: Path):
    """A checkpoint written before the header checksum (no ``header_sha256``) still loads."""
    run = copy_base(base, tmp_path)
    edit_header_text(
        run / "latest.ckpt",
        lambda h: json.dumps(
            {k: v for k, v in json.loads(h).items() if k != "header_sha256"}, sort_keys=True
        ),
    )
    r = aecli(["generate", "--run", run, "--out", tmp_path / "g.png"], tmp_path)
    assert r.rc == 0, str(r)
    assert (tmp_path / "g.png").is_file()


_HEADER_EDITS: dict[str, Callable[[str], str]] = {
    "epoch-wrong-type": lambda h: h.replace('"epoch": 3, "format', '"epoch": "3", "format'),
    "epoch-list": lambda h: h.replace('"epoch": 3, "format', '"epoch": [3], "format'),
    "epoch-1e400": lambda h: h.replace('"epoch": 3, "format', '"epoch": 1e400, "format'),
    "n-params-negative": lambda h: h.replace('"n_params": ', '"n_params": -'),
    "deep-nesting": lambda h: h.replace(
        '"name": "mnist"', '"name": ' + "[" * 50_000 + "]" * 50_000
    ),
    "prng-not-a-dict": lambda h: json.dumps({**json.loads(h), "prng": "threefry"}),
    # more of the class
    "epoch-nan": lambda h: h.replace('"epoch": 3, "format', '"epoch": NaN, "format'),
    "best-val-1e400": lambda h: h.replace('"best_val_loss": ', '"best_val_loss": 1e400, "x": '),
    "shuffle-key-strings": lambda h: json.dumps(
        {**json.loads(h), "prng": {**json.loads(h)["prng"], "shuffle_key": ["a", "b"]}}
    ),
    "n-train-negative": lambda h: h.replace('"n_train": ', '"n_train": -'),
    "header-is-a-list": lambda h: "[" + h + "]",
    "deep-nesting-in-config": lambda h: h.replace(
        '"activation": ', '"activation": ' + "{" * 200 + "}" * 200 + ', "y": '
    ),
}


@pytest.mark.parametrize("edit", list(_HEADER_EDITS), ids=list(_HEADER_EDITS))
def test_header_field_of_wrong_type_or_range(base: Path, tmp_path: Path, edit: str):
    """A header field of the wrong type, 1e400 or 50,000-deep nesting: one error line."""
    run = copy_base(base, tmp_path)
    old = (run / "latest.ckpt").read_bytes()
    edit_header_text(run / "latest.ckpt", _HEADER_EDITS[edit])
    assert (run / "latest.ckpt").read_bytes() != old
    before = snapshot(tmp_path)
    r = aecli(["generate", "--run", run, "--out", tmp_path / "g.png"], tmp_path)
    clean_failure(r, words=("latest.ckpt", "checkpoint", "header"))
    assert snapshot(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    "metrics",
    ['"garbage"', '[{"epoch": "one"}, 7, null]', '[{"epoch": 1e400, "train_loss": 1e400}]'],
    ids=["string", "wrong-items", "1e400"],
)
def test_resume_with_bad_header_metrics_keeps_metrics_jsonl(
    base: Path, tmp_path: Path, metrics: str
):
    """A header whose ``metrics`` are malformed: resume refuses; metrics.jsonl is not rewritten."""
    run = copy_base(base, tmp_path)
    h = json.loads((run / "latest.ckpt").read_bytes().partition(b"\n")[0])
    h["metrics"] = "@@METRICS@@"
    text = json.dumps(h, sort_keys=True).replace('"@@METRICS@@"', metrics)
    edit_header_text(run / "latest.ckpt", lambda _: text)
    before = snapshot(tmp_path)
    r = aecli(["train", "--resume", run, "--epochs", "4", "--quiet"], tmp_path, timeout=240)
    clean_failure(r, words=("latest.ckpt", "checkpoint", "metrics", "header"))
    assert snapshot(tmp_path) == before, "a refused resume changed the run (metrics.jsonl?)"


@pytest.mark.slow
def test_experiment_reuse_with_non_utf8_metrics(base: Path, tmp_path: Path):
    """metrics.jsonl with non-UTF-8 bytes: ``experiment`` reusing the run ends cleanly."""
    run = copy_base(base, tmp_path)
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"epoch": 4, "note": "\xff\xfe\x80"}\n')
    cfg = tmp_path / "exp.toml"
    cfg.write_text(
        'name = "mnist"\n[data]\ndataset = "data/mnist"\n[train]\nepochs = 3\nbatch_size = 32\n'
    )
    r = aecli(["experiment", cfg, "--run-dir", run, "--skip-tsne"], tmp_path, timeout=240)
    ends_cleanly(r)
    if r.rc != 0:
        assert "metrics.jsonl" in r.error_lines()[0], str(r)


def test_latent_with_non_utf8_metrics(base: Path, tmp_path: Path):
    """metrics.jsonl that is binary garbage: ``generate`` (which needs only the checkpoint)
    still works, or refuses with one line naming the file."""
    run = copy_base(base, tmp_path)
    (run / "metrics.jsonl").write_bytes(b"\xff\xfe\x00garbage\x80\n" * 10)
    r = aecli(["generate", "--run", run, "--out", tmp_path / "g.png"], tmp_path)
    ends_cleanly(r)


def _toml_case(tmp: Path, text: str | bytes) -> Ran:
    p = tmp / "bad.toml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    # No --run-dir: a run name becomes the folder name runs/<name>.
    return aecli(["train", p, "--offline"], tmp, limit_as=AS_LIMIT, timeout=90)


_BIG = "A" * 10_000_000
_TOML_CASES: dict[str, bytes | str] = {
    "nul-in-string": b'name = "ab\x00cd"\n',
    "nul-in-key": b"[train]\nepo\x00chs = 3\n",
    "deep-array-3000": "[train]\nepochs = " + "[" * 3000 + "1" + "]" * 3000 + "\n",
    "deep-inline-table-3000": "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "10mb-string-value": f'[train]\nepochs = "{_BIG}"\n',
    "10mb-key": f"[train]\n{_BIG} = 1\n",
    # A run name that cannot be a folder name; should it be accepted, one tiny epoch follows.
    "10mb-name": (
        f'name = "{_BIG}"\n[data]\ndataset = "data/mnist"\n[train]\nepochs = 1\nbatch_size = 32\n'
    ),
    # more of the class
    "nul-in-comment": b"# a comment \x00 with a NUL\n[train]\nepochs = 1\n",
    "2mb-of-comments": "#" + "x" * 2_000_000 + "\n",
    "deep-array-in-sizes": "[model]\nsizes = " + "[" * 2000 + "784" + "]" * 2000 + "\n",
    "100k-list-value": "[model]\nsizes = [" + "1.5, " * 100_000 + "2]\n",
    "name-with-slash": 'name = "../../outside"\n[data]\ndataset = "data/mnist"\n',
}


@pytest.mark.parametrize("case", list(_TOML_CASES), ids=list(_TOML_CASES))
def test_toml_config_hostile(tmp_path: Path, case: str):
    """NUL bytes, 3,000-deep nesting, 10 MB strings: one short error line, no run created."""
    write_mnist(tmp_path / "data" / "mnist", 120, 40)
    r = _toml_case(tmp_path, _TOML_CASES[case])
    clean_failure(r, words=("bad.toml", "config", "name"), within=FAST, max_len=SHORT)
    assert not (tmp_path / "runs").exists()


# ============================================================================ 3. the lock file


def _victim(tmp: Path) -> Path:
    v = tmp / "outside" / "precious.txt"
    v.parent.mkdir()
    v.write_text("a file that does not belong to any run\n")
    return v


@pytest.mark.slow
def test_lock_symlink_on_resume(base: Path, tmp_path: Path):
    """RUN/.lock a symlink to a file outside the run: ``--resume`` never writes through it."""
    run = copy_base(base, tmp_path)
    victim = _victim(tmp_path)
    (run / ".lock").unlink(missing_ok=True)
    (run / ".lock").symlink_to(victim)
    r = aecli(["train", "--resume", run, "--epochs", "4", "--quiet"], tmp_path, timeout=240)
    assert victim.read_text() == "a file that does not belong to any run\n", "target written"
    assert stat.S_ISREG(victim.lstat().st_mode)
    ends_cleanly(r)


@pytest.mark.slow
def test_lock_symlink_on_fresh_training(tmp_path: Path):
    """A fresh training into an empty folder whose .lock links outside: the target is intact."""
    write_mnist(tmp_path / "data" / "mnist")
    victim = _victim(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").symlink_to(victim)
    args = ["train", "--dataset", "data/mnist", "--epochs", "1", "--batch-size", "32"]
    r = aecli([*args, "--run-dir", run, "--quiet"], tmp_path, timeout=240)
    assert victim.read_text() == "a file that does not belong to any run\n", "target written"
    ends_cleanly(r)


# ============================================================================ 4. concurrency


def _popen_train(cwd: Path, args: Sequence[object], log: Path) -> subprocess.Popen:
    argv = [PY, "-m", "aecli", "train", "--dataset", "data/mnist", "--batch-size", "32", *args]
    return subprocess.Popen(
        [str(a) for a in argv],
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - the child owns it
        start_new_session=True,
    )


def _wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _finish(p: subprocess.Popen, timeout: float = 300) -> int:
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        pytest.fail("a training did not end")


@pytest.mark.slow
def test_two_fresh_trainings_into_one_run_dir(tmp_path: Path):
    """B checks the empty run dir and loads its data; meanwhile A trains and finishes; then
    B goes on. Exactly one may succeed, the other refuses, the finished run is intact."""
    write_mnist(tmp_path / "data" / "mnist")
    run = tmp_path / "run"
    common = ["--epochs", "2", "--run-dir", run]
    log_b = tmp_path / "b.log"
    b = _popen_train(tmp_path, [*common, "--seed", "2"], log_b)
    try:
        # B has checked the folder and found its data: stop it right there.
        _wait_for(lambda: b"using" in log_b.read_bytes() or b.poll() is not None, 120, "B")
        os.kill(b.pid, signal.SIGSTOP)
        a = _popen_train(tmp_path, [*common, "--seed", "1"], tmp_path / "a.log")
        rc_a = _finish(a)
    finally:
        os.kill(b.pid, signal.SIGCONT)
    rc_b = _finish(b)
    logs = {k: (tmp_path / f"{k}.log").read_text("utf-8", "replace") for k in "ab"}
    assert sorted([rc_a, rc_b]) == [0, 1], (rc_a, rc_b, logs)
    winner_seed = 1 if rc_a == 0 else 2
    loser = logs["b" if rc_a == 0 else "a"]
    assert len([ln for ln in loser.splitlines() if ln.startswith("error:")]) == 1, loser
    assert "Traceback" not in loser
    assert header_of(run / "latest.ckpt")["config"]["train"]["seed"] == winner_seed
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


@pytest.mark.slow
def test_two_default_named_runs_get_different_names(tmp_path: Path):
    """Two ``aecli train --name twin`` started together: runs/twin and runs/twin-2, both kept."""
    write_mnist(tmp_path / "data" / "mnist")
    ps = [
        _popen_train(
            tmp_path, ["--epochs", "1", "--name", "twin", "--seed", str(s)], tmp_path / f"{s}.log"
        )
        for s in (1, 2)
    ]
    rcs = [_finish(p) for p in ps]
    logs = [(tmp_path / f"{s}.log").read_text("utf-8", "replace") for s in (1, 2)]
    assert rcs == [0, 0], (rcs, logs)
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["twin", "twin-2"], runs
    seeds = {
        header_of(tmp_path / "runs" / n / "latest.ckpt")["config"]["train"]["seed"] for n in runs
    }
    assert seeds == {1, 2}


def _interrupt_training(tmp: Path, run: Path, sig: int) -> tuple[int, str]:
    """Start a long training into ``run``, send ``sig`` after its first epoch, collect it."""
    write_mnist(tmp / "data" / "mnist")
    log = tmp / "train.log"
    p = _popen_train(tmp, ["--epochs", "3000", "--run-dir", run], log)
    try:
        metrics = run / "metrics.jsonl"
        _wait_for(
            lambda: (metrics.is_file() and metrics.stat().st_size > 0) or p.poll() is not None,
            180,
            "the first epoch",
        )
        assert p.poll() is None, log.read_text()
        os.kill(p.pid, sig)
        rc = _finish(p, 120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    return rc, log.read_text("utf-8", "replace")


def _resume_argv(log: str, cwd: Path) -> tuple[str, list[str]]:
    """The printed resume command and its words as bash splits them (pasted into a shell).

    The text from ``aecli train --resume`` to the end of the first line naming it is given to
    bash after ``set --`` (so nothing runs but what the line itself smuggles in); if that
    does not parse, the same without the quote, bracket or full stop that prose may close it
    with.
    """
    line = next((ln for ln in log.splitlines() if "aecli train --resume" in ln), None)
    assert line is not None, f"no resume command printed\n{log}"
    tail = line[line.index("aecli train --resume") :].strip()
    args: list[str] = []
    closers = [tail[:-k] for k in (1, 2, 3) if set(tail[-k:]) <= set("'\"`).,;")]
    for cmd in [tail, *closers]:
        out = subprocess.run(
            ["bash", "-c", f"set -- {cmd}\nprintf '%s\\0' \"$@\""],
            cwd=cwd,
            capture_output=True,
            env={"PATH": os.environ["PATH"], "HOME": "/nonexistent-home"},
            timeout=30,
            check=False,
        )
        args = out.stdout.decode().split("\0")[:-1]
        if out.returncode == 0 and args:
            break
    return line, args


@pytest.mark.slow
def test_sighup_during_training_is_like_sigterm(tmp_path: Path):
    """SIGHUP (the terminal closed): checkpoint, loss curve, resume hint, non-zero exit."""
    run = tmp_path / "run"
    rc, log = _interrupt_training(tmp_path, run, signal.SIGHUP)
    assert rc > 0, f"exit status {rc} (negative: killed by the signal)\n{log}"
    assert "Traceback" not in log, log
    line, args = _resume_argv(log, tmp_path)
    assert args[:3] == ["aecli", "train", "--resume"], (line, args)
    assert (run / "loss_curve.png").is_file()
    r = aecli(["generate", "--run", run, "--out", tmp_path / "g.png"], tmp_path)
    assert r.rc == 0, f"the checkpoint left by SIGHUP does not load\n{r}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,sig",
    [('my run\'s "dir" $HOME', signal.SIGTERM), ("two  spaces; touch INJECTED", signal.SIGINT)],
    ids=["quotes-and-dollar-sigterm", "spaces-and-semicolon-sigint"],
)
def test_printed_resume_command_is_shell_quoted(tmp_path: Path, name: str, sig: int):
    """The resume command printed on stop, pasted into a shell, names this run directory
    (and runs nothing else: the ``touch INJECTED`` in the second name stays text)."""
    run = tmp_path / name
    rc, log = _interrupt_training(tmp_path, run, sig)
    assert rc in (130, 143), log
    line, args = _resume_argv(log, tmp_path)
    assert not (tmp_path / "INJECTED").exists(), f"pasting the command ran code: {line!r}"
    assert len(args) >= 4 and args[:3] == ["aecli", "train", "--resume"], (line, args)
    assert (tmp_path / args[3]).resolve() == run.resolve(), (line, args)


def _drain(fd: int, into: bytearray) -> threading.Thread:
    def read() -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # EIO: the terminal's other side was closed
                return
            if not chunk:
                return
            into.extend(chunk)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize(
    "how", ["stdout-file-stdin-null", "stdout-pipe-stdin-tty", "stdout-tty-stdin-null"]
)
def test_tui_without_a_terminal(base: Path, tmp_path: Path, how: str):
    """``aecli tui RUN`` when stdout or stdin is not a terminal: one error line, quickly,
    and no escape codes drawn into a file or pipe."""
    run = copy_base(base, tmp_path)
    drawn = bytearray()
    if how == "stdout-file-stdin-null":
        r = aecli(["tui", run], tmp_path, timeout=FAST)
        drawn.extend(r.out.encode())
    elif how == "stdout-pipe-stdin-tty":
        master, slave = pty.openpty()
        rfd, wfd = os.pipe()
        reader = _drain(rfd, drawn)
        with os.fdopen(wfd, "wb") as w:
            r = aecli(["tui", run], tmp_path, timeout=FAST, stdin=slave, stdout=w)
        reader.join(10)
        for fd in (slave, master, rfd):
            os.close(fd)
    else:
        master, slave = pty.openpty()
        reader = _drain(master, bytearray())
        r = aecli(["tui", run], tmp_path, timeout=FAST, stdout=slave)
        os.close(slave)
        reader.join(10)
        os.close(master)
    clean_failure(r, code=(1, 2), words=("terminal", "tty"), within=FAST)
    assert b"\x1b[" not in drawn, "escape codes were drawn to a non-terminal"


# ============================================================================ 8. other data


@pytest.mark.slow
def test_resume_of_a_checkpoint_without_fingerprint_gives_a_notice(base: Path, tmp_path: Path):
    """A checkpoint written before the fingerprint (no ``train_sha256``) resumes, with a note."""
    run = copy_base(base, tmp_path)

    def strip(h: str) -> str:
        header = json.loads(h)
        header.pop("header_sha256", None)
        header["dataset"].pop("train_sha256", None)
        return json.dumps(header, sort_keys=True)

    edit_header_text(run / "latest.ckpt", strip)
    r = aecli(["train", "--resume", run, "--epochs", "4"], tmp_path, timeout=240)
    assert r.rc == 0, str(r)
    assert "records no fingerprint" in r.err, str(r)


def _swap_images(tmp: Path) -> None:
    """Replace ``tmp/data/mnist`` with other images of exactly the same counts."""
    shutil.rmtree(tmp / "data" / "mnist")
    write_mnist(tmp / "data" / "mnist", seed=7)


@pytest.mark.slow
def test_resume_on_other_images_of_the_same_count(base: Path, tmp_path: Path):
    """``--resume`` where data/mnist now holds other images (same 300/100): refused."""
    run = copy_base(base, tmp_path)
    _swap_images(tmp_path)
    before = snapshot(tmp_path)
    r = aecli(["train", "--resume", run, "--epochs", "4", "--quiet"], tmp_path, timeout=240)
    clean_failure(r, words=("image", "data", "fingerprint"))
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_experiment_reuse_on_other_images_of_the_same_count(base: Path, tmp_path: Path):
    """``experiment`` reusing the finished run while data/mnist holds other images: refused."""
    run = copy_base(base, tmp_path)
    _swap_images(tmp_path)
    cfg = tmp_path / "exp.toml"
    cfg.write_text(
        'name = "mnist"\n[data]\ndataset = "data/mnist"\n[train]\nepochs = 3\nbatch_size = 32\n'
    )
    before = snapshot(tmp_path)
    r = aecli(["experiment", cfg, "--run-dir", run, "--skip-tsne"], tmp_path, timeout=240)
    clean_failure(r, words=("image", "data", "fingerprint"))
    assert snapshot(tmp_path) == before
