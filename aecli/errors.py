"""Exceptions that library code raises and ``cli.py`` turns into one-line errors.

Every message names the problem and the fix, so the CLI can print it as is.
"""

from __future__ import annotations


class AecliError(Exception):
    """A user-facing error: the message is printed as one line, exit status 1."""


class ConfigError(AecliError):
    """A config file or option value is invalid."""


class DataError(AecliError):
    """A dataset file is missing, corrupt or in the wrong format."""


class SecurityError(DataError):
    """An untrusted file tried to do something it must not (code in a pickle, unsafe paths)."""


class CheckpointError(AecliError):
    """A checkpoint or run directory cannot be loaded."""


class TrainingError(AecliError):
    """Training cannot go on (diverged, locked run directory, ...)."""


class LatentError(AecliError):
    """A latent-space request that cannot be served (wrong code size, index out of range, ...)."""


class OutputError(AecliError):
    """An output path aecli must not write (a device, a FIFO, a link, a folder, a bad suffix)."""
