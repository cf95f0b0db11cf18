"""A fingerprint of the data a model was trained on, so a model can be traced to its data.

The hash covers the selected columns' names (sorted), their Arrow types and
their values in row order, and nothing else: the same logical data gives the
same fingerprint however it was chunked, sliced or stored (Arrow IPC bytes
of the same data can differ with chunking and validity buffers, so values
are hashed in a canonical form instead). Each column is hashed in slices,
so memory stays flat on tens of millions of rows.

Canonical form per column: the type name; then per slice the validity bits
(packed), and the values with nulls zeroed, as little-endian fixed-width
numbers, or for strings the byte lengths (int64) and the UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netfin.core.errors import InvalidInput

SLICE_ROWS = 1 << 20


def _hash_strings(hasher: Any, values: pa.Array) -> None:
    """Lengths then bytes of a (large) string array, read from its buffers wherever it starts."""
    values = values.cast(pa.large_string())
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype="<i8")[values.offset : values.offset + len(values) + 1]
    hasher.update(np.diff(offsets).astype("<i8").tobytes())
    if buffers[2] is not None and offsets.size:
        hasher.update(memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])])


def _hash_slice(hasher: Any, values: pa.Array) -> None:
    hasher.update(np.packbits(pc.is_valid(values).to_numpy(zero_copy_only=False)).tobytes())
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        _hash_strings(hasher, pc.fill_null(values, ""))
    elif pa.types.is_boolean(kind):
        hasher.update(np.packbits(pc.fill_null(values, False).to_numpy(zero_copy_only=False)).tobytes())
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        filled = pc.fill_null(values, pa.scalar(0, kind)).to_numpy(zero_copy_only=False)
        hasher.update(filled.astype(filled.dtype.newbyteorder("<"), copy=False).tobytes())
    else:
        raise InvalidInput(f"cannot fingerprint a column of type {kind}", code="fingerprint_type")


def fingerprint_table(table: pa.Table, columns: Sequence[str], time: str) -> dict[str, Any]:
    """sha256 of the selected columns, with the row count and the time range (``time`` in ms)."""
    names = sorted(set(columns))
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise InvalidInput(f"the table lacks columns {missing}", code="fingerprint_missing")
    hasher = hashlib.sha256()
    hasher.update(f"netfin-fingerprint-1 rows={table.num_rows}\n".encode())
    for name in names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):  # the values count, not how they were encoded
            column = column.cast(column.type.value_type)
        hasher.update(f"column {name} {column.type}\n".encode())
        for start in range(0, table.num_rows, SLICE_ROWS):
            piece = column.slice(start, SLICE_ROWS)
            _hash_slice(
                hasher, pa.concat_arrays(piece.chunks) if piece.num_chunks else pa.array([], column.type)
            )
    ts = table.column(time)
    return {
        "sha256": hasher.hexdigest(),
        "columns": names,
        "rows": table.num_rows,
        "ts_ms_min": pc.min(ts).as_py(),
        "ts_ms_max": pc.max(ts).as_py(),
    }
