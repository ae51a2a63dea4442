"""Training over several processes (hosts, GPU nodes): joining a job and leaving it safely.

A job is P copies of ``aecli train`` with the same config and data, one per process, joined
through ``jax.distributed`` (CPU collectives over gloo). Every process then sees the devices of
all processes in ``jax.devices()``; the run's mesh spans them, parameters and images are
replicated, every batch is split over the devices, and XLA all-reduces the gradients, exactly
as with several devices in one process (``aecli.training.devices``). Process 0 alone writes
the run directory.

What a job is made of (``find_job``): ``--coordinator HOST:PORT --num-processes P
--process-id I`` (or ``AECLI_COORDINATOR``, ``AECLI_NUM_PROCESSES``, ``AECLI_PROCESS_ID``), all
three or none; with none, a SLURM step or an Open MPI launch of more than one task is found
from its environment (as ``jax.distributed.initialize`` finds it); otherwise training stays in
one process.

Failure handling, because a multi-process job must never hang:

* Joining: ``start`` waits at most ``timeout`` seconds for every process to connect.
* A process that dies resets the others' gloo connections, so their next collective fails at
  once; ``watch`` turns that into a ``TrainingError``.
* A process that hangs (alive, sockets open) is caught by ``Watchdog``: no training progress
  for ``max(timeout, 10 x the slowest step so far)`` seconds ends the process.
* Leaving after a failure skips ``jax.distributed``'s exit barrier (it would wait for the dead
  peer, then abort with a C++ trace): the exit status is kept and the process ends with
  ``os._exit`` once the error line is printed.

The joining timer and the watchdog print their ``error:`` line themselves and end the process:
when they fire, the main thread is blocked inside XLA and cannot be reached by an exception.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aecli.errors import ConfigError, TrainingError

DEFAULT_TIMEOUT = 300.0
"""Seconds a process waits for the others (to connect, or between steps) before giving up."""

_SLOW_STEP_FACTOR = 10  # a step may take this many times the slowest one seen before a hang


@dataclass(frozen=True)
class Job:
    """How this process joins a multi-process job.

    Attributes:
        coordinator: ``HOST:PORT`` of process 0's coordination service; None when the cluster
            (``source``) tells JAX.
        num_processes: processes in the job (None: from the cluster).
        process_id: this process's index (None: from the cluster).
        source: where the job came from: ``options``, ``SLURM`` or ``Open MPI``.
    """

    coordinator: str | None
    num_processes: int | None
    process_id: int | None
    source: str


@dataclass(frozen=True)
class Process:
    """This process's place in a started job.

    Attributes:
        index: its index, 0 for the process that writes the run directory.
        count: processes in the job.
        coordinator: the coordinator's address, for messages.
        timeout: seconds to wait for the others.
    """

    index: int
    count: int
    coordinator: str
    timeout: float

    @property
    def name(self) -> str:
        """``process I of P``, the prefix of this process's messages."""
        return f"process {self.index} of {self.count}"


def find_job(
    coordinator: str | None,
    num_processes: int | None,
    process_id: int | None,
    environ: Mapping[str, str] = os.environ,
) -> Job | None:
    """The job described by the three settings, else by the cluster's environment, else None.

    Raises:
        ConfigError: only some of the three settings given, or values that do not fit.
    """
    given = {"--coordinator": coordinator, "--num-processes": num_processes,
             "--process-id": process_id}  # fmt: skip
    missing = [name for name, value in given.items() if value is None]
    if len(missing) == 3:
        return _cluster_job(environ)
    if missing:
        raise ConfigError(
            f"a multi-process job needs --coordinator, --num-processes and --process-id "
            f"together (or AECLI_COORDINATOR, AECLI_NUM_PROCESSES, AECLI_PROCESS_ID): "
            f"{' and '.join(missing)} missing"
        )
    host, _, port = str(coordinator).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--coordinator must be HOST:PORT (the host of process 0 and a free port on it), "
            f"got {coordinator!r}"
        )
    if int(num_processes) < 1 or not 0 <= int(process_id) < int(num_processes):
        raise ConfigError(
            f"--process-id must be from 0 to --num-processes - 1, got {process_id} of "
            f"{num_processes}"
        )
    return Job(str(coordinator), int(num_processes), int(process_id), "options")


def _cluster_job(environ: Mapping[str, str]) -> Job | None:
    """A SLURM step or an Open MPI launch of more than one task, as JAX would find it."""
    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
             "SLURM_LOCALID")  # fmt: skip
    if all(v in environ for v in slurm) and _count(environ, "SLURM_NTASKS") > 1:
        return Job(None, None, None, "SLURM")
    if "OMPI_MCA_orte_hnp_uri" in environ and _count(environ, "OMPI_COMM_WORLD_SIZE") > 1:
        return Job(None, None, None, "Open MPI")
    return None


def _count(environ: Mapping[str, str], name: str) -> int:
    value = environ.get(name, "")
    return int(value) if value.isdigit() else 0


def start(job: Job, timeout: float = DEFAULT_TIMEOUT) -> Process:
    """Join the job: gloo CPU collectives, then ``jax.distributed.initialize``.

    Must run before anything starts a JAX backend (no ``jax.devices()``, no computation).
    When the others have not all connected within ``timeout`` seconds, prints one
    ``error:`` line and ends the process with status 1.

    Raises:
        TrainingError: JAX refused to start the job (e.g. the coordinator's port is taken).
    """
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    where = job.coordinator or f"the {job.source} job's coordinator"
    timer = threading.Timer(timeout, _not_joined, args=(job, where, timeout))
    timer.daemon = True
    timer.start()
    try:
        _initialize(job, where, timeout)
        record_exit(1)  # until the command says how it ends, any exit is a failure
        atexit.register(_leave_if_failed)  # runs before jax's own exit handler (LIFO)
        _connect_quietly()
    except jax.errors.JaxRuntimeError as e:
        raise TrainingError(
            f"the processes of the job at {where} could not connect ({_first_line(e)}): "
            "start them again"
        ) from None
    finally:
        timer.cancel()
    return Process(jax.process_index(), jax.process_count(), where, timeout)


def _initialize(job: Job, where: str, timeout: float) -> None:
    import jax

    try:
        # JAX's own limits come later than ours: it aborts with a C++ trace where we print
        # one line, and a peer that hangs should meet the watchdog before the heartbeat.
        jax.distributed.initialize(
            job.coordinator,
            job.num_processes,
            job.process_id,
            initialization_timeout=int(timeout) + 10,
            heartbeat_timeout_seconds=int(2 * timeout) + 10,
            shutdown_timeout_seconds=int(timeout) + 10,
        )
    except Exception as e:  # jaxlib raises its own runtime errors; name the cause, no trace
        raise TrainingError(
            f"cannot join the multi-process job at {where} ({_first_line(e)}): check "
            "--coordinator (process 0's host and a free port) and --num-processes"
        ) from None


def _connect_quietly() -> None:
    """Wait until every process is there, through one collective over all devices.

    gloo connects the processes at their first collective and announces it with a line on
    stdout, which belongs to the command's output (``--json``): here it goes to /dev/null.
    """
    from jax.experimental import multihost_utils

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        multihost_utils.sync_global_devices("aecli: every process has joined")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _not_joined(job: Job, where: str, timeout: float) -> None:
    who = f"process {job.process_id} of {job.num_processes}" if job.source == "options" else ""
    _exit_now(
        f"{who + ': ' if who else ''}the other processes did not connect to {where} within "
        f"{timeout:g} s: start all processes with the same --coordinator and --num-processes "
        "(process 0 hosts the coordinator), or raise --peer-timeout"
    )


_status = {"code": 0}  # the exit status a joined process leaves with (see record_exit)


def record_exit(code: int) -> None:
    """Set the exit status this process leaves with; anything but 0 skips the exit barrier.

    ``start`` sets 1, so an exception that ends the command is a failure; the command sets
    its own status (0 after a clean finish) before it returns.
    """
    _status["code"] = code


def _leave_if_failed() -> None:
    """At exit after a failure: end now, skipping jax.distributed's barrier (see module doc)."""
    if _status["code"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_status["code"])


def _exit_now(message: str, code: int = 1) -> None:
    sys.stdout.flush()
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    os._exit(code)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:300]


class Watchdog:
    """Ends this process when training stops moving: a peer has died or hangs.

    ``beat`` is called with every training event. The watchdog is armed from the end of the
    first epoch (everything is compiled by then) to the start of the last epoch's end, and
    fires after ``max(timeout, 10 x the longest gap between events so far)`` seconds without
    one.
    """

    def __init__(self, process: Process):
        self.process = process
        self.armed = False
        self.last = time.monotonic()
        self.slowest = 0.0
        thread = threading.Thread(target=self._watch, name="aecli-watchdog", daemon=True)
        thread.start()

    def beat(self, event: Any) -> None:
        """Record training progress; ``EpochEnd`` events arm and disarm the watchdog."""
        from aecli.events import EpochEnd

        now = time.monotonic()
        if self.armed:
            self.slowest = max(self.slowest, now - self.last)
        self.last = now
        if isinstance(event, EpochEnd):
            self.armed = event.epoch < event.epochs

    def limit(self) -> float:
        """Seconds without progress after which the job is given up."""
        return max(self.process.timeout, _SLOW_STEP_FACTOR * self.slowest)

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.process.timeout / 4))
            idle = time.monotonic() - self.last
            if self.armed and idle > self.limit():
                _exit_now(
                    f"{self.process.name}: no training progress for {idle:.0f} s (limit "
                    f"{self.limit():.0f} s): another process has died or hangs; see its "
                    "output (raise --peer-timeout if steps are this slow)"
                )


def watch(events: Generator[Any, None, None], process: Process) -> Iterator[Any]:
    """Pass training events on, feeding the watchdog; a failed collective is a TrainingError.

    Raises:
        TrainingError: a computation with the other processes failed (one has stopped or
            died: its connections are gone).
    """
    import jax

    watchdog = Watchdog(process)
    try:
        with contextlib.closing(events):  # closing this closes the training (its lock)
            for event in events:
                watchdog.beat(event)
                yield event
    except jax.errors.JaxRuntimeError as e:
        raise TrainingError(
            f"{process.name}: training stopped because the other processes stopped "
            f"answering ({_first_line(e)}): one has stopped or died; see its output"
        ) from None
