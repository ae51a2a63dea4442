"""Where training runs: device choice, the data-parallel mesh and its shardings.

Several devices (``train.devices = N``): the same code path under a ``jax.sharding.Mesh``
with one ``data`` axis. Parameters and optimizer state are replicated, every batch is split
over the devices (when the batch size does not divide by N it is padded with weight-0 rows up
to the next multiple, which changes nothing numerically), and XLA inserts the gradient
all-reduce. The images are replicated on every device (the row gather needs them; MNIST is
43 MB). Results equal the one-device run to float rounding, not bit for bit (the sums are
split differently).

Multi-host (several machines, e.g. GPU nodes): start the same command on every host after
``jax.distributed.initialize(coordinator_address="host0:1234", num_processes=P,
process_id=i)`` (on SLURM or TPU pods the arguments are found automatically). ``jax.devices()``
then lists the devices of all hosts, ``--devices`` may count all of them, every host loads the
same data set and the same seed, so all hosts draw the same permutation; only process 0
should write the run directory (point the others at a scratch ``--run-dir``).
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from aecli.errors import ConfigError, TrainingError


@dataclass(frozen=True)
class Placement:
    """The devices of a run and how arrays are laid out on them.

    Attributes:
        devices: the devices, in mesh order.
        replicated: where parameters, optimizer state and the images live (every device).
        batch: how a batch's rows are split over the devices; None on one device.
        name: human description, e.g. ``cpu (..., 2 cores)`` or ``4 x gpu (NVIDIA H100)``.
    """

    devices: tuple[jax.Device, ...]
    replicated: Any
    batch: Any
    name: str


def place(kind: str = "auto", count: int = 1) -> Placement:
    """Choose ``count`` devices of ``kind`` and build their mesh (see ``select_devices``)."""
    devices = select_devices(kind, count)
    if len(devices) > 1:
        from jax.sharding import Mesh, NamedSharding
        from jax.sharding import PartitionSpec as P

        mesh = Mesh(np.array(devices), ("data",))
        replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    else:
        replicated, batch = devices[0], None
    return Placement(tuple(devices), replicated, batch, describe_devices(devices))


def select_devices(kind: str = "auto", count: int = 1) -> list[jax.Device]:
    """Pick ``count`` devices: ``gpu``, ``cpu``, or ``auto`` (XLA's GPU when present, else CPU).

    Raises:
        ConfigError: an unknown ``kind``.
        TrainingError: no GPU for ``gpu``, or fewer devices than asked for.
    """
    if kind not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"device must be auto, cpu or gpu, got {kind!r}")
    devices: list[jax.Device] = []
    if kind in ("auto", "gpu"):
        try:
            devices = list(jax.devices("gpu"))
        except RuntimeError:
            devices = []
        if not devices and kind == "gpu":
            raise TrainingError(
                "no GPU visible to JAX (is jax[cuda12] installed and a driver present?): "
                "use --device cpu or --device auto"
            )
    if not devices:
        devices = list(jax.devices("cpu"))
    if count > len(devices):
        hint = (
            " (on CPU, simulate devices with XLA_FLAGS=--xla_force_host_platform_device_count="
            f"{count})"
            if devices[0].platform == "cpu"
            else ""
        )
        raise TrainingError(
            f"--devices {count} asked for, but only {len(devices)} {devices[0].platform} "
            f"device(s) are visible{hint}: pass --devices {len(devices)} or fewer"
        )
    return devices[:count]


def describe_devices(devices: list[jax.Device]) -> str:
    """Human description, e.g. ``cpu (TFRT_CPU_0)`` or ``4 x gpu (NVIDIA H100)``."""
    d = devices[0]
    kind = getattr(d, "device_kind", d.platform)
    if d.platform == "cpu":
        kind = f"{_cpu_model()}, {os.cpu_count()} cores"
    what = f"{d.platform} ({kind})"
    return what if len(devices) == 1 else f"{len(devices)} x {what}"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()
