"""A bank's own labelled history, read through a column mapping into the event contract.

A bank that wants to train or backtest on its own transactions writes a
short YAML file that names its columns (``mappings/paysim.yaml`` and
``mappings/ulb_creditcard.yaml`` are worked examples)::

    format: csv              # csv | parquet
    delimiter: ","           # any single character (csv)
    encoding: utf-8          # csv
    header: true             # csv; without a header, list column_names
    row_limit: 50000000      # more rows is refused, not truncated
    time: {column: ts, format: iso8601}        # or epoch_s | epoch_ms | a strftime
                                               # pattern; or {column: step, step_hours: 1,
                                               # start: "2026-01-01T00:00:00Z"}
    payer: account_id                          # a column ...
    merchant: {constant: card-merchant}        # ... or a constant (payee or merchant)
    amount: {column: amt, currency: EUR}       # major units, or minor_units: true
    currency: {column: ccy}                    # when it varies per row
    kind: {column: type, values: {PAYMENT: purchase}, default: other}
    label: {column: is_fraud, fraud: ["1"], legitimate: ["0"]}   # optional
    scenario: {column: fraud_type}             # kept on fraud rows only
    extra_features: [V1..V28]                  # numeric columns passed through

Every text field (payer, payee, kind, mcc, device, country, channel,
segment, payee_kind, scenario) takes a column name, ``{column: ...}`` or
``{constant: ...}``, and optionally ``values`` (recoding) and ``default``
(for values not recoded). ``lat``/``lon`` name numeric columns, or
``location: {column: loc, separator: ","}`` one "lat,lon" column.

Money is parsed from text to ``Decimal`` and converted to integer minor
units with the currency's ISO 4217 exponent (``netfin.core.money``),
rounding half to even as ``Money.from_decimal`` does; it never passes
through a binary float. Times are UTC; a time without an offset is taken as
UTC. Errors name the column, the value and the data row (1 = the first row
after the header).

The result has ``EVENT_SCHEMA``'s columns, then the extra features
(float64), sorted by time (ties keep file order) with ``seq`` numbering
that order.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from netfin.core import yamltext
from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.core.limits import INT64_MAX
from netfin.core.money import currency_exponent
from netfin.risk.events import EVENT_COLUMNS, EVENT_SCHEMA, EventKind, PayeeKind

ROW_LIMIT_DEFAULT = 50_000_000
BATCH_ROWS = 1 << 16
CSV_BLOCK_BYTES = 1 << 24
MAPPINGS_DIR = Path(__file__).with_name("mappings")
_RANGE = re.compile(r"^(?P<prefix>\D*)(?P<first>\d+)\.\.(?P=prefix)?(?P<last>\d+)$")
_ONE = Decimal(1)


class HistoryRejected(InvalidInput):
    """A history file or its mapping that cannot be read as events; the message says where and why."""

    code = "history_rejected"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Spec):
    """A text field: from a column or a constant, optionally recoded value by value."""

    column: str | None = None
    constant: str | None = None
    values: dict[str, str] = {}
    default: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.column is None) == (self.constant is None):
            raise ValueError("give exactly one of 'column' and 'constant'")
        return self


class TimeSpec(_Spec):
    column: str
    format: str = "iso8601"  # epoch_s | epoch_ms | iso8601 | a strftime pattern
    step_hours: Decimal | None = None  # the column counts steps of this many hours from `start`
    start: datetime | None = None  # the origin of step and epoch times

    @model_validator(mode="after")
    def _consistent(self) -> TimeSpec:
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("time.start needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
        if self.step_hours is not None:
            if self.start is None or self.step_hours <= 0:
                raise ValueError("step_hours needs a positive value and a start")
            if (self.step_hours * 3_600_000) % 1:
                raise ValueError("step_hours must be a whole number of milliseconds")
        elif self.format not in ("epoch_s", "epoch_ms", "iso8601") and "%" not in self.format:
            raise ValueError("time.format is epoch_s, epoch_ms, iso8601 or a strftime pattern")
        return self


class AmountSpec(_Spec):
    column: str
    minor_units: bool = False
    currency: str | None = None  # one currency for every row

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data


class LabelSpec(_Spec):
    column: str
    fraud: list[str] = ["1"]
    legitimate: list[str] | None = None  # when given, any other value is an error


class LocationSpec(_Spec):
    column: str
    separator: str = ","


class HistoryMapping(_Spec):
    """The parsed mapping file (see the module docstring)."""

    format: Literal["csv", "parquet"] = "csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True
    column_names: list[str] | None = None
    row_limit: int = ROW_LIMIT_DEFAULT
    time: TimeSpec
    payer: FieldSpec
    payee: FieldSpec | None = None
    merchant: FieldSpec | None = None
    payee_kind: FieldSpec | None = None
    kind: FieldSpec | None = None
    amount: AmountSpec
    currency: FieldSpec | None = None
    label: LabelSpec | None = None  # absent: an unlabelled history (every row 0)
    scenario: FieldSpec | None = None
    mcc: FieldSpec | None = None
    device: FieldSpec | None = None
    country: FieldSpec | None = None
    channel: FieldSpec | None = None
    segment: FieldSpec | None = None
    lat: str | None = None
    lon: str | None = None
    location: LocationSpec | None = None
    extra_features: list[str] = []

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if len(value) != 1 or value in '\r\n"':
            raise ValueError(f"delimiter must be one character (not a quote or newline), got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("extra_features")
    @classmethod
    def _expand_ranges(cls, names: list[str]) -> list[str]:
        return expand_feature_names(names)

    @model_validator(mode="after")
    def _consistent(self) -> HistoryMapping:
        if (self.payee is None) == (self.merchant is None):
            raise ValueError("give exactly one of 'payee' and 'merchant'")
        if self.amount.currency is None and self.currency is None:
            raise ValueError("give the currency: amount.currency (one for all rows) or currency")
        if (self.lat is None) != (self.lon is None) or (self.lat is not None and self.location is not None):
            raise ValueError("give lat and lon together, or location, or neither")
        if not self.header and not self.column_names:
            raise ValueError("a file without a header needs column_names")
        if self.row_limit < 1:
            raise ValueError("row_limit must be positive")
        clash = set(self.extra_features) & set(EVENT_COLUMNS)
        if clash or len(set(self.extra_features)) != len(self.extra_features):
            raise ValueError(f"extra_features must be distinct and not event fields: {sorted(clash)}")
        return self

    def source_columns(self) -> list[str]:
        """Every column of the file that the mapping reads, in first-mention order."""
        names = [self.time.column, self.amount.column]
        names += [self.label.column] if self.label is not None else []
        text_fields = (self.payer, self.payee, self.merchant, self.payee_kind, self.kind, self.currency)
        optional = (self.scenario, self.mcc, self.device, self.country, self.channel, self.segment)
        names += [f.column for f in (*text_fields, *optional) if f is not None and f.column is not None]
        names += [n for n in (self.lat, self.lon) if n is not None]
        names += [self.location.column] if self.location is not None else []
        names += self.extra_features
        return list(dict.fromkeys(names))


def expand_feature_names(names: Sequence[str]) -> list[str]:
    """``V1..V28`` (or ``V1..28``) stands for V1, V2, ..., V28; other names pass as they are."""
    expanded: list[str] = []
    for name in names:
        match = _RANGE.match(name)
        if match is None:
            expanded.append(name)
            continue
        first, last = int(match["first"]), int(match["last"])
        if last < first:
            raise ValueError(f"empty feature range {name!r}")
        expanded += [f"{match['prefix']}{i}" for i in range(first, last + 1)]
    return expanded


def load_mapping(path: str | Path) -> HistoryMapping:
    """Parse and check a mapping file; every mistake is reported with its place in the file."""
    try:
        data = yamltext.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise HistoryRejected(
            f"cannot read mapping {path}: {error}", code="history_mapping_invalid"
        ) from None
    try:
        return HistoryMapping.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors()
        )
        raise HistoryRejected(
            f"mapping {path} is invalid: {problems}", code="history_mapping_invalid"
        ) from None


def shipped_mapping(name: str) -> Path:
    """The path of a mapping that ships with netfin (``paysim``, ``ulb_creditcard``)."""
    path = MAPPINGS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise HistoryRejected(f"no shipped mapping {name!r}", code="history_mapping_invalid")
    return path


# Reading -------------------------------------------------------------------


def _check_columns(found: Sequence[str], mapping: HistoryMapping, path: Path) -> None:
    missing = [c for c in mapping.source_columns() if c not in found]
    if not missing:
        return
    hint = ""
    if len(found) == 1 and mapping.format == "csv":
        hint = f" (the header reads as one column: is the delimiter {mapping.delimiter!r} right?)"
    raise HistoryRejected(
        f"{path}: column {missing[0]!r} named in the mapping is not in the file{hint}; "
        f"missing {missing}, found {list(found)[:40]}",
        code="history_column_missing",
    )


def _csv_header(path: Path, mapping: HistoryMapping) -> list[str]:
    if not mapping.header:
        return list(mapping.column_names or [])
    try:
        with path.open(encoding=mapping.encoding, newline="") as handle:
            return next(csv.reader(handle, delimiter=mapping.delimiter), [])
    except UnicodeDecodeError as error:
        raise HistoryRejected(
            f"{path}: the header is not {mapping.encoding}: {error}", code="history_encoding"
        ) from None


def _csv_batches(path: Path, mapping: HistoryMapping) -> Iterator[pa.RecordBatch]:
    _check_columns(_csv_header(path, mapping), mapping, path)
    columns = mapping.source_columns()
    read = pacsv.ReadOptions(
        encoding=mapping.encoding, block_size=CSV_BLOCK_BYTES,
        column_names=None if mapping.header else mapping.column_names,
    )  # fmt: skip
    parse = pacsv.ParseOptions(delimiter=mapping.delimiter)
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in columns}, include_columns=columns,
        strings_can_be_null=False, quoted_strings_can_be_null=False,
    )  # fmt: skip
    try:
        yield from pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise HistoryRejected(
            f"{path}: not readable as CSV with this mapping: {error}", code="history_csv"
        ) from None


def _parquet_batches(path: Path, mapping: HistoryMapping) -> Iterator[pa.RecordBatch]:
    try:
        source = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise HistoryRejected(f"{path}: not a Parquet file: {error}", code="history_parquet") from None
    _check_columns(source.schema_arrow.names, mapping, path)
    if source.metadata.num_rows > mapping.row_limit:
        _too_many_rows(path, mapping.row_limit)
    yield from source.iter_batches(batch_size=BATCH_ROWS, columns=mapping.source_columns())


def _too_many_rows(path: Path, row_limit: int) -> None:
    raise LimitExceeded(
        f"{path} has more than {row_limit} rows; raise row_limit in the mapping or load a shorter period",
        code="history_rows_exceed_limit",
    )


def _as_text(values: pa.Array) -> pa.Array:
    """Any column as strings with "" for missing, so every parser sees one shape."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    return pc.fill_null(values, "")


def _bad(row: int, column: str, value: Any, why: str) -> HistoryRejected:
    return HistoryRejected(f"data row {row}: {column} {value!r} {why}", code="history_value_invalid")


# Parsing one batch -----------------------------------------------------------


def _first_failure(values: pa.Array, convert: Any) -> int:
    """Index of the first element that ``convert`` rejects, by bisection (the whole array fails)."""
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            convert(values.slice(low, middle - low))
        except pa.ArrowInvalid:
            high = middle
        else:
            low = middle
    return low


def _refuse_first(bad: npt.NDArray[np.bool_], text: pa.Array, column: str, first_row: int, why: str) -> None:
    """Raise for the first flagged row, if any."""
    flagged = np.flatnonzero(bad)
    if flagged.size:
        index = int(flagged[0])
        raise _bad(first_row + index, column, text[index].as_py(), why)


def _floats(values: pa.Array, column: str, first_row: int) -> npt.NDArray[np.float64]:
    """Numbers that are not money (coordinates, features, epoch times); blank is NaN."""
    text = pc.utf8_trim_whitespace(_as_text(values))
    cleaned = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)

    def convert(part: pa.Array) -> pa.Array:
        return pc.cast(part, pa.float64())

    try:
        parsed = convert(cleaned)
    except pa.ArrowInvalid:
        index = _first_failure(cleaned, convert)
        raise _bad(first_row + index, column, text[index].as_py(), "is not a number") from None
    return np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)


def _iso_times_ms(text: pa.Array, column: str, first_row: int) -> npt.NDArray[np.int64]:
    for target in (pa.timestamp("ms", tz="UTC"), pa.timestamp("ms")):
        try:
            return np.asarray(pc.cast(text, target).cast(pa.int64()).to_numpy(), dtype=np.int64)
        except pa.ArrowInvalid:
            continue
    result = np.empty(len(text), dtype=np.int64)  # a mix Arrow does not take: Python's parser, row by row
    for i, value in enumerate(text.to_pylist()):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _bad(first_row + i, column, value, "is not an ISO 8601 time") from None
        moment = moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
        result[i] = round(moment.timestamp() * 1000)
    return result


def _times_ms(values: pa.Array, spec: TimeSpec, first_row: int) -> npt.NDArray[np.int64]:
    """Milliseconds since the epoch, UTC."""
    if pa.types.is_timestamp(values.type):
        return np.asarray(pc.cast(values, pa.timestamp("ms", tz=values.type.tz)).cast(pa.int64()).to_numpy())
    column = spec.column
    text = pc.utf8_trim_whitespace(_as_text(values))
    start_ms = 0 if spec.start is None else round(spec.start.timestamp() * 1000)
    if spec.step_hours is not None:
        steps = _floats(text, column, first_row)
        step_ms = int(spec.step_hours * 3_600_000)
        _refuse_first(
            ~np.isfinite(steps) | (steps != np.rint(steps)), text, column, first_row, "is not a whole step"
        )
        return start_ms + steps.astype(np.int64) * step_ms
    if spec.format in ("epoch_s", "epoch_ms"):
        numbers = _floats(text, column, first_row)
        _refuse_first(~np.isfinite(numbers), text, column, first_row, "is not a time")
        scale = 1000 if spec.format == "epoch_s" else 1
        return start_ms + np.rint(numbers * scale).astype(np.int64)
    if spec.format == "iso8601":
        return _iso_times_ms(text, column, first_row)
    parsed = pc.strptime(text, format=spec.format, unit="ms", error_is_null=True)
    missing = parsed.is_null().to_numpy(zero_copy_only=False)
    _refuse_first(missing, text, column, first_row, f"does not match {spec.format!r}")
    return np.asarray(parsed.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _exponents(currencies: pa.Array, column: str, first_row: int) -> dict[str, int]:
    """ISO 4217 exponent of each distinct currency in the batch; an unknown code names its first row."""
    exponents: dict[str, int] = {}
    for code in pc.unique(currencies).to_pylist():
        try:
            exponents[code] = currency_exponent(code)
        except InvalidInput as error:
            rows = pc.equal(currencies, code).to_numpy(zero_copy_only=False)
            why = f"is not a currency with minor units ({error.message})"
            _refuse_first(rows, currencies, column, first_row, why)
    return exponents


def _amounts_minor(
    values: pa.Array, currencies: pa.Array, spec: AmountSpec, currency_column: str, first_row: int
) -> npt.NDArray[np.int64]:
    """Text → Decimal → integer minor units (half to even), one row at a time so that errors name the row."""
    exponents = _exponents(currencies, currency_column, first_row)
    result = np.empty(len(values), dtype=np.int64)
    column = spec.column
    for i, (text, code) in enumerate(zip(_as_text(values).to_pylist(), currencies.to_pylist(), strict=True)):
        try:
            major = Decimal(text)
        except InvalidOperation:
            raise _bad(first_row + i, column, text, "is not a decimal number") from None
        if not major.is_finite() or major < 0:
            raise _bad(first_row + i, column, text, "is not a finite, non-negative amount")
        if spec.minor_units:
            if major != major.to_integral_value():
                raise _bad(first_row + i, column, text, "is not a whole number of minor units")
            minor = int(major)
        else:
            minor = int(major.scaleb(exponents[code]).quantize(_ONE, rounding=ROUND_HALF_EVEN))
        if minor > INT64_MAX:
            raise _bad(first_row + i, column, text, "exceeds the 64-bit range of minor units")
        result[i] = minor
    return result


def _text(batch: pa.RecordBatch, spec: FieldSpec | None, default: str) -> pa.Array:
    """A text field from its column or constant, recoded value by value where the mapping says so."""
    if spec is None:
        return pa.repeat(pa.scalar(default, pa.string()), batch.num_rows)
    if spec.constant is not None:
        return pa.repeat(pa.scalar(spec.constant, pa.string()), batch.num_rows)
    values = _as_text(batch.column(spec.column))
    if not spec.values and spec.default is None:
        return values
    encoded = values.dictionary_encode()
    recoded = [
        spec.values.get(v, v if spec.default is None else spec.default)
        for v in encoded.dictionary.to_pylist()
    ]
    return pa.array(recoded, pa.string()).take(encoded.indices)


def _one_of(
    values: pa.Array, allowed: Sequence[str], spec: FieldSpec | None, name: str, first_row: int
) -> pa.Array:
    """Refuse a value outside the contract's vocabulary (kind, payee_kind), naming the row and the choices."""
    inside = pc.is_in(values, value_set=pa.array(list(allowed), pa.string())).to_numpy(zero_copy_only=False)
    source = name if spec is None or spec.column is None else f"{name} (column {spec.column!r})"
    _refuse_first(
        ~inside, values, source, first_row, f"is not one of {list(allowed)}; recode it with values/default"
    )
    return values


def _labels(batch: pa.RecordBatch, spec: LabelSpec | None, first_row: int) -> pa.Array:
    if spec is None:
        return pa.array(np.zeros(batch.num_rows, dtype=np.int8))
    text = pc.utf8_trim_whitespace(_as_text(batch.column(spec.column)))
    fraud = pc.is_in(text, value_set=pa.array(spec.fraud, pa.string()))
    if spec.legitimate is not None:
        known = pc.or_(fraud, pc.is_in(text, value_set=pa.array(spec.legitimate, pa.string())))
        why = f"is neither a fraud value {spec.fraud} nor a legitimate one {spec.legitimate}"
        _refuse_first(~known.to_numpy(zero_copy_only=False), text, spec.column, first_row, why)
    return pc.cast(fraud, pa.int8())


def _coordinates(
    batch: pa.RecordBatch, mapping: HistoryMapping, first_row: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """lat/lon from two columns or one "lat<sep>lon" column; NaN where the channel gave none."""
    if mapping.lat is not None and mapping.lon is not None:
        return (_floats(batch.column(mapping.lat), mapping.lat, first_row),
                _floats(batch.column(mapping.lon), mapping.lon, first_row))  # fmt: skip
    if mapping.location is None:
        nowhere = np.full(batch.num_rows, np.nan)
        return nowhere, nowhere
    column, separator = mapping.location.column, mapping.location.separator
    text = pc.utf8_trim_whitespace(_as_text(batch.column(column)))
    blank = pc.equal(text, "")
    paired = pc.or_(blank, pc.match_substring(text, separator)).to_numpy(zero_copy_only=False)
    _refuse_first(~paired, text, column, first_row, f"is not 'lat{separator}lon'")
    parts = pc.split_pattern(pc.if_else(blank, separator, text), separator, max_splits=1)
    return (_floats(pc.list_element(parts, 0), column, first_row),
            _floats(pc.list_element(parts, 1), column, first_row))  # fmt: skip


def _convert_batch(batch: pa.RecordBatch, mapping: HistoryMapping, first_row: int) -> pa.Table:
    """One batch of source rows as events (``seq`` is assigned after the global sort)."""
    currency = _text(batch, mapping.currency, mapping.amount.currency or "")
    currency_source = mapping.currency.column if mapping.currency and mapping.currency.column else "currency"
    labels = _labels(batch, mapping.label, first_row)
    scenario = pc.if_else(pc.equal(labels, 1), _text(batch, mapping.scenario, ""), "")
    payee_kind_default = PayeeKind.MERCHANT.value if mapping.merchant is not None else PayeeKind.PERSON.value
    lat, lon = _coordinates(batch, mapping, first_row)
    amount = batch.column(mapping.amount.column)
    columns: dict[str, Any] = {
        "seq": np.zeros(batch.num_rows, dtype=np.int64),
        "ts_ms": _times_ms(batch.column(mapping.time.column), mapping.time, first_row),
        "payer": _text(batch, mapping.payer, ""),
        "payee": _text(batch, mapping.payee or mapping.merchant, ""),
        "payee_kind": _one_of(_text(batch, mapping.payee_kind, payee_kind_default),
                              [k.value for k in PayeeKind], mapping.payee_kind, "payee_kind", first_row),
        "kind": _one_of(_text(batch, mapping.kind, EventKind.OTHER.value),
                        [k.value for k in EventKind], mapping.kind, "kind", first_row),
        "amount_minor": _amounts_minor(amount, currency, mapping.amount, currency_source, first_row),
        "currency": currency,
        "mcc": _text(batch, mapping.mcc, ""),
        "device": _text(batch, mapping.device, ""),
        "lat": lat,
        "lon": lon,
        "country": _text(batch, mapping.country, ""),
        "channel": _text(batch, mapping.channel, ""),
        "segment": _text(batch, mapping.segment, ""),
        "label": labels,
        "scenario": scenario,
    }  # fmt: skip
    table = pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)
    for name in mapping.extra_features:
        values = _floats(batch.column(name), name, first_row)
        table = table.append_column(pa.field(name, pa.float64()), pa.array(values, pa.float64()))
    return table


def _empty(mapping: HistoryMapping) -> pa.Table:
    fields = list(EVENT_SCHEMA) + [pa.field(n, pa.float64()) for n in mapping.extra_features]
    return pa.schema(fields).empty_table()


def read_history(data_path: str | Path, mapping: HistoryMapping, *, row_limit: int | None = None) -> pa.Table:
    """Events from a history file through a parsed mapping (``row_limit`` overrides the mapping's)."""
    path = Path(data_path)
    if not path.is_file():
        raise HistoryRejected(f"{path}: no such file", code="history_file_missing")
    limit = mapping.row_limit if row_limit is None else row_limit
    if limit < 1:
        raise InvalidInput("row_limit must be positive", code="history_row_limit")
    mapping = mapping.model_copy(update={"row_limit": limit})
    batches = _csv_batches(path, mapping) if mapping.format == "csv" else _parquet_batches(path, mapping)
    parts: list[pa.Table] = []
    first_row = 1
    for batch in batches:
        if first_row - 1 + batch.num_rows > limit:
            _too_many_rows(path, limit)
        if batch.num_rows:
            parts.append(_convert_batch(batch, mapping, first_row))
        first_row += batch.num_rows
    table = pa.concat_tables(parts) if parts else _empty(mapping)
    order = np.argsort(table.column("ts_ms").to_numpy(), kind="stable")
    table = table.take(pa.array(order))
    seq = pa.array(np.arange(table.num_rows, dtype=np.int64))
    return table.set_column(0, EVENT_SCHEMA.field("seq"), seq)


def load_history(
    data_path: str | Path, mapping_path: str | Path, *, row_limit: int | None = None
) -> pa.Table:
    """A bank's labelled history as an ``EVENT_SCHEMA`` table (plus extra features), sorted by time."""
    return read_history(data_path, load_mapping(mapping_path), row_limit=row_limit)
