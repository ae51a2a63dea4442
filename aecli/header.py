"""The checkpoint header: bounded parsing, its typed schema and its integrity digest.

A header is one JSON line. It is parsed with a length cap and a nesting cap, numbers must be
finite (``1e400`` and ``NaN`` are refused), and every field a later command reads is checked
against ``SCHEMA`` (type, range), so a damaged or hostile header is one error naming the
field, never a traceback further on. ``header_sha256`` is the sha256 of the canonical JSON of
the header without that field: with the ``payload_sha256`` inside it, it covers the whole file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

MAX_HEADER_BYTES = 16 << 20  # far above any real header (3,000 epochs of metrics: ~0.5 MB)
MAX_DEPTH = 16  # the real header nests 4 deep
DIGEST_KEY = "header_sha256"


class HeaderError(ValueError):
    """A header that does not parse or does not fit the schema (the message names the field)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HeaderError(f"number {text[:20]} is out of range")
    return value


def _no_constant(text: str) -> float:
    raise HeaderError(f"{text} is not a number a header may hold")


def parse(line: bytes) -> dict[str, Any]:
    """The header line as a dict: UTF-8 JSON, finite numbers, nesting at most ``MAX_DEPTH``."""
    depth = _max_depth(line)
    if depth > MAX_DEPTH:
        raise HeaderError(f"nested {depth} deep (at most {MAX_DEPTH})")
    try:
        value = json.loads(
            line.decode("utf-8"), parse_float=_finite_float, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise HeaderError(f"not JSON ({type(e).__name__})") from None
    if not isinstance(value, dict):
        raise HeaderError("not a JSON object")
    return value


def _max_depth(line: bytes) -> int:
    """Bracket depth outside strings, counted before parsing (so parsing never recurses deep)."""
    depth = deepest = 0
    in_str = escaped = False
    for b in line:
        if in_str:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


def digest(header: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``header`` without its own digest."""
    body = {k: v for k, v in header.items() if k != DIGEST_KEY}
    text = json.dumps(body, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------ the schema

Check = Callable[[Any], bool]


def _int(lo: int = 0, hi: int = 2**62) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _str(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= 4096


def _hex64(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def _opt(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


SCHEMA: dict[str, tuple[bool, Check, str]] = {
    # field: (required, check, what it must be)
    "magic": (True, _str, "a string"),
    "format_version": (True, _int(1, 1000), "an integer >= 1"),
    "config": (True, _dict, "an object"),
    "epoch": (True, _int(), "an integer >= 0"),
    "step": (False, _int(), "an integer >= 0"),
    "payload_bytes": (True, _int(), "an integer >= 0"),
    "payload_sha256": (True, _hex64, "64 hex digits"),
    DIGEST_KEY: (False, _hex64, "64 hex digits"),
    "has_optimizer": (False, _bool, "true or false"),
    "n_params": (False, _int(), "an integer >= 0"),
    "device": (False, _str, "a string"),
    "prng": (False, _dict, "an object"),
    "dataset": (False, _dict, "an object"),
    "versions": (False, _dict, "an object"),
    "metrics": (False, lambda v: isinstance(v, list), "a list"),
    "best_val_loss": (False, _opt(_num), "a finite number or null"),
    "best_epoch": (False, _opt(_int()), "an integer >= 0 or null"),
}

_NESTED: dict[str, dict[str, tuple[Check, str]]] = {
    "prng": {
        "seed": (_int(-(2**63), 2**64), "an integer"),
        "impl": (_str, "a string"),
        "shuffle_key": (
            lambda v: isinstance(v, list) and len(v) <= 16 and all(_int(0, 2**64)(x) for x in v),
            "a list of unsigned integers",
        ),
    },
    "dataset": {
        "name": (_str, "a string"),
        "source": (_str, "a string"),
        "n_train": (_int(), "an integer >= 0"),
        "n_validation": (_int(), "an integer >= 0"),
        "n_test": (_int(), "an integer >= 0"),
        "train_sha256": (_hex64, "64 hex digits"),
    },
}


def validate(header: dict[str, Any]) -> None:
    """Check every known field of ``header``; raise ``HeaderError`` naming the first bad one."""
    for key, (required, check, what) in SCHEMA.items():
        if key not in header:
            if required:
                raise HeaderError(f"field '{key}' is missing")
            continue
        if not check(header[key]):
            raise HeaderError(f"field '{key}' must be {what}")
    for key, fields in _NESTED.items():
        for name, (check, what) in fields.items():
            sub = header.get(key, {})
            if name in sub and not check(sub[name]):
                raise HeaderError(f"field '{key}.{name}' must be {what}")
    versions = header.get("versions", {})
    if not all(_str(k) and _str(v) for k, v in versions.items()):
        raise HeaderError("field 'versions' must map names to strings")
    for i, row in enumerate(header.get("metrics", [])):
        validate_row(row, f"metrics[{i}]")


def validate_row(row: Any, where: str) -> None:
    """Check one metrics row (header or ``metrics.jsonl``): an integer epoch, plain values.

    Raises:
        HeaderError: naming ``where`` and the bad field.
    """
    if not isinstance(row, dict):
        raise HeaderError(f"field '{where}' must be an object")
    if not _int(1)(row.get("epoch")):
        raise HeaderError(f"field '{where}.epoch' must be an integer >= 1")
    for k, v in row.items():
        if not (v is None or _num(v) or _str(v)):
            raise HeaderError(f"field '{where}.{k}' must be a finite number, a string or null")
