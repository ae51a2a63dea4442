"""Checkpoints: one JSON header line, then ``eqx.tree_serialise_leaves`` of (model, optimizer).

The header carries the whole resolved config, so any command rebuilds the model from the
checkpoint alone: the skeleton comes from ``eqx.filter_eval_shape`` on the header's config and
the leaves are read into it. No pickle anywhere. The header also records the length and
sha256 of the weights and a sha256 of the header itself (``aecli/header.py``), so a truncated
or altered file, header included, is an error, never a silent load.
Writes are atomic (temporary file in the same folder, fsync, rename), so a crash or a full
disk during a save leaves the previous checkpoint as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx

from aecli import config as config_mod
from aecli import header as header_mod
from aecli.atomic import atomic_write_bytes
from aecli.errors import CheckpointError
from aecli.rundir import RunDir

MAGIC = "aecli-checkpoint"
FORMAT_VERSION = 1
LATEST = RunDir.LATEST  # the names ``which`` takes
BEST = RunDir.BEST


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: the file it was read from.
        header: the JSON header (config, epoch, step, dataset, versions, ...).
        config: the resolved run config rebuilt from the header.
        model: the ``TiedAutoencoder``.
        opt_state: the optimizer state, or None when not requested.
    """

    path: Path
    header: dict[str, Any]
    config: config_mod.Config
    model: Any
    opt_state: Any | None

    @property
    def epoch(self) -> int:
        """Number of finished epochs when the checkpoint was written."""
        return int(self.header.get("epoch", 0))

    @property
    def run_dir(self) -> Path:
        """The run directory holding this checkpoint."""
        return self.path.parent


def save_checkpoint(
    path: str | Path, *, model: Any, opt_state: Any, header: dict[str, Any]
) -> Path:
    """Serialise ``(model, opt_state)`` behind a JSON header, atomically.

    Args:
        path: destination file.
        model: the model PyTree.
        opt_state: the optimizer state PyTree (may be None).
        header: JSON-serialisable metadata; must contain ``config`` (``Config.to_dict()``).

    Returns:
        The destination path.
    """
    if "config" not in header:
        raise ValueError("checkpoint header needs the resolved config")
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, (model, opt_state))
    payload = buf.getvalue()
    full = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        **header,
        "has_optimizer": opt_state is not None,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    full[header_mod.DIGEST_KEY] = header_mod.digest(full)
    line = json.dumps(full, sort_keys=True, allow_nan=False).encode("utf-8") + b"\n"
    atomic_write_bytes(path, line + payload)
    return Path(path)


def resolve_path(path: str | Path, *, which: str = LATEST) -> Path:
    """A run directory or a checkpoint file to the checkpoint file to read."""
    p = Path(path)
    if p.is_dir():
        f = p / which
        if not f.is_file():
            raise CheckpointError(
                f"no checkpoint in {p} ({which} missing): train first with "
                f"'aecli train --run-dir {p}' or pass the right run directory"
            )
        return f
    if not p.exists():
        raise CheckpointError(
            f"run directory or checkpoint {p} not found: pass a run directory made by 'aecli train'"
        )
    return p


def read_header(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """Read and check a checkpoint: header (bounded, schema, digest) and weights (length, hash).

    Refuses at once anything that is not a regular file (a FIFO, ``/dev/zero``, a device),
    reads the header line with a length cap and checks the payload length against the file
    size before reading it.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(fd).st_size
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CheckpointError(
                f"checkpoint {path} is not a regular file: pass a file written by 'aecli train'"
            )
        try:
            head = f.readline(header_mod.MAX_HEADER_BYTES + 1)
            header = _checked_header(path, head, size)
            payload = f.read(header["payload_bytes"])
        except OSError as e:
            raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise CheckpointError(
            f"{path} is damaged (weights do not match their checksum): "
            "use the run's other checkpoint or resume/retrain"
        )
    return header, payload


def _checked_header(path: Path, head: bytes, size: int) -> dict[str, Any]:
    """The parsed, schema-checked, digest-checked header of a file of ``size`` bytes."""
    if not head.endswith(b"\n"):
        raise CheckpointError(
            f"{path} is not an aecli checkpoint (no header line in its first "
            f"{header_mod.MAX_HEADER_BYTES >> 20} MiB): pass a file written by 'aecli train'"
        )
    try:
        header = header_mod.parse(head[:-1])
    except header_mod.HeaderError as e:
        raise CheckpointError(
            f"{path} is not an aecli checkpoint (header {e}): pass a file written by 'aecli train'"
        ) from None
    if header.get("magic") != MAGIC:
        raise CheckpointError(
            f"{path} is not an aecli checkpoint (header is not aecli JSON): "
            "pass a file written by 'aecli train'"
        )
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}, newer than this aecli reads "
            f"({FORMAT_VERSION}): upgrade aecli"
        )
    try:
        header_mod.validate(header)
    except header_mod.HeaderError as e:
        raise CheckpointError(
            f"{path} has a damaged checkpoint header ({e}): use the run's other checkpoint "
            "or resume/retrain"
        ) from None
    if (
        header_mod.DIGEST_KEY in header
        and header_mod.digest(header) != header[header_mod.DIGEST_KEY]
    ):
        raise CheckpointError(
            f"{path} is damaged (its header does not match its checksum): "
            "use the run's other checkpoint or resume/retrain"
        )
    have = size - len(head)
    if header["payload_bytes"] != have:
        raise CheckpointError(
            f"{path} is truncated or damaged ({have} of {header['payload_bytes']} weight "
            "bytes): use the run's other checkpoint or resume/retrain"
        )
    return header


def load_checkpoint(
    path: str | Path, *, which: str = LATEST, with_optimizer: bool = False
) -> Checkpoint:
    """Load a checkpoint (file, or run directory + ``which``) and rebuild model (and optimizer).

    Raises:
        CheckpointError: missing, not a checkpoint, newer format, truncated, or weights that do
            not fit the architecture in its header.
    """
    from aecli.model import model_skeleton
    from aecli.optim import make_optimizer

    file = resolve_path(path, which=which)
    header, payload = read_header(file)
    try:
        cfg = config_mod.from_dict(header["config"])
    except (KeyError, TypeError, ValueError, config_mod.ConfigError) as e:
        raise CheckpointError(f"{file} has an invalid config in its header ({e})") from None
    model_like = model_skeleton(cfg.model)
    opt_like = None
    if header.get("has_optimizer"):
        opt_like = eqx.filter_eval_shape(make_optimizer(cfg.train).init, model_like)
    try:
        model, opt_state = eqx.tree_deserialise_leaves(io.BytesIO(payload), (model_like, opt_like))
    except Exception as e:  # shape mismatch, short read: the header lies about the weights
        raise CheckpointError(
            f"{file}: weights do not match the architecture in its header ({type(e).__name__}): "
            "the file is damaged or from another model"
        ) from None
    return Checkpoint(file, header, cfg, model, opt_state if with_optimizer else None)
