"""The model's inputs: which columns, of which type, encoded how.

A categorical feature's vocabulary is learnt from the training period only
and stored with the model: code ``i + 1`` for the i-th value, ``0`` for a
value the model never saw (or one too rare to keep). The order is by
frequency, then by value, so the same training data always gives the same
codes. Numbers and booleans go to the booster as 32-bit floats with NaN for
a missing value, which LightGBM routes down its learnt missing-value branch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from netfin.core.errors import InvalidInput

FeatureType = Literal["numeric", "bool", "categorical"]
UNKNOWN_CODE = 0
RowValue = float | int | bool | str | None


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One model input; ``vocabulary`` is set for categorical features only."""

    name: str
    type: FeatureType
    vocabulary: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "categorical":
            data["vocabulary"] = list(self.vocabulary)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        kind = data["type"]
        if kind not in ("numeric", "bool", "categorical"):
            raise InvalidInput(f"unknown feature type {kind!r}", code="feature_type_unknown")
        return cls(data["name"], kind, tuple(data.get("vocabulary", ())))


def _is_string(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_string(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _feature_type(table: pa.Table, name: str, categorical: Sequence[str]) -> FeatureType:
    kind = table.schema.field(name).type
    if name in categorical:
        if not _is_string(kind):
            raise InvalidInput(f"categorical feature {name!r} must be a string column, not {kind}")
        return "categorical"
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "numeric"
    if _is_string(kind):
        raise InvalidInput(f"feature {name!r} is a string column: list it in config.categorical")
    raise InvalidInput(f"feature {name!r} has type {kind}; features are numbers, booleans or strings")


def _vocabulary(column: pa.ChunkedArray, categories_max: int) -> tuple[str, ...]:
    """The ``categories_max`` most frequent values, most frequent first, ties by value."""
    counts = pc.value_counts(column.cast(pa.string()).drop_null())
    ranked = sorted(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
        key=lambda item: (-item[1], item[0]),
    )
    return tuple(value for value, _ in ranked[:categories_max])


def describe_features(
    table: pa.Table,
    features: Sequence[str],
    categorical: Sequence[str],
    training_rows: npt.NDArray[np.int64],
    categories_max: int,
) -> tuple[FeatureSpec, ...]:
    """Types of the feature columns, and vocabularies learnt from the training rows only."""
    specs = []
    for name in features:
        kind = _feature_type(table, name, categorical)
        vocabulary: tuple[str, ...] = ()
        if kind == "categorical":
            vocabulary = _vocabulary(table.column(name).take(pa.array(training_rows)), categories_max)
        specs.append(FeatureSpec(name, kind, vocabulary))
    return tuple(specs)


def encode_column(column: pa.ChunkedArray, spec: FeatureSpec) -> npt.NDArray[np.float32]:
    """One column as the float32 values the booster reads (categorical values as codes)."""
    if spec.type == "categorical":
        vocabulary = pa.array(spec.vocabulary, pa.string())
        if pa.types.is_dictionary(column.type):  # code the few dictionary values, then index
            parts = [_dictionary_codes(chunk, vocabulary) for chunk in column.chunks]
            return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)
        codes = pc.index_in(column.cast(pa.string()), value_set=vocabulary)
        return np.asarray(pc.add(pc.fill_null(codes, -1), 1).to_numpy(), dtype=np.float32)
    values = pc.cast(column, pa.float64()).to_numpy()
    return np.asarray(values, dtype=np.float32)


def _dictionary_codes(chunk: pa.DictionaryArray, vocabulary: pa.Array) -> npt.NDArray[np.float32]:
    value_codes = pc.add(
        pc.fill_null(pc.index_in(chunk.dictionary.cast(pa.string()), value_set=vocabulary), -1), 1
    )
    indices = np.asarray(chunk.indices.fill_null(0).to_numpy(), dtype=np.int64)
    codes: npt.NDArray[np.float32] = np.asarray(value_codes.to_numpy(), dtype=np.float32)[indices]
    codes[chunk.is_null().to_numpy(zero_copy_only=False)] = UNKNOWN_CODE
    return codes


def encode_table(
    table: pa.Table, specs: Sequence[FeatureSpec], rows: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.float32]:
    """The feature matrix (C order, one row per event), optionally of the given rows in that order.

    Built column by column so that only one column is ever held twice.
    """
    missing = [s.name for s in specs if s.name not in table.column_names]
    if missing:
        raise InvalidInput(f"the table lacks feature columns {missing}", code="feature_missing")
    size = table.num_rows if rows is None else rows.size
    matrix = np.empty((size, len(specs)), dtype=np.float32)
    for j, spec in enumerate(specs):
        values = encode_column(table.column(spec.name), spec)
        matrix[:, j] = values if rows is None else values[rows]
    return matrix


def vocabulary_codes(specs: Sequence[FeatureSpec]) -> tuple[dict[str, int] | None, ...]:
    """Per feature, value → code for categorical features (None for the others), for one-row encoding."""
    return tuple(
        {value: i + 1 for i, value in enumerate(s.vocabulary)} if s.type == "categorical" else None
        for s in specs
    )


def encode_row_into(
    row: Mapping[str, RowValue],
    specs: Sequence[FeatureSpec],
    codes: Sequence[dict[str, int] | None],
    out: npt.NDArray[np.float32],
) -> None:
    """Write one event's features into ``out`` (shape ``(1, n)``) without building other arrays.

    A missing key is refused, so that a renamed feature fails loudly instead
    of scoring as "missing" forever; ``None`` is an explicit missing value.
    """
    for j, spec in enumerate(specs):
        try:
            value = row[spec.name]
        except KeyError:
            raise InvalidInput(f"the event lacks feature {spec.name!r}", code="feature_missing") from None
        vocabulary = codes[j]
        if value is None:
            out[0, j] = math.nan
        elif vocabulary is not None:
            out[0, j] = vocabulary.get(str(value), UNKNOWN_CODE)
        elif isinstance(value, str):
            raise InvalidInput(f"feature {spec.name!r} must be a number, got {value!r}", code="feature_type")
        else:
            out[0, j] = value
