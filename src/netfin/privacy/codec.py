"""The wire format of the privacy protocols: a JSON header and raw buffers, never pickle.

A message is a mapping of names to values of four kinds:

- JSON-able values (numbers, strings, lists, mappings);
- ``numpy`` arrays of a fixed set of numeric dtypes (never ``object``);
- ``bytes``;
- ``BigInts``: a list of non-negative integers of any size (ciphertexts),
  written at one fixed width.

Layout: ``NFP1``, a 4-byte big-endian header length, the JSON header, then the
buffers back to back. Decoding checks every offset against the body and every
size against ``MESSAGE_BYTES_MAX``, so a hostile peer can make it fail but not
allocate without bound or run code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from netfin.core.errors import InvalidInput, LimitExceeded

MAGIC = b"NFP1"
MESSAGE_BYTES_MAX = 1 << 30
HEADER_BYTES_MAX = 16 << 20
DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"}
)


class BigInts(list[int]):
    """Non-negative integers of any size, sent at one fixed byte width."""


def dumps(message: Mapping[str, Any]) -> bytes:
    fields: dict[str, Any] = {}
    buffers: list[bytes] = []
    offset = 0

    def add(buffer: bytes) -> tuple[int, int]:
        nonlocal offset
        buffers.append(buffer)
        start, offset = offset, offset + len(buffer)
        return start, len(buffer)

    for name, value in message.items():
        if isinstance(value, np.ndarray):
            if value.dtype.name not in DTYPES:
                raise InvalidInput(f"field {name!r}: dtype {value.dtype.name} cannot be sent")
            array = np.ascontiguousarray(value)
            start, size = add(array.tobytes())
            fields[name] = {
                "t": "nd",
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "o": start,
                "n": size,
            }
        elif isinstance(value, BigInts):
            width = max((v.bit_length() for v in value), default=0) // 8 + 1
            if any(v < 0 for v in value):
                raise InvalidInput(f"field {name!r}: big integers must not be negative")
            start, size = add(b"".join(v.to_bytes(width, "big") for v in value))
            fields[name] = {"t": "big", "w": width, "count": len(value), "o": start, "n": size}
        elif isinstance(value, (bytes, bytearray, memoryview)):
            start, size = add(bytes(value))
            fields[name] = {"t": "bytes", "o": start, "n": size}
        else:
            fields[name] = {"t": "json", "v": value}
    header = orjson.dumps({"fields": fields}, option=orjson.OPT_SERIALIZE_NUMPY)
    body = b"".join(buffers)
    total = len(MAGIC) + 4 + len(header) + len(body)
    if total > MESSAGE_BYTES_MAX:
        raise LimitExceeded(f"message of {total} bytes exceeds {MESSAGE_BYTES_MAX}")
    return MAGIC + len(header).to_bytes(4, "big") + header + body


def loads(data: bytes) -> dict[str, Any]:
    if len(data) > MESSAGE_BYTES_MAX:
        raise LimitExceeded(f"message of {len(data)} bytes exceeds {MESSAGE_BYTES_MAX}")
    if data[:4] != MAGIC or len(data) < 8:
        raise InvalidInput("not a netfin privacy message")
    size = int.from_bytes(data[4:8], "big")
    if size > HEADER_BYTES_MAX or 8 + size > len(data):
        raise InvalidInput("message header is truncated or too large")
    try:
        header = orjson.loads(data[8 : 8 + size])
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"message header is not JSON: {exc}") from exc
    body = memoryview(data)[8 + size :]
    fields = header.get("fields") if isinstance(header, dict) else None
    if not isinstance(fields, dict):
        raise InvalidInput("message header has no fields")
    return {name: _field(name, spec, body) for name, spec in fields.items()}


def _slice(name: str, spec: Mapping[str, Any], body: memoryview) -> memoryview:
    start, size = spec.get("o"), spec.get("n")
    if not isinstance(start, int) or not isinstance(size, int) or start < 0 or size < 0:
        raise InvalidInput(f"field {name!r}: bad offsets")
    if start + size > len(body):
        raise InvalidInput(f"field {name!r}: runs past the end of the message")
    return body[start : start + size]


def _field(name: str, spec: Any, body: memoryview) -> Any:
    if not isinstance(spec, dict):
        raise InvalidInput(f"field {name!r}: bad description")
    kind = spec.get("t")
    if kind == "json":
        return spec.get("v")
    raw = _slice(name, spec, body)
    if kind == "bytes":
        return bytes(raw)
    if kind == "nd":
        return _array(name, spec, raw)
    if kind == "big":
        width, count = spec.get("w"), spec.get("count")
        if (
            not isinstance(width, int)
            or not isinstance(count, int)
            or width <= 0
            or width * count != len(raw)
        ):
            raise InvalidInput(f"field {name!r}: bad big-integer layout")
        blob = bytes(raw)
        return BigInts(int.from_bytes(blob[i : i + width], "big") for i in range(0, len(blob), width))
    raise InvalidInput(f"field {name!r}: unknown kind {kind!r}")


def _array(name: str, spec: Mapping[str, Any], raw: memoryview) -> np.ndarray[Any, Any]:
    try:
        dtype = np.dtype(str(spec.get("dtype")))
    except TypeError as exc:
        raise InvalidInput(f"field {name!r}: unknown dtype") from exc
    shape = spec.get("shape")
    if (
        dtype.name not in DTYPES
        or not isinstance(shape, list)
        or not all(isinstance(s, int) and s >= 0 for s in shape)
    ):
        raise InvalidInput(f"field {name!r}: bad array description")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(raw):
        raise InvalidInput(f"field {name!r}: shape does not match the data")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def as_big_ints(values: Sequence[int]) -> BigInts:
    return BigInts(values)
