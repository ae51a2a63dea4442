"""Tar archives read with every cost bounded before it is paid.

Python's :mod:`tarfile` reads a GNU long-name, long-link or pax header in full, whatever size
it claims, and follows a chain of them by recursion; in stream mode it also keeps every member
it has seen. :class:`BoundedTarInfo` checks the size of each such extension header (and the
length of a chain of them) from its 512-byte block before a byte of it is read, and
:func:`members` walks an archive forgetting each member once it is passed, refusing an archive
with too many members, a member claiming too many bytes, too many bytes in all, or one that
takes too long. Every cap is in :mod:`aecli.data.formats.limits`.
"""

from __future__ import annotations

import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aecli.data.formats.limits as limits
from aecli.data.types import bad_file
from aecli.errors import DataError

_EXTENSION_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_FIX = "the archive is damaged or not a notMNIST archive; download it again or repack it"


class TarLimitError(tarfile.TarError):
    """An archive passed one of the caps (raised inside tarfile, turned into a DataError)."""


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo whose extension headers are checked against the caps before they are read.

    ``_proc_member`` is the one place tarfile dispatches on a header's type (and reads a long
    name or pax block); a chain of extension headers recurses through it, so a depth count on
    the archive object bounds the chain.
    """

    def _proc_member(self, tarfile_: Any) -> Any:
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise TarLimitError(f"member {self.name!r} is a GNU sparse file")
        if self.type not in _EXTENSION_TYPES:
            return super()._proc_member(tarfile_)
        if self.size > limits.MAX_TAR_HEADER_BYTES:
            raise TarLimitError(
                f"a long-name or pax header claims {self.size:,} bytes (at most "
                f"{limits.MAX_TAR_HEADER_BYTES:,} accepted)"
            )
        depth = getattr(tarfile_, "_aecli_chain", 0) + 1
        if depth > limits.MAX_TAR_HEADER_CHAIN:
            raise TarLimitError(
                f"more than {limits.MAX_TAR_HEADER_CHAIN} long-name or pax headers in a row"
            )
        tarfile_._aecli_chain = depth
        try:
            return super()._proc_member(tarfile_)
        finally:
            tarfile_._aecli_chain = depth - 1


def as_data_error(e: TarLimitError, path: Path) -> DataError:
    """The one-line error of an archive that passed a cap."""
    return bad_file(path, str(e), _FIX)


def members(tar: tarfile.TarFile, path: Path) -> Iterator[tarfile.TarInfo]:
    """Every member of a stream-mode archive, each checked against the caps from its header.

    Raises:
        DataError: too many members, a member over :data:`~limits.MAX_TAR_MEMBER_BYTES`, more
            than :data:`~limits.MAX_TAR_BYTES` in all, or more than
            :data:`~limits.MAX_DECODE_SECONDS` spent.
    """
    started = time.monotonic()
    count = total = 0
    while True:
        try:
            member = tar.next()
        except TarLimitError as e:
            raise as_data_error(e, path) from None
        if member is None:
            return
        # Stream mode keeps every TarInfo it has seen; nothing here looks back, so forget them
        # (notMNIST_large has 529,000 members: a few hundred MB of TarInfo objects otherwise).
        tar.members.clear()
        count += 1
        total += max(member.size, 0)
        if count > limits.MAX_TAR_MEMBERS:
            raise bad_file(path, f"more than {limits.MAX_TAR_MEMBERS:,} members", _FIX)
        if member.size > limits.MAX_TAR_MEMBER_BYTES:
            raise bad_file(
                path,
                f"member {member.name[:200]!r} claims {member.size:,} bytes (at most "
                f"{limits.MAX_TAR_MEMBER_BYTES:,} accepted)",
                _FIX,
            )
        if total > limits.MAX_TAR_BYTES:
            raise bad_file(
                path, f"its members hold more than {limits.MAX_TAR_BYTES:,} bytes in all", _FIX
            )
        if time.monotonic() - started > limits.MAX_DECODE_SECONDS:
            raise bad_file(
                path,
                f"decoding took more than {limits.MAX_DECODE_SECONDS:,.0f} s ({count:,} members "
                "so far)",
                _FIX,
            )
        yield member
