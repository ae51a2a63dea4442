"""The restricted unpickler: rebuilds numpy arrays, dicts, lists and plain values, nothing else.

A pickle reaches code only through ``find_class``; here that door opens onto a short allow-list
of numpy rebuilders, each wrapped so that it refuses object dtypes and ndarray subclasses.
Anything else is refused before it is imported, let alone called, and the loaded value is
walked once more to make sure only arrays and plain values remain.
"""

from __future__ import annotations

import math
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

import aecli.data.formats.limits as limits
from aecli.data.bounded import file_size, open_regular
from aecli.data.types import bad_file
from aecli.errors import DataError, SecurityError


def _np_attr(*dotted: str) -> Any:
    """The first numpy attribute that exists (numpy 2 moved ``numpy.core`` to ``numpy._core``)."""
    import importlib

    for name in dotted:
        module, _, attr = name.rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    raise ImportError(dotted[0])


def _no_objects(dtype: np.dtype, path: Path) -> np.dtype:
    if dtype.hasobject:
        raise SecurityError(
            f"{path}: refusing to load: the pickle holds an array of Python objects (nothing was "
            "run): save plain numeric arrays, or convert the file to .npz"
        )
    return dtype


_NDARRAY = object()  # what a pickle gets for numpy.ndarray: a token, not callable


def _allowed_globals(path: Path) -> dict[tuple[str, str], Any]:
    """The only callables a pickle may name: numpy array/dtype rebuilders, each wrapped."""
    reconstruct = _np_attr(
        "numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct"
    )
    scalar = _np_attr("numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar")
    frombuffer = _np_attr("numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer")

    def _reconstruct(cls: Any, shape: Any, typecode: Any) -> np.ndarray:
        if cls is not _NDARRAY:  # an ndarray subclass could run code in __array_finalize__
            raise SecurityError(
                f"{path}: refusing to load: the pickle rebuilds an ndarray subclass (nothing was "
                "run): save plain numpy arrays, or convert the file to .npz"
            )
        return reconstruct(np.ndarray, shape, typecode)

    def _dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
        return _no_objects(np.dtype(obj, align=align, copy=copy), path)

    def _scalar(dtype: np.dtype, *args: Any) -> Any:
        return scalar(_no_objects(dtype, path), *args)

    def _frombuffer(buf: Any, dtype: np.dtype, shape: Any, order: str) -> np.ndarray:
        return frombuffer(buf, _no_objects(dtype, path), shape, order)

    def _encode(text: str, encoding: str = "utf-8") -> bytes:
        # Protocol 2 pickles store bytes as _codecs.encode(str, "latin1"); nothing else is allowed.
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise SecurityError(f"{path}: refusing to load: unexpected _codecs.encode call")
        return text.encode("latin1")

    allowed: dict[tuple[str, str], Any] = {("_codecs", "encode"): _encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = _scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    # numpy.ndarray appears in real pickles only as _reconstruct's first argument. A token stands
    # in for it, so a pickle cannot call ndarray((10**12,)) itself to exhaust memory.
    allowed[("numpy", "ndarray")] = _NDARRAY
    allowed[("numpy", "dtype")] = _dtype
    return allowed


class _Refused(pickle.UnpicklingError):
    """A pickle passed one of the work or size caps (the message says which)."""


class _BoundedFile:
    """The pickle file as the unpickler reads it: no read may claim more than the file holds.

    A length field of ``BINBYTES8`` or a frame can claim 2**63 bytes; Python's file ``read(n)``
    allocates ``n`` bytes before it reads, so the claim is checked against what is left first.
    """

    def __init__(self, f: Any, size: int) -> None:
        self._f = f
        self._size = size

    def _left(self) -> int:
        return self._size - self._f.tell()

    def read(self, n: int) -> bytes:
        if n > self._left():
            # Truncated, or a lying length: either way nothing is allocated for it.
            raise EOFError(f"it claims {n:,} bytes where only {self._left():,} are left")
        return self._f.read(n)

    def readline(self) -> bytes:
        line = self._f.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _Refused(f"a text opcode's line is longer than {_MAX_LINE:,} bytes")
        return line


_MAX_LINE = 1 << 20  # a protocol-0 opcode's argument line (a number, a name)


def _counted(load: Any) -> Any:
    """An opcode handler that first counts one object made against the cap."""

    def run(self: _RestrictedUnpickler) -> None:
        self._count()
        load(self)

    return run


class _RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """An unpickler that can only rebuild numpy arrays, dtypes, dicts, lists and plain values.

    ``find_class`` is the single door through which a pickle reaches code (GLOBAL, STACK_GLOBAL,
    INST, OBJ and the extension registry all go through it), so anything not on the allow-list is
    refused before it is imported, let alone called. It is Python's own unpickler (not the C
    one) so that the opcodes that allocate can be checked first: every array's bytes count
    against :data:`~aecli.data.formats.limits.MAX_PICKLE_ARRAY_BYTES` before ``BUILD`` fills
    it, objects made count against :data:`~aecli.data.formats.limits.MAX_PICKLE_OPS`, and a
    ``BYTEARRAY8`` may not claim more than the file holds.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: _BoundedFile, path: Path) -> None:
        super().__init__(file)
        self._path = path
        self._allowed = _allowed_globals(path)
        self._array_bytes = 0
        self._made = 0

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise SecurityError(
                f"{self._path}: refusing to load: the pickle asks for {module}.{name}, and only "
                "numpy arrays, dicts and plain values are allowed (nothing was run): rebuild it "
                "from numpy arrays only, or convert it to .npz"
            ) from None

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise SecurityError(f"{self._path}: refusing to load: the pickle uses persistent ids")

    def _count(self) -> None:
        self._made += 1
        if self._made > limits.MAX_PICKLE_OPS:
            raise _Refused(f"it makes more than {limits.MAX_PICKLE_OPS:,} objects")

    def _load_build(self) -> None:
        self._count()
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray):
            self._charge_array(state)
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]

    def _charge_array(self, state: Any) -> None:
        """Count an array's bytes against the cap before ndarray.__setstate__ allocates them."""
        if not (isinstance(state, tuple) and len(state) == 5):
            raise _Refused("an array's state is not numpy's (version, shape, dtype, order, data)")
        _, shape, dtype, _, _ = state
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
            raise _Refused("an array's state has no dtype or shape")
        if not all(isinstance(d, int) and 0 <= d for d in shape):
            raise _Refused(f"an array has the shape {shape!r}")
        self._array_bytes += math.prod(shape) * dtype.itemsize
        if self._array_bytes > limits.MAX_PICKLE_ARRAY_BYTES:
            raise _Refused(
                f"its arrays would hold more than {limits.MAX_PICKLE_ARRAY_BYTES:,} bytes"
            )

    def _load_bytearray8(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        data = self.read(n)  # bounded by what the file holds, before anything is allocated
        self.append(bytearray(data))

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    # Every other opcode that calls something or makes an object is counted, then run as is.
    for _op in (pickle.REDUCE, pickle.NEWOBJ, pickle.NEWOBJ_EX, pickle.OBJ, pickle.INST):
        dispatch[_op[0]] = _counted(dispatch[_op[0]])
    del _op


def _walk_check(obj: Any, path: Path) -> None:
    """After loading: only dicts/lists/tuples of arrays and plain scalars may remain.

    Each object is visited once however often it is shared (a 12 KB pickle can describe 10**18
    paths through shared lists), nesting is at most 20 deep and the visits are counted.
    """
    seen: set[int] = set()
    todo: list[tuple[Any, int]] = [(obj, 0)]
    visits = 0
    while todo:
        item, depth = todo.pop()
        visits += 1
        if visits > limits.MAX_PICKLE_OPS:
            raise SecurityError(
                f"{path}: refusing to load: more than {limits.MAX_PICKLE_OPS:,} objects: save "
                "plain numeric arrays, or convert the file to .npz"
            )
        if depth > 20:
            raise SecurityError(f"{path}: refusing to load: nesting too deep")
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = (
                [x for kv in item.items() for x in kv] if isinstance(item, dict) else list(item)
            )
            todo.extend((c, depth + 1) for c in children)
        elif isinstance(item, np.ndarray):
            _no_objects(item.dtype, path)
        elif item is None or isinstance(item, (bool, int, float, complex, str, bytes, np.generic)):
            pass
        else:
            kind = type(item).__name__
            raise SecurityError(f"{path}: refusing to load: unexpected {kind} object")


def restricted_load(path: str | Path) -> Any:
    """Unpickle ``path`` allowing only numpy arrays/dtypes, dicts, lists and plain scalars.

    Raises:
        SecurityError: the pickle names any other callable or class (nothing is imported or run),
            or its object graph is too large or too deep.
        DataError: not a pickle, truncated, or over a cap on its arrays' bytes or its work.
    """
    path = Path(path)
    try:
        with open_regular(path) as f:
            bounded = _BoundedFile(f, file_size(f))
            obj = _RestrictedUnpickler(bounded, path).load()
    except DataError:
        raise
    except _Refused as e:
        raise bad_file(
            path, f"refusing to load: {e}", "rebuild it from plain numpy arrays, or use .npz"
        ) from None
    except (Exception, MemoryError, RecursionError) as e:  # malformed opcodes fail in many ways
        raise bad_file(
            path,
            f"not a readable pickle, or truncated ({type(e).__name__}: {str(e)[:200]})",
            "rebuild it, or convert it to .npz",
        ) from None
    _walk_check(obj, path)
    return obj
