"""The audited form of a Flower message that crosses a bank's boundary.

The audit must be readable without Flower (netfin's main environment has no
``flwr``), so a message is written as JSON: its metadata, then its records by
name, every value as it travelled. Arrays keep their dtype, shape and raw
bytes (base64); ``bytes`` values (the SecAgg+ keys, shares and masked vectors)
keep their raw bytes (base64). ``decode`` gives back numpy arrays and bytes,
so an auditor can search the payloads for anything that should never leave.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from netfin.core.errors import InvalidInput

NDARRAY_TAG = "__ndarray__"
BYTES_TAG = "__bytes__"
DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"}
)


def encode(message: Mapping[str, Any]) -> bytes:
    """A message (metadata and records, numpy arrays and bytes inside) as JSON bytes."""
    return orjson.dumps(_plain(message), option=orjson.OPT_SORT_KEYS)


def decode(payload: bytes) -> dict[str, Any]:
    """The message written by ``encode``, arrays and bytes restored."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not an audited message ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidInput("an audited message is a JSON object")
    restored = _restored(value)
    if not isinstance(restored, dict):
        raise InvalidInput("an audited message is a JSON object")
    return restored


def leaves(value: Any) -> list[Any]:
    """Every array, bytes, number and string inside a decoded message."""
    if isinstance(value, Mapping):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            raise InvalidInput(f"an array of dtype {value.dtype.name} cannot be audited")
        array = np.ascontiguousarray(value)
        data = base64.b64encode(array.tobytes()).decode("ascii")
        return {NDARRAY_TAG: {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}}
    if isinstance(value, bytes | bytearray):
        return {BYTES_TAG: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise InvalidInput(f"a value of type {type(value).__name__} cannot be audited")


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {NDARRAY_TAG}:
            spec = value[NDARRAY_TAG]
            dtype = np.dtype(spec["dtype"])
            if dtype.name not in DTYPES:
                raise InvalidInput(f"an audited array has dtype {dtype.name}")
            raw = base64.b64decode(spec["data"])
            return np.frombuffer(raw, dtype=dtype).reshape(spec["shape"]).copy()
        if set(value) == {BYTES_TAG}:
            return base64.b64decode(value[BYTES_TAG])
        return {key: _restored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restored(item) for item in value]
    return value
