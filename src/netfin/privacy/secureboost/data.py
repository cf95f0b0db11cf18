"""A party's own CSV file: ids, numeric features and (at the guest) a binary label.

Each party reads only its own file. Checks at the boundary: the file exists
and is not too large, the id column is there with unique non-empty ids, at
most ``ROWS_MAX`` rows and ``FEATURES_MAX`` features, every feature numeric
(empty cells are missing values; infinities are refused), and the label, if
asked for, holds only 0 and 1 with both present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.privacy.secureboost.histogram import FloatArray, IntArray
from netfin.privacy.secureboost.model import FEATURES_MAX, ROWS_MAX

FILE_BYTES_MAX = 2 << 30
TEST_SIZE_MAX = 0.9


@dataclass(frozen=True)
class PartyTable:
    ids: list[str]
    features: list[str]
    values: FloatArray  # (rows, features), NaN where missing
    labels: FloatArray | None = None

    def rows_of(self, ids: Sequence[str]) -> IntArray:
        """This table's row of each id (all must be present)."""
        index = {v: i for i, v in enumerate(self.ids)}
        missing = [v for v in ids if v not in index]
        if missing:
            raise InvalidInput(f"{len(missing)} ids of the intersection are not in this table")
        return np.fromiter((index[v] for v in ids), dtype=np.int64, count=len(ids))


def _read(path: Path, id_column: str) -> pa.Table:
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if path.stat().st_size > FILE_BYTES_MAX:
        raise LimitExceeded(f"{path.name} is larger than {FILE_BYTES_MAX >> 20} MiB")
    try:
        return pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={id_column: pa.string()})
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path.name} is not a readable CSV file: {exc}") from exc


def _ids(table: pa.Table, path: Path, id_column: str) -> list[str]:
    if id_column not in table.column_names:
        raise InvalidInput(
            f"{path.name}: no id column {id_column!r} (columns: {', '.join(table.column_names)})"
        )
    ids = table.column(id_column).to_pylist()
    if any(v is None or v == "" for v in ids):
        raise InvalidInput(f"{path.name}: an empty id in {id_column!r}")
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{path.name}: ids in {id_column!r} are not unique")
    return [str(v) for v in ids]


def _numeric(table: pa.Table, path: Path, names: list[str]) -> FloatArray:
    bad = [n for n in names if not (pa.types.is_integer(t := table.schema.field(n).type) or
                                    pa.types.is_floating(t) or pa.types.is_null(t))]  # fmt: skip
    if bad:
        raise InvalidInput(f"{path.name}: non-numeric feature columns {bad}")
    values = np.empty((table.num_rows, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        values[:, j] = np.asarray(column, dtype=np.float64)
    if np.isinf(values).any():
        raise InvalidInput(f"{path.name}: infinite feature values")
    return values


def _labels(table: pa.Table, path: Path, target: str) -> FloatArray:
    if target not in table.column_names:
        raise InvalidInput(f"{path.name}: no target column {target!r}")
    raw = table.column(target).to_pylist()
    allowed = {0, 1}
    if any(v is None or isinstance(v, str) or v not in allowed for v in raw):
        raise InvalidInput(f"{path.name}: the target {target!r} must hold only 0 and 1")
    labels = np.asarray(raw, dtype=np.float64)
    if labels.min() == labels.max():
        raise InvalidInput(f"{path.name}: the target {target!r} holds a single class")
    return labels


def read_party_csv(path: Path, *, id_column: str, target: str | None = None) -> PartyTable:
    """One party's table; ``target`` only at the guest."""
    table = _read(path, id_column)
    if table.num_rows == 0:
        raise InvalidInput(f"{path.name} has no rows")
    if table.num_rows > ROWS_MAX:
        raise LimitExceeded(f"{path.name} has {table.num_rows} rows, more than {ROWS_MAX}")
    ids = _ids(table, path, id_column)
    names = [n for n in table.column_names if n not in (id_column, target)]
    if not names:
        raise InvalidInput(f"{path.name} has no feature columns")
    if len(names) > FEATURES_MAX:
        raise LimitExceeded(f"{path.name} has {len(names)} features, more than {FEATURES_MAX}")
    labels = _labels(table, path, target) if target is not None else None
    return PartyTable(ids, names, _numeric(table, path, names), labels)


def stratified_split(labels: FloatArray, test_size: float, seed: int) -> tuple[IntArray, IntArray]:
    """Train and test positions (sorted): ``test_size`` of each class goes to test, drawn by ``seed``."""
    if not 0 < test_size <= TEST_SIZE_MAX:
        raise InvalidInput(f"test size must lie in (0, {TEST_SIZE_MAX}], not {test_size}")
    rng = np.random.Generator(np.random.PCG64(seed))
    test_parts = []
    for label in (0.0, 1.0):
        members = np.flatnonzero(labels == label)
        test_parts.append(rng.permutation(members)[: round(test_size * members.size)])
    test = np.sort(np.concatenate(test_parts)).astype(np.int64)
    train = np.setdiff1d(np.arange(labels.size, dtype=np.int64), test)
    for name, part in (("training", train), ("test", test)):
        if np.unique(labels[part]).size < 2:
            raise InvalidInput(f"the {name} rows hold a single class; use more rows or another test size")
    return train, test


def positions_json(values: Any) -> IntArray:
    """Row positions received from a peer, checked to be a 1-D int array."""
    if not isinstance(values, np.ndarray) or values.ndim != 1 or values.dtype.kind not in "iu":
        raise InvalidInput("row positions must be a 1-D integer array")
    return values.astype(np.int64)
