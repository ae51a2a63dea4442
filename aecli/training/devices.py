"""Where training runs: device choice, the data-parallel mesh and its shardings.

Several devices (``train.devices = N``): the same code path under a ``jax.sharding.Mesh``
with one ``data`` axis. Parameters and optimizer state are replicated, every batch is split
over the devices (when the batch size does not divide by N it is padded with weight-0 rows up
to the next multiple, which changes nothing numerically), and XLA inserts the gradient
all-reduce. The images are replicated on every device (the row gather needs them; MNIST is
43 MB). Results equal the one-device run to float rounding, not bit for bit (the sums are
split differently).

Several processes (hosts, GPU nodes; ``aecli.distributed``): ``jax.devices()``
lists the devices of every process, so the mesh spans them all: ``--devices`` counts the
devices of all processes, and left at 1 (its default) means all of them. Every process holds
the same data and seed and draws the same permutation; ``put`` hands each process's own copy
to JAX as its part of a global array (``jax.make_array_from_process_local_data``), and each
device gathers only its own rows of every batch inside the compiled step.
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
    """Choose ``count`` devices of ``kind`` and build their mesh (see ``select_devices``).

    In a job of several processes, ``count`` 1 means every device of every process, and the
    devices chosen must include one of each process.

    Raises:
        TrainingError: as ``select_devices``, or a process left without a device.
    """
    processes = jax.process_count()
    if processes > 1 and count == 1:
        count = len(select_devices(kind, None))
    devices = select_devices(kind, count)
    if len({d.process_index for d in devices}) < processes:
        raise TrainingError(
            f"--devices {count} leaves some of the {processes} processes without a device: "
            f"pass --devices {len(select_devices(kind, None))} (all of them) or leave it out"
        )
    if len(devices) > 1:
        from jax.sharding import Mesh, NamedSharding
        from jax.sharding import PartitionSpec as P

        mesh = Mesh(np.array(devices), ("data",))
        replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    else:
        replicated, batch = devices[0], None
    return Placement(tuple(devices), replicated, batch, describe_devices(devices))


def select_devices(kind: str = "auto", count: int | None = 1) -> list[jax.Device]:
    """Pick ``count`` devices: ``gpu``, ``cpu``, or ``auto`` (XLA's GPU when present, else CPU).

    ``count`` None: all of them. In a multi-process job the devices of every process count.

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
    if count is None:
        return devices
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
    """Human description, e.g. ``cpu (TFRT_CPU_0)``, ``4 x gpu (NVIDIA H100)``, or
    ``8 x gpu (NVIDIA H100) in 2 processes``."""
    d = devices[0]
    kind = getattr(d, "device_kind", d.platform)
    if d.platform == "cpu":
        kind = f"{_cpu_model()}, {os.cpu_count()} cores"
    what = f"{d.platform} ({kind})"
    what = what if len(devices) == 1 else f"{len(devices)} x {what}"
    processes = len({d.process_index for d in devices})
    return what if processes == 1 else f"{what} in {processes} processes"


def put(tree: Any, where: Any) -> Any:
    """Place a PyTree of host or local values, the same in every process, at ``where``.

    ``jax.device_put`` within one process. When ``where`` spans several processes, each
    process's copy becomes its part of a global array (``make_array_from_process_local_data``,
    the sharding guide's way), with no check that the copies agree (they come from the same
    seed and data).
    """
    if where is None or getattr(where, "is_fully_addressable", True):
        return jax.device_put(tree, where)
    return jax.tree.map(lambda x: _global(x, where), tree)


def _global(x: Any, where: Any) -> jax.Array:
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = jax.make_array_from_process_local_data(where, np.asarray(jax.random.key_data(x)))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    return jax.make_array_from_process_local_data(where, np.asarray(x))


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()
