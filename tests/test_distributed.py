"""Training in several real processes, as a user starts them: two ``aecli train`` on 127.0.0.1.

The two processes of a job (one CPU device each, gloo collectives) must give the losses of
one process with two forced host devices; process 0 alone writes the run directory; and a
process whose peer dies or hangs ends by itself, with one ``error:`` line, instead of hanging.
The job's settings are checked without starting anything (``find_job``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aecli.distributed import find_job
from aecli.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
QUICK = str(REPO / "configs" / "quick.toml")


def _free_port() -> int:
    # Bind port 0 and release it: process 0 binds it again a moment later (a clash would show
    # as a failed start, never as wrong numbers).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", **extra)
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    return env


def _train(args: list[str], env: dict[str, str], stderr: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "aecli", "train", QUICK, *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=stderr.open("w"), text=True, env=env, cwd=stderr.parent
    )


def _job(port: int, i: int, *more: str) -> list[str]:
    return ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i),
            *more]  # fmt: skip


def _losses(run_dir: Path) -> list[float]:
    """Every epoch's training and validation loss, in order."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [loss for r in rows for loss in (r["train_loss"], r["val_loss"])]


@pytest.mark.enable_socket
def test_two_processes_train_as_one_process_with_two_devices(tiny_mnist_dir, tmp_path):
    data = ["--dataset", str(tiny_mnist_dir / "mnist"), "--epochs", "2", "--json"]
    port = _free_port()
    # All three at once: the job's two processes and the one-process, two-device reference.
    one = _train([*data, "--device", "cpu", "--devices", "2", "--run-dir", "one"], _env(),
                 tmp_path / "one.err")  # fmt: skip
    procs = [_train([*data, "--run-dir", f"p{i}", *_job(port, i)], _env(), tmp_path / f"p{i}.err")
             for i in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300)[0] for p in (one, *procs)]
    for p, name in zip((one, *procs), ("one", "p0", "p1"), strict=True):
        assert p.returncode == 0, (tmp_path / f"{name}.err").read_text()[-3000:]

    reference, summary = json.loads(outs[0]), json.loads(outs[1])
    assert outs[2] == ""  # process 1 prints no summary: process 0 speaks for the job
    assert summary["device"].endswith("in 2 processes") and summary["run_dir"] == "p0"
    want = _losses(tmp_path / "one")
    assert len(want) == 4
    assert _losses(tmp_path / "p0") == pytest.approx(want, rel=1e-4)
    assert summary["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-4)
    config = json.loads((tmp_path / "p0" / "config.json").read_text())
    assert config["train"]["devices"] == 2  # the run records the job's devices
    assert not (tmp_path / "p1").exists()  # process 1 wrote nothing in its --run-dir
    assert "process 1 of 2" in (tmp_path / "p1.err").read_text()


def _start_long_job(tiny_mnist_dir: Path, tmp_path: Path, *more: str) -> list[subprocess.Popen]:
    """Two processes training for a long time; returns once process 0 has finished 2 epochs."""
    port = _free_port()
    data = ["--dataset", str(tiny_mnist_dir / "mnist"), "--epochs", "100000", "--quiet"]
    # Both processes name the same run directory, as on a shared file system.
    procs = [_train([*data, "--run-dir", "run", *_job(port, i, *more)], _env(),
                    tmp_path / f"p{i}.err") for i in range(2)]  # fmt: skip
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
                p.wait()
            errs = [(tmp_path / f"p{i}.err").read_text()[-1500:] for i in range(2)]
            pytest.fail(f"the job did not train ({[p.returncode for p in procs]}): {errs}")
        time.sleep(0.1)
    return procs


def _survivor_ends(procs: list[subprocess.Popen], victim: int, sig: int, tmp_path: Path):
    """Signal ``victim``; return the other's exit status, seconds to end and last stderr line."""
    procs[victim].send_signal(sig)
    start = time.monotonic()
    survivor = procs[1 - victim]
    try:
        code = survivor.wait(timeout=120)
    except subprocess.TimeoutExpired:
        code = None
    seconds = time.monotonic() - start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
    lines = (tmp_path / f"p{1 - victim}.err").read_text().strip().splitlines()
    assert code is not None, "the survivor hangs: " + "\n".join(lines[-5:])
    return code, seconds, lines[-1] if lines else ""


@pytest.mark.enable_socket
def test_a_killed_process_ends_the_other_with_one_error_line(tiny_mnist_dir, tmp_path):
    procs = _start_long_job(tiny_mnist_dir, tmp_path)
    code, seconds, last = _survivor_ends(procs, 1, signal.SIGKILL, tmp_path)
    assert code == 1 and seconds < 30, (code, seconds, last)
    assert last.startswith("error: process 0 of 2: training stopped because the other "
                           "processes stopped answering"), last  # fmt: skip
    assert "one has stopped or died" in last
    # Process 0 kept its run directory usable: the last complete epoch is saved.
    assert (tmp_path / "run" / "latest.ckpt").exists()


@pytest.mark.slow
@pytest.mark.enable_socket
def test_a_hung_process_ends_the_other_after_the_peer_timeout(tiny_mnist_dir, tmp_path):
    procs = _start_long_job(tiny_mnist_dir, tmp_path, "--peer-timeout", "3")
    code, seconds, last = _survivor_ends(procs, 0, signal.SIGSTOP, tmp_path)
    assert code == 1 and seconds < 60, (code, seconds, last)
    assert last.startswith("error: process 1 of 2: no training progress for "), last
    assert "another process has died or hangs" in last


@pytest.mark.enable_socket
def test_a_lone_process_gives_up_waiting_for_the_others(tmp_path):
    port = _free_port()
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "aecli", "train", "--offline", "--run-dir", str(tmp_path / "r"),
         *_job(port, 1, "--peer-timeout", "2")],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    want = f"error: process 1 of 2: the other processes did not connect to 127.0.0.1:{port} "
    assert last.startswith(want + "within 2 s"), proc.stderr
    assert time.monotonic() - start < 60
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ the job's settings


def test_job_from_the_three_settings():
    job = find_job("host0:1234", 4, 3, environ={})
    assert (job.coordinator, job.num_processes, job.process_id) == ("host0:1234", 4, 3)


@pytest.mark.parametrize(
    ("coordinator", "count", "index", "words"),
    [
        ("host0:1234", 2, None, "--process-id missing"),
        (None, 2, None, "--coordinator and --process-id missing"),
        ("host0", 2, 0, "HOST:PORT"),
        ("host0:99999", 2, 0, "HOST:PORT"),
        ("host0:1234", 2, 2, "from 0 to --num-processes - 1"),
    ],
)
def test_partial_or_wrong_settings_are_refused(coordinator, count, index, words):
    with pytest.raises(ConfigError, match=words):
        find_job(coordinator, count, index, environ={})


SLURM = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "n[1-2]", "SLURM_NTASKS": "2",
         "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}  # fmt: skip


def test_a_cluster_launch_is_found_and_one_task_stays_alone():
    assert find_job(None, None, None, environ=SLURM).source == "SLURM"
    assert find_job(None, None, None, environ={**SLURM, "SLURM_NTASKS": "1"}) is None
    mpi = {"OMPI_MCA_orte_hnp_uri": "1.0;tcp://10.0.0.1:1", "OMPI_COMM_WORLD_SIZE": "4"}
    assert find_job(None, None, None, environ=mpi).source == "Open MPI"
    assert find_job(None, None, None, environ={}) is None
    # The three settings win over the cluster's environment.
    assert find_job("h:1", 2, 0, environ=SLURM).source == "options"


def test_partial_settings_are_a_usage_error_on_the_command_line(tmp_path):
    env = _env(AECLI_COORDINATOR="127.0.0.1:1234", AECLI_NUM_PROCESSES="2")
    proc = subprocess.run(
        [sys.executable, "-m", "aecli", "train", "--run-dir", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--process-id missing" in lines[0], proc.stderr
    assert not (tmp_path / "r").exists()
