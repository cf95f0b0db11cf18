"""Credit scorecards: optimal binning, a logistic regression on WoE, points scaled by PDO.

**What is fitted.** Every candidate feature is binned by optbinning's
``BinningProcess`` (a constraint-programming search for the bins with the
most information value, at most ``max_n_bins`` bins, each holding at least
``min_bin_size`` of the training rows; numerical features have a monotonic
default rate across their bins, ascending or descending as the data says,
``monotonic_trend="auto_asc_desc"``, so a reviewer can read each
characteristic as "more of this, more (or less) risk"). Features whose IV
lies outside ``[iv_min, iv_max]`` are dropped. The kept ones enter
scikit-learn's ``LogisticRegression`` as weights of evidence through
optbinning's ``Scorecard``.

**Sign conventions.** optbinning's WoE is ``ln(share of goods / share of
bads)`` in a bin, so a positive WoE is a safer-than-average bin and the
regression coefficients (on PD, 1 = default) come out negative. Points are
scaled with ``scaling_method="pdo_odds"``: ``factor = pdo / ln 2`` and
``offset = base_score - factor * ln(base_odds)``, and a bin of feature ``j``
(of ``n`` kept features) earns ``offset / n - factor * (c_j * WoE + b / n)``
points with ``b`` the intercept, rounded to the nearest integer (half to
even). The total is ``offset + factor * ln(good:bad odds)`` up to that
rounding: ``base_score`` at odds ``base_odds``:1, ``pdo`` more points each
time the odds double. Higher is safer.

**The points table is the model.** Each feature keeps its exact split points
(or its categories per bin), its special-value and missing bins, each bin's
WoE and points, and the regression coefficient. ``ScorecardModel.score``
adds up table points and ``probability`` evaluates the logistic regression
from the table's WoE; neither needs optbinning. Training checks on the test
rows that both agree with optbinning's own ``score`` (exactly) and
``predict_proba`` (to 1e-9), and crashes otherwise. Missing values fall in the Missing bin and
listed special values in the Special bin, each with its training WoE (zero,
the average applicant, where training saw none); a category never seen in
training also scores as the average applicant (WoE 0), as optbinning does.

**Reason codes.** ``reasons(row)`` lists the features where the applicant
lost the most points against the best bin of that feature that training
rows actually reached: the adverse-action reasons a lender has to give with
a decline.

**Split.** A stratified random split by default (same seed, same split), or
by an ordered ``split_column`` (a date or period): the latest ``test_size``
share of rows, ties on the later side, is the test sample.

**Artefacts** are directories ``<out>/<version>/`` of text files, checked on
load as ``netfin.risk.model`` does: ``scorecard.json`` (everything needed to
score), ``points.csv`` (the same table for people and spreadsheets),
``metadata.json`` (spec, split, evaluation, data fingerprint, library
versions and ``content_sha256``, a hash over the three files). No pickle:
loading a scorecard runs no code that came with it.

pandas is used because optbinning's ``Scorecard`` takes and returns pandas
frames; it is installed with optbinning.

Public names: ScorecardSpec, BinningOptions, ScorecardModel, ScorecardFeature,
ScorecardBin, Reason, ArtefactRejected, train_scorecard, split_frame,
read_frame, save_scorecard, load_scorecard, and the limits below.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from netfin.core.clock import Clock, SystemClock
from netfin.core.errors import InvalidInput, LimitExceeded, NotFound, invariant
from netfin.credit.report import ModelReport, model_report
from netfin.storage.artefacts import canonical_json, read_artefact, write_artefact

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
DataFormat = Literal["auto", "csv", "parquet", "statlog-german"]
DATA_FORMATS = ("auto", "csv", "parquet", "statlog-german")

ROWS_MIN = 100  # fewer rows cannot fill ten bins of 5% and still leave a test sample
CLASS_ROWS_MIN = 20  # defaults and non-defaults each
ROWS_MAX = 2_000_000
COLUMNS_MAX = 500
CATEGORIES_MAX = 1_000  # distinct values of one categorical column
SPECIAL_CODES_MAX = 20  # special values of one feature
FILE_BYTES_MAX = 2 * 1024**3
REASONS_MAX = 20
LOGISTIC_ITERATIONS_MAX = 1_000
FEATURE_ABS_MAX = float(np.finfo(np.float32).max)  # optbinning's pre-binning trees work in float32
MONOTONIC_TRENDS = (
    "auto_asc_desc",
    "auto",
    "auto_heuristic",
    "ascending",
    "descending",
    "concave",
    "convex",
    "peak",
    "valley",
)

ARTEFACT_KIND = "netfin.credit.scorecard"
ARTEFACT_FORMAT = 1
SCORECARD_FILE = "scorecard.json"
POINTS_CSV_FILE = "points.csv"
POINTS_COLUMNS = (
    "feature",
    "bin_id",
    "bin",
    "kind",
    "count",
    "defaults",
    "default_rate",
    "woe",
    "iv",
    "points",
)

STATLOG_GERMAN_LABEL = "label"
STATLOG_GERMAN_NUMERIC = ("A2", "A5", "A8", "A11", "A13", "A16", "A18")
STATLOG_GERMAN_CATEGORICAL = tuple(f"A{i}" for i in range(1, 21) if f"A{i}" not in STATLOG_GERMAN_NUMERIC)


class ArtefactRejected(InvalidInput):
    """A scorecard artefact that is incomplete, of an unknown format, or altered since it was saved."""

    code = "scorecard_artefact_rejected"


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True, slots=True)
class BinningOptions:
    """How optbinning bins each feature (see optbinning's ``OptimalBinning`` for each option)."""

    monotonic_trend: str = "auto_asc_desc"  # numerical features; categories are ordered by default rate
    max_n_bins: int = 10
    min_bin_size: float = 0.05  # share of the training rows
    max_n_prebins: int = 20
    special_codes: Mapping[str, tuple[float | str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.monotonic_trend not in MONOTONIC_TRENDS:
            raise InvalidInput(
                f"monotonic_trend must be one of {', '.join(MONOTONIC_TRENDS)}", code="scorecard_spec"
            )
        if not 2 <= self.max_n_bins <= 50 or not 2 <= self.max_n_prebins <= 100:
            raise InvalidInput(
                "max_n_bins must lie in [2, 50] and max_n_prebins in [2, 100]", code="scorecard_spec"
            )
        if not 0 < self.min_bin_size <= 0.5:
            raise InvalidInput("min_bin_size must lie in (0, 0.5]", code="scorecard_spec")
        for name, codes in self.special_codes.items():
            if len(codes) > SPECIAL_CODES_MAX:
                raise LimitExceeded(
                    f"{name} has {len(codes)} special codes; at most {SPECIAL_CODES_MAX}",
                    code="scorecard_special_codes_max",
                )


@dataclass(frozen=True, slots=True)
class ScorecardSpec:
    """What to model and how: the columns, the points scale, the split and the feature selection."""

    target: str
    features: tuple[str, ...] | None = None  # None: every column but target, id, split column, excluded
    id_column: str | None = None
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    pdo: float = 20
    base_score: float = 600
    base_odds: float = 50  # good:bad odds at base_score
    test_size: float = 0.3
    split_column: str | None = None  # ordered (a date, a period): the latest rows are the test sample
    iv_min: float = 0.02
    iv_max: float | None = None
    regularisation_c: float = 1.0  # LogisticRegression's C (inverse L2 strength)
    binning: BinningOptions = field(default_factory=BinningOptions)

    def __post_init__(self) -> None:
        checks = (
            (self.pdo > 0 and self.base_odds > 0 and self.base_score > 0, "pdo, base_score, base_odds > 0"),
            (0 < self.test_size < 1, "test_size in (0, 1)"),
            (self.iv_min >= 0 and (self.iv_max is None or self.iv_max > self.iv_min), "0 <= iv_min < iv_max"),
            (self.regularisation_c > 0, "regularisation_c > 0"),
            (all(math.isfinite(v) for v in (self.pdo, self.base_score, self.base_odds)), "finite scale"),
        )
        for ok, rule in checks:
            if not ok:
                raise InvalidInput(f"scorecard spec needs {rule}", code="scorecard_spec")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["binning"]["special_codes"] = {k: list(v) for k, v in self.binning.special_codes.items()}
        return data


# --------------------------------------------------------------------------- the points table


@dataclass(frozen=True, slots=True)
class ScorecardBin:
    """One row of the points table."""

    bin_id: int
    label: str
    kind: Literal["interval", "categories", "special", "missing", "unknown"]
    categories: tuple[str, ...]  # the categories of a "categories" bin, else empty
    count: int  # training rows
    defaults: int
    woe: float
    iv: float
    points: int

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "categories": list(self.categories)}


@dataclass(frozen=True, slots=True)
class ScorecardFeature:
    """A kept feature: how to find a value's bin, and each bin's WoE and points.

    Bins are ordered: the regular bins (intervals ``(-inf, s1), [s1, s2), ...,
    [sk, inf)`` or groups of categories), then Special, Missing and, for a
    categorical feature, Unknown.
    """

    name: str
    dtype: Literal["numerical", "categorical"]
    coefficient: float
    iv: float
    splits: tuple[float, ...]
    special_codes: tuple[float | str, ...]
    bins: tuple[ScorecardBin, ...]

    @property
    def regular_bins(self) -> int:
        return sum(1 for b in self.bins if b.kind in ("interval", "categories"))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "coefficient": self.coefficient,
            "iv": self.iv,
            "splits": list(self.splits),
            "special_codes": list(self.special_codes),
            "bins": [b.to_json() for b in self.bins],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScorecardFeature:
        bins = tuple(
            ScorecardBin(
                bin_id=int(b["bin_id"]),
                label=str(b["label"]),
                kind=b["kind"],
                categories=tuple(str(c) for c in b["categories"]),
                count=int(b["count"]),
                defaults=int(b["defaults"]),
                woe=float(b["woe"]),
                iv=float(b["iv"]),
                points=int(b["points"]),
            )
            for b in data["bins"]
        )
        if data["dtype"] not in ("numerical", "categorical"):
            raise ValueError(f"unknown dtype {data['dtype']!r}")
        return cls(
            name=str(data["name"]),
            dtype=data["dtype"],
            coefficient=float(data["coefficient"]),
            iv=float(data["iv"]),
            splits=tuple(float(s) for s in data["splits"]),
            special_codes=tuple(data["special_codes"]),
            bins=bins,
        )


@dataclass(frozen=True, slots=True)
class Reason:
    """One adverse-action reason: points lost on a feature against its best attainable bin."""

    feature: str
    bin: str
    points: int
    best_points: int
    points_lost: int


def _number_text(value: float) -> str:
    """A number for people: whole numbers as integers, others to six significant digits."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    short = f"{value:.6g}"
    return repr(value) if "e" in short else short


def _category(value: Any) -> str | None:
    """The one text form of a category, so 1, 1.0 and "1" from CSV, Parquet or JSON match."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    return str(value)


def _category_labels(column: Any) -> npt.NDArray[np.object_]:
    """A column as category texts (``None`` where missing), through its distinct values only."""
    codes, uniques = pd.factorize(pd.Series(column, dtype=object), use_na_sentinel=True)
    labels = np.array([_category(u) for u in uniques] + [None], dtype=object)
    return labels[codes]  # type: ignore[no-any-return]


def _numeric(column: Any, name: str) -> FloatArray:
    series = pd.Series(column)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bool(bad.any()):
        example = series[bad].iloc[0]
        raise InvalidInput(
            f"feature {name} is numerical; {example!r} is not a number", code="scorecard_value"
        )
    return np.asarray(values, dtype=np.float64)


def _numerical_bins(feature: ScorecardFeature, column: Any) -> IntArray:
    regular = feature.regular_bins
    x = _numeric(column, feature.name)
    is_missing = np.isnan(x)
    index = np.digitize(np.where(is_missing, 0.0, x), np.asarray(feature.splits), right=False)
    codes = np.asarray([float(c) for c in feature.special_codes], dtype=np.float64)
    is_special = np.isin(x, codes)
    return np.where(is_special, regular, np.where(is_missing, regular + 1, index)).astype(np.int64)


def _categorical_bins(feature: ScorecardFeature, column: Any) -> IntArray:
    regular = feature.regular_bins
    special, missing, unknown = regular, regular + 1, regular + 2
    lookup: dict[str | None, int] = {c: i for i, b in enumerate(feature.bins[:regular]) for c in b.categories}
    lookup.update({_category(c): special for c in feature.special_codes})
    lookup[None] = missing
    labels = _category_labels(column).tolist()
    return np.fromiter((lookup.get(v, unknown) for v in labels), dtype=np.int64, count=len(labels))


def _feature_bins(feature: ScorecardFeature, column: Any) -> IntArray:
    """Each value's bin position in ``feature.bins`` (optbinning's own assignment rule)."""
    if feature.dtype == "numerical":
        return _numerical_bins(feature, column)
    return _categorical_bins(feature, column)


class ScorecardModel:
    """A points table with its scale: scores, probabilities and reason codes without optbinning."""

    def __init__(
        self,
        features: Sequence[ScorecardFeature],
        *,
        intercept: float,
        pdo: float,
        base_score: float,
        base_odds: float,
        metadata: Mapping[str, Any] | None = None,
        report: ModelReport | None = None,
    ) -> None:
        if not features:
            raise InvalidInput("a scorecard needs at least one feature", code="scorecard_empty")
        self.features = tuple(features)
        self.intercept = float(intercept)
        self.pdo, self.base_score, self.base_odds = float(pdo), float(base_score), float(base_odds)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.report = report  # the test sample's report when just trained; None when loaded
        self._points = [np.array([b.points for b in f.bins], dtype=np.int64) for f in self.features]
        self._woe = [np.array([b.woe for b in f.bins], dtype=np.float64) for f in self.features]
        self._best = [
            max((b.points for b in f.bins if b.count > 0), default=max(b.points for b in f.bins))
            for f in self.features
        ]

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unsaved"))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def _frame(self, rows: Any) -> Any:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(list(rows))
        if len(frame) > ROWS_MAX:
            raise LimitExceeded(
                f"{len(frame):,} rows to score; at most {ROWS_MAX:,}", code="scorecard_rows_max"
            )
        absent = [name for name in self.feature_names if name not in frame.columns]
        if absent:
            raise InvalidInput(
                f"rows lack the scorecard's features {absent}", code="scorecard_features_missing"
            )
        return frame

    def bin_indices(self, rows: Any) -> IntArray:
        """Each row's bin position per feature, shape (rows, features)."""
        frame = self._frame(rows)
        if len(frame) == 0:
            return np.zeros((0, len(self.features)), dtype=np.int64)
        return np.column_stack([_feature_bins(f, frame[f.name].to_numpy()) for f in self.features])

    def score(self, rows: Any) -> IntArray:
        """Total points per row (a pandas frame or a sequence of mappings); higher is safer."""
        index = self.bin_indices(rows)
        total = np.zeros(index.shape[0], dtype=np.int64)
        for j, points in enumerate(self._points):
            total += points[index[:, j]]
        return total

    def probability(self, rows: Any) -> FloatArray:
        """The logistic regression's probability of default, from the table's WoE."""
        index = self.bin_indices(rows)
        logit = np.full(index.shape[0], self.intercept)
        for j, feature in enumerate(self.features):
            logit += feature.coefficient * self._woe[j][index[:, j]]
        probability: FloatArray = 1.0 / (1.0 + np.exp(-logit))
        return probability

    def reasons(self, row: Mapping[str, Any], n: int = 3) -> tuple[Reason, ...]:
        """Up to ``n`` features that cost this applicant the most points, largest loss first."""
        if not 1 <= n <= REASONS_MAX:
            raise InvalidInput(f"n must lie in [1, {REASONS_MAX}]", code="scorecard_reasons_n")
        index = self.bin_indices([dict(row)])[0]
        found = []
        for j, feature in enumerate(self.features):
            position = int(index[j])
            points = int(self._points[j][position])
            lost = self._best[j] - points
            if lost > 0:
                found.append(Reason(feature.name, feature.bins[position].label, points, self._best[j], lost))
        found.sort(key=lambda r: (-r.points_lost, self.feature_names.index(r.feature)))
        return tuple(found[:n])

    def points_table(self) -> list[dict[str, Any]]:
        """The points table, one flat row per bin (the CSV's rows)."""
        return [
            {
                "feature": f.name,
                "bin_id": b.bin_id,
                "bin": b.label,
                "kind": b.kind,
                "count": b.count,
                "defaults": b.defaults,
                "default_rate": b.defaults / b.count if b.count else None,
                "woe": b.woe,
                "iv": b.iv,
                "points": b.points,
            }
            for f in self.features
            for b in f.bins
        ]

    def points_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=POINTS_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.points_table():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return buffer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """Everything needed to score (``scorecard.json``)."""
        return {
            "kind": ARTEFACT_KIND,
            "format": ARTEFACT_FORMAT,
            "intercept": self.intercept,
            "pdo": self.pdo,
            "base_score": self.base_score,
            "base_odds": self.base_odds,
            "features": [f.to_json() for f in self.features],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> ScorecardModel:
        return cls(
            [ScorecardFeature.from_json(f) for f in data["features"]],
            intercept=float(data["intercept"]),
            pdo=float(data["pdo"]),
            base_score=float(data["base_score"]),
            base_odds=float(data["base_odds"]),
            metadata=metadata,
        )


# --------------------------------------------------------------------------- reading data


def _read_statlog_german(path: Path) -> Any:
    """UCI Statlog (German credit) ``german.data``: 20 attributes A1..A20 and a label, 1 good, 2 bad."""
    columns = [f"A{i}" for i in range(1, 21)]
    rows = []
    for number, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 21:
            raise InvalidInput(
                f"{path}:{number} has {len(fields)} fields; statlog-german has 21",
                code="scorecard_data_format",
            )
        rows.append(fields)
    frame = pd.DataFrame(rows, columns=[*columns, STATLOG_GERMAN_LABEL])
    try:
        for name in STATLOG_GERMAN_NUMERIC:
            frame[name] = frame[name].astype(np.int64)
    except ValueError as error:
        raise InvalidInput(f"{path}: a numerical attribute is not an integer: {error}") from None
    labels = frame[STATLOG_GERMAN_LABEL]
    if not labels.isin(["1", "2"]).all():
        raise InvalidInput(f"{path}: the label must be 1 (good) or 2 (bad)", code="scorecard_data_format")
    frame[STATLOG_GERMAN_LABEL] = (labels == "2").astype(np.int64)
    return frame


def read_frame(path: str | Path, *, data_format: DataFormat = "auto") -> Any:
    """A CSV, Parquet or Statlog German file as a pandas frame; ``auto`` picks Parquet by suffix."""
    source = Path(path)
    if data_format not in DATA_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(DATA_FORMATS)}", code="scorecard_data_format")
    if not source.is_file():
        raise NotFound(f"no such file: {source}", code="scorecard_data_missing")
    size = source.stat().st_size
    if size > FILE_BYTES_MAX:
        raise LimitExceeded(
            f"{source} has {size:,} bytes; at most {FILE_BYTES_MAX:,}", code="scorecard_file_bytes_max"
        )
    if data_format == "auto":
        data_format = "parquet" if source.suffix.lower() in (".parquet", ".pq") else "csv"
    if data_format == "statlog-german":
        return _read_statlog_german(source)
    try:
        if data_format == "parquet":
            table = pq.read_table(source)
        else:
            table = pa_csv.read_csv(source, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
    except (pa.ArrowInvalid, OSError) as error:
        raise InvalidInput(
            f"cannot read {source} as {data_format}: {error}", code="scorecard_data_format"
        ) from None
    return table.to_pandas()


# --------------------------------------------------------------------------- checking and splitting


@dataclass(frozen=True, slots=True)
class _Prepared:
    x: Any  # the feature columns, categorical ones as category texts
    y: IntArray
    features: tuple[str, ...]
    categorical: tuple[str, ...]


def _target(frame: Any, target: str) -> IntArray:
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:30]))
        raise InvalidInput(
            f"no target column {target!r}; the columns are: {shown}", code="scorecard_unknown_target"
        )
    column = frame[target]
    numeric = pd.api.types.is_numeric_dtype(column) and not bool(column.isna().any())
    if not numeric or not set(column.unique().tolist()) <= {0, 1}:
        found = sorted(map(str, column.astype(str).unique()[:5]))
        raise InvalidInput(
            f"target {target!r} must be binary 0 (good) / 1 (default) with no missing values; found {found}",
            code="scorecard_target_not_binary",
        )
    y: IntArray = column.to_numpy().astype(np.int64)
    defaults = int(y.sum())
    if min(defaults, y.size - defaults) < CLASS_ROWS_MIN:
        raise InvalidInput(
            f"target {target!r} has {defaults} defaults and {y.size - defaults} goods; each needs at least "
            f"{CLASS_ROWS_MIN}",
            code="scorecard_too_few_defaults",
        )
    return y


def _check_size(frame: Any) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput("frame must be a pandas DataFrame", code="scorecard_frame")
    rows, columns = frame.shape
    if rows < ROWS_MIN:
        raise InvalidInput(
            f"{rows:,} rows; a scorecard needs at least {ROWS_MIN:,}", code="scorecard_too_few_rows"
        )
    if rows > ROWS_MAX:
        raise LimitExceeded(f"{rows:,} rows; the limit is {ROWS_MAX:,} rows", code="scorecard_rows_max")
    if columns > COLUMNS_MAX:
        raise LimitExceeded(
            f"{columns:,} columns; the limit is {COLUMNS_MAX:,} columns", code="scorecard_columns_max"
        )
    if frame.columns.has_duplicates or not all(isinstance(c, str) for c in frame.columns):
        raise InvalidInput("column names must be distinct strings", code="scorecard_frame")


def _feature_columns(frame: Any, spec: ScorecardSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    named = [
        spec.id_column,
        spec.split_column,
        *spec.exclude,
        *spec.categorical,
        *(spec.features or ()),
        *spec.binning.special_codes,
    ]
    unknown = sorted({n for n in named if n is not None and n not in frame.columns})
    if unknown:
        raise InvalidInput(f"no such columns: {unknown}", code="scorecard_unknown_column")
    reserved = {spec.target, spec.id_column, spec.split_column, *spec.exclude}
    features = spec.features or tuple(c for c in frame.columns if c not in reserved)
    if not features or reserved & set(features):
        raise InvalidInput(
            "features must be non-empty and exclude the target, id, split and excluded columns",
            code="scorecard_features",
        )
    empty = [c for c in features if bool(frame[c].isna().all())]
    if empty:
        raise InvalidInput(f"features {empty} have no values; exclude them", code="scorecard_feature_empty")
    categorical = tuple(c for c in features if c in set(spec.categorical))
    text = [c for c in features if c not in categorical and not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise InvalidInput(
            f"columns {text} are not numeric; mark them categorical (--categorical) or exclude them",
            code="scorecard_column_not_numeric",
        )
    return tuple(features), categorical


def _prepare(frame: Any, spec: ScorecardSpec) -> _Prepared:
    _check_size(frame)
    y = _target(frame, spec.target)
    features, categorical = _feature_columns(frame, spec)
    x = frame.loc[:, list(features)].copy()
    for name in categorical:
        labels = _category_labels(x[name].to_numpy())
        distinct = len(set(labels.tolist()) - {None})
        if distinct > CATEGORIES_MAX:
            raise LimitExceeded(
                f"categorical column {name} has {distinct:,} distinct values; at most {CATEGORIES_MAX:,}",
                code="scorecard_categories_max",
            )
        x[name] = pd.Series(labels, index=x.index, dtype=object)
    for name in features:
        if name in categorical:
            continue
        if pd.api.types.is_bool_dtype(x[name]):
            x[name] = x[name].astype(np.float64)
        values = x[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if bool((np.abs(values) > FEATURE_ABS_MAX).any()):
            raise InvalidInput(
                f"feature {name} holds infinite or huge values (beyond {FEATURE_ABS_MAX:.3g}); the binning "
                "cannot place them: clean them, or mark them as missing",
                code="scorecard_value",
            )
    return _Prepared(x, y, features, categorical)


def _check_not_empty(prepared: _Prepared, train: IntArray) -> None:
    """A feature with no value in the training sample cannot be binned."""
    empty = [name for name in prepared.features if bool(prepared.x[name].iloc[train].isna().all())]
    if empty:
        raise InvalidInput(
            f"features {empty} have no values in the training sample; exclude them",
            code="scorecard_feature_empty",
        )


def split_frame(frame: Any, spec: ScorecardSpec, *, seed: int) -> tuple[IntArray, IntArray]:
    """Row positions of the training and the test sample (sorted); the same seed gives the same split."""
    y = _target(frame, spec.target)
    positions = np.arange(y.size, dtype=np.int64)
    if spec.split_column is None:
        from sklearn.model_selection import train_test_split  # training only: kept off the Bank's import

        train, test = train_test_split(positions, test_size=spec.test_size, stratify=y, random_state=seed)
        return np.sort(train), np.sort(test)
    if spec.split_column not in frame.columns:
        raise InvalidInput(f"no split column {spec.split_column!r}", code="scorecard_unknown_column")
    order = frame[spec.split_column]
    if bool(order.isna().any()):
        raise InvalidInput(f"split column {spec.split_column!r} has missing values", code="scorecard_split")
    ordered = order.sort_values(kind="stable").to_numpy()
    cutoff = ordered[min(round(y.size * (1 - spec.test_size)), y.size - 1)]
    is_test = (order >= cutoff).to_numpy()
    train, test = positions[~is_test], positions[is_test]
    if train.size == 0 or len(set(y[train].tolist())) < 2:
        raise InvalidInput(
            f"splitting on {spec.split_column!r} at {cutoff!r} leaves no training sample with both classes",
            code="scorecard_split",
        )
    return train, test


# --------------------------------------------------------------------------- fitting


@contextmanager
def _optbinning_warnings() -> Iterator[None]:
    """Silence pandas' pandas-4 deprecations raised from inside optbinning, and only those.

    optbinning 1.0 calls pandas APIs that pandas 3 deprecates for pandas 4 (an
    in-place ``reset_index``, a ``.loc`` row that upcasts a float column).
    They concern optbinning's code, change nothing in the result, and cannot
    be fixed from here; the filter matches warnings attributed to optbinning's
    modules, so the same deprecation in netfin's code still surfaces.
    """
    category = getattr(pd.errors, "Pandas4Warning", FutureWarning)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=category, module=r"optbinning\.")
        yield


def _binning_process(spec: ScorecardSpec, prepared: _Prepared) -> Any:
    options = spec.binning
    fit_params: dict[str, dict[str, Any]] = {}
    for name in prepared.features:
        params: dict[str, Any] = {}
        if name not in prepared.categorical:
            params["monotonic_trend"] = options.monotonic_trend
        codes = options.special_codes.get(name)
        if codes:
            params["special_codes"] = [
                _category(c) if name in prepared.categorical else float(c) for c in codes
            ]
        fit_params[name] = params
    iv_bounds: dict[str, float] = {"min": spec.iv_min}
    if spec.iv_max is not None:
        iv_bounds["max"] = spec.iv_max
    from optbinning import BinningProcess

    return BinningProcess(
        list(prepared.features),
        categorical_variables=list(prepared.categorical) or None,
        max_n_prebins=options.max_n_prebins,
        max_n_bins=options.max_n_bins,
        min_bin_size=options.min_bin_size,
        selection_criteria={"iv": iv_bounds},
        binning_fit_params=fit_params,
    )


def _fit(spec: ScorecardSpec, prepared: _Prepared, train: IntArray, seed: int) -> Any:
    from optbinning import Scorecard
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression(
        C=spec.regularisation_c, max_iter=LOGISTIC_ITERATIONS_MAX, random_state=seed
    )
    scorecard = Scorecard(
        _binning_process(spec, prepared),
        estimator,
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": spec.pdo, "odds": spec.base_odds, "scorecard_points": spec.base_score},
        rounding=True,
    )
    with _optbinning_warnings():
        # optbinning warns, then fails inside the regression, when the IV bounds keep no feature.
        warnings.filterwarnings("error", message="No variables were selected", category=UserWarning)
        try:
            scorecard.fit(
                prepared.x.iloc[train],
                prepared.y[train],
                metric_special="empirical",
                metric_missing="empirical",
            )
        except UserWarning:
            bounds = f"[{spec.iv_min}, {spec.iv_max if spec.iv_max is not None else 'inf'}]"
            raise InvalidInput(
                f"no feature has an information value in {bounds}", code="scorecard_no_feature_selected"
            ) from None
    return scorecard


def _bin_kind(label: str, dtype: str) -> Literal["interval", "categories", "special", "missing"]:
    if label == "Special":
        return "special"
    if label == "Missing":
        return "missing"
    return "interval" if dtype == "numerical" else "categories"


def _feature_from_optbinning(scorecard: Any, rows: Any, name: str, neutral_points: int) -> ScorecardFeature:
    optb = scorecard.binning_process_.get_binned_variable(name)
    numerical = optb.dtype == "numerical"
    splits = tuple(float(s) for s in optb.splits) if numerical else ()
    edges = (-math.inf, *splits, math.inf)
    bins = []
    for position, row in enumerate(rows.itertuples(index=False)):
        raw = row.Bin
        label = raw if isinstance(raw, str) else None
        kind = _bin_kind(label or "", optb.dtype)
        categories: tuple[str, ...] = ()
        if kind == "interval":
            low, high = edges[position], edges[position + 1]
            label = f"{'(' if math.isinf(low) else '['}{_number_text(low)}, {_number_text(high)})"
        elif kind == "categories":
            categories = tuple(str(c) for c in raw)
            label = " | ".join(categories)
        bins.append(
            ScorecardBin(
                bin_id=position,
                label=label or kind.title(),
                kind=kind,
                categories=categories,
                count=int(row.Count),
                defaults=int(row.Event),
                woe=float(row.WoE),
                iv=float(row.IV),
                points=int(row.Points),
            )
        )
    if not numerical:
        bins.append(ScorecardBin(len(bins), "Unknown", "unknown", (), 0, 0, 0.0, 0.0, neutral_points))
    coefficients = rows["Coefficient"].to_numpy()
    invariant(bool((coefficients == coefficients[0]).all()), f"one coefficient per feature ({name})")
    special = optb.special_codes or ()
    return ScorecardFeature(
        name=name,
        dtype="numerical" if numerical else "categorical",
        coefficient=float(coefficients[0]),
        iv=float(rows["IV"].sum()),
        splits=splits,
        special_codes=tuple(special),
        bins=tuple(bins),
    )


def _table_from_optbinning(scorecard: Any, spec: ScorecardSpec) -> ScorecardModel:
    with _optbinning_warnings():
        table = scorecard.table(style="detailed")
    selected = [str(name) for name in scorecard.binning_process_.get_support(names=True)]
    intercept = float(np.ravel(scorecard.estimator_.intercept_)[0])
    factor = spec.pdo / math.log(2)
    offset = spec.base_score - factor * math.log(spec.base_odds)
    # The points optbinning gives a bin of WoE 0 (its rounding: numpy's rint, half to even).
    neutral_points = int(np.rint(offset / len(selected) - factor * intercept / len(selected)))
    features = [
        _feature_from_optbinning(scorecard, table[table["Variable"] == name], name, neutral_points)
        for name in selected
    ]
    return ScorecardModel(
        features, intercept=intercept, pdo=spec.pdo, base_score=spec.base_score, base_odds=spec.base_odds
    )


def _check_agreement(model: ScorecardModel, scorecard: Any, x: Any) -> None:
    """The table must reproduce optbinning exactly; a difference is a bug in reading the table."""
    with _optbinning_warnings():
        expected_score = scorecard.score(x)
        expected_pd = scorecard.predict_proba(x)[:, 1]
    score, pd_table = model.score(x), model.probability(x)
    invariant(bool(np.array_equal(score, expected_score)), "points table disagrees with optbinning's score")
    invariant(
        bool(np.allclose(pd_table, expected_pd, rtol=0, atol=1e-9)), "table PD disagrees with optbinning"
    )


def _fingerprint(frame: Any, columns: Sequence[str]) -> dict[str, Any]:
    hasher = hashlib.sha256(json.dumps([[c, str(frame[c].dtype)] for c in columns]).encode())
    hasher.update(pd.util.hash_pandas_object(frame.loc[:, list(columns)], index=False).to_numpy().tobytes())
    return {"sha256": hasher.hexdigest(), "rows": len(frame), "columns": list(columns)}


def _candidates(scorecard: Any) -> list[dict[str, Any]]:
    with _optbinning_warnings():
        summary = scorecard.binning_process_.summary()
    return [
        {
            "name": str(r["name"]),
            "dtype": str(r["dtype"]),
            "status": str(r["status"]),
            "selected": bool(r["selected"]),
            "bins": int(r["n_bins"]),
            "iv": float(r["iv"]),
        }
        for r in summary.to_dict("records")
    ]


def train_scorecard(
    frame: Any,
    spec: ScorecardSpec,
    *,
    seed: int,
    clock: Clock | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScorecardModel:
    """Bin, select, fit and scale a scorecard on a pandas frame, and measure it on the held-out rows."""
    started = time.perf_counter()
    tell = progress or (lambda _stage: None)
    tell("checking the data")
    prepared = _prepare(frame, spec)
    train, test = split_frame(frame, spec, seed=seed)
    _check_not_empty(prepared, train)
    tell(f"binning {len(prepared.features)} features and fitting on {train.size:,} rows")
    fitted_at = time.perf_counter()
    scorecard = _fit(spec, prepared, train, seed)
    fit_seconds = time.perf_counter() - fitted_at
    model = _table_from_optbinning(scorecard, spec)
    tell("evaluating on the test sample")
    x_train, x_test = prepared.x.iloc[train], prepared.x.iloc[test]
    _check_agreement(model, scorecard, x_test)
    candidates = _candidates(scorecard)
    iv = {c["name"]: c["iv"] for c in candidates}
    score_train, score_test = model.score(x_train), model.score(x_test)
    reports = {
        "train": model_report(
            prepared.y[train], score_train, kind="score", probability=model.probability(x_train), iv=iv
        ),
        "test": model_report(
            prepared.y[test],
            score_test,
            reference=score_train,
            kind="score",
            probability=model.probability(x_test),
            iv=iv,
        ),
    }
    used = [*prepared.features, spec.target, *([spec.split_column] if spec.split_column else [])]
    metadata = _metadata(model, spec, seed, clock, candidates, reports, _fingerprint(frame, used))
    metadata["split"] = {
        "method": "time" if spec.split_column else "stratified",
        "train_rows": int(train.size),
        "test_rows": int(test.size),
        "train_defaults": int(prepared.y[train].sum()),
        "test_defaults": int(prepared.y[test].sum()),
    }
    metadata["seconds"] = {"fit": round(fit_seconds, 3), "total": round(time.perf_counter() - started, 3)}
    metadata = json.loads(json.dumps(metadata, allow_nan=False))
    return ScorecardModel(
        model.features,
        intercept=model.intercept,
        pdo=spec.pdo,
        base_score=spec.base_score,
        base_odds=spec.base_odds,
        metadata=metadata,
        report=reports["test"],
    )


def _metadata(
    model: ScorecardModel,
    spec: ScorecardSpec,
    seed: int,
    clock: Clock | None,
    candidates: list[dict[str, Any]],
    reports: Mapping[str, ModelReport],
    fingerprint: dict[str, Any],
) -> dict[str, Any]:
    import optbinning
    import sklearn

    created = datetime.fromtimestamp((clock or SystemClock()).now_ns() // 1_000_000_000, tz=UTC)
    digest = hashlib.sha256(canonical_json(model.to_json()) + fingerprint["sha256"].encode()).hexdigest()[:10]
    return {
        "kind": ARTEFACT_KIND,
        "format": ARTEFACT_FORMAT,
        "version": f"scorecard-{created.strftime('%Y%m%dT%H%M%SZ')}-{digest}",
        "created_at": created.isoformat(),
        "spec": spec.to_json(),
        "seed": seed,
        "features": list(model.feature_names),
        "candidates": candidates,
        "evaluation": {name: report.to_json() for name, report in reports.items()},
        "fingerprint": fingerprint,
        "libraries": {
            "optbinning": optbinning.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
        },
    }


# --------------------------------------------------------------------------- the artefact


def save_scorecard(model: ScorecardModel, directory: str | Path) -> Path:
    """Write ``directory/<version>/`` (immutable; written aside and renamed into place) and return it."""
    if "version" not in model.metadata:
        raise InvalidInput("only a trained scorecard (with metadata) can be saved", code="scorecard_unsaved")
    scorecard_bytes = (json.dumps(model.to_json(), indent=1, sort_keys=True, allow_nan=False) + "\n").encode()
    parts = {SCORECARD_FILE: scorecard_bytes, POINTS_CSV_FILE: model.points_csv().encode()}
    return write_artefact(Path(directory), model.version, parts, model.metadata, what="scorecard")


def load_scorecard(directory: str | Path) -> ScorecardModel:
    """Read and verify an artefact written by ``save_scorecard``; refuse any altered or unknown one."""
    root = Path(directory)
    parts, metadata = read_artefact(
        root,
        (SCORECARD_FILE, POINTS_CSV_FILE),
        what="scorecard",
        kind=ARTEFACT_KIND,
        fmt=ARTEFACT_FORMAT,
        rejected=lambda message, code: ArtefactRejected(message, code=code),
    )
    try:
        data = json.loads(parts[SCORECARD_FILE])
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtefactRejected(f"scorecard artefact {root} holds malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise ArtefactRejected(f"scorecard artefact {root} is malformed")
    try:
        return ScorecardModel.from_json(data, metadata)
    except (KeyError, TypeError, ValueError) as error:
        raise ArtefactRejected(f"scorecard artefact {root} is malformed: {error!r}") from None
