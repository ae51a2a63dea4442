"""The restricted unpickler: rebuilds numpy arrays, dicts, lists and plain values, nothing else.

A pickle reaches code only through ``find_class``; here that door opens onto a short allow-list
of numpy rebuilders, each wrapped so that it refuses object dtypes and ndarray subclasses.
Anything else is refused before it is imported, let alone called, and the loaded value is
walked once more to make sure only arrays and plain values remain.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

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


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild numpy arrays, dtypes, dicts, lists and plain values.

    ``find_class`` is the single door through which a pickle reaches code (GLOBAL, STACK_GLOBAL,
    INST, OBJ and the extension registry all go through it), so anything not on the allow-list is
    refused before it is imported, let alone called.
    """

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file)
        self._path = path
        self._allowed = _allowed_globals(path)

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


def _walk_check(obj: Any, path: Path, depth: int = 0) -> None:
    """After loading: only dicts/lists/tuples of arrays and plain scalars may remain."""
    if depth > 20:
        raise SecurityError(f"{path}: refusing to load: nesting too deep")
    if isinstance(obj, np.ndarray):
        _no_objects(obj.dtype, path)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _walk_check(k, path, depth + 1)
            _walk_check(v, path, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _walk_check(v, path, depth + 1)
    elif obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.generic)):
        pass
    else:
        raise SecurityError(f"{path}: refusing to load: unexpected {type(obj).__name__} object")


def restricted_load(path: str | Path) -> Any:
    """Unpickle ``path`` allowing only numpy arrays/dtypes, dicts, lists and plain scalars.

    Raises:
        SecurityError: the pickle names any other callable or class (nothing is imported or run).
        DataError: not a pickle, or truncated.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except (Exception, MemoryError, RecursionError) as e:  # malformed opcodes fail in many ways
        raise bad_file(
            path,
            f"not a readable pickle, or truncated ({type(e).__name__}: {e})",
            "rebuild it, or convert it to .npz",
        ) from None
    _walk_check(obj, path)
    return obj
