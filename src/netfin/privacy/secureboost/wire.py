"""Message fields of the SecureBoost protocol: ragged row lists, bit masks, checked reads.

Everything a peer sends is checked before use: types, dtypes, lengths and
ranges; a malformed message raises ``ProtocolError`` naming the field.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from netfin.privacy.secureboost.histogram import IntArray
from netfin.privacy.transport import ProtocolError

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

KIND_SETUP = "sb.setup"
KIND_READY = "sb.ready"
KIND_COMMAND = "sb.command"
KIND_HISTOGRAMS = "sb.histograms"
KIND_SPLITS = "sb.splits"
KIND_DIRECTIONS = "sb.directions"
KIND_DONE = "sb.done"


def ragged(parts: Sequence[IntArray]) -> dict[str, np.ndarray[Any, Any]]:
    """Row lists as ``offsets`` (int64, one more than the lists) and ``rows`` (int32, concatenated)."""
    sizes = np.array([p.size for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rows = np.concatenate(list(parts)).astype(np.int32) if parts else np.empty(0, dtype=np.int32)
    return {"offsets": offsets, "rows": rows}


def int_array(message: Mapping[str, Any], name: str, *, size: int | None = None) -> IntArray:
    value = message.get(name)
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "iub":
        raise ProtocolError(f"field {name!r} must be a 1-D integer array")
    if size is not None and value.size != size:
        raise ProtocolError(f"field {name!r} must hold {size} values, not {value.size}")
    return value.astype(np.int64)


def unragged(message: Mapping[str, Any], *, lists: int, bound: int) -> list[IntArray]:
    """The row lists of ``ragged``; every row must lie in ``[0, bound)``."""
    offsets = int_array(message, "offsets", size=lists + 1)
    rows = int_array(message, "rows")
    if offsets[0] != 0 or offsets[-1] != rows.size or np.any(np.diff(offsets) < 0):
        raise ProtocolError("row offsets do not describe the rows")
    if rows.size and (rows.min() < 0 or rows.max() >= bound):
        raise ProtocolError(f"a row position lies outside [0, {bound})")
    return [rows[a:b] for a, b in itertools.pairwise(offsets.tolist())]


def pack_masks(masks: Sequence[BoolArray]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    flat = np.concatenate(list(masks)) if masks else np.empty(0, dtype=bool)
    return np.packbits(flat.astype(bool))


def unpack_masks(message: Mapping[str, Any], name: str, sizes: Sequence[int]) -> list[BoolArray]:
    value = message.get(name)
    total = int(sum(sizes))
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.size != (total + 7) // 8:
        raise ProtocolError(f"field {name!r} must hold {total} bits")
    flat = np.unpackbits(value)[:total].astype(bool)
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
    return [flat[a:b] for a, b in itertools.pairwise(edges)]


def json_int(message: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = message.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(f"field {name!r} must be an integer in [{low}, {high}]")
    return value


def json_str(message: Mapping[str, Any], name: str, *, chars_max: int = 128) -> str:
    value = message.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= chars_max:
        raise ProtocolError(f"field {name!r} must be a string of 1 to {chars_max} characters")
    return value


def blob(message: Mapping[str, Any], name: str) -> bytes:
    value = message.get(name)
    if not isinstance(value, bytes):
        raise ProtocolError(f"field {name!r} must be bytes")
    return value
