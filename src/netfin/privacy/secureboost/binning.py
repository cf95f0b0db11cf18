"""Quantile binning, done by each party on its own features; the cut points never leave it.

A feature's cut points ``c_0 < c_1 < ...`` are values of the feature itself
(quantiles of the training rows, or every distinct value but the largest
when there are few). A value ``x`` falls in bin ``b = #{c : c < x}``, so
``bin(x) <= b`` exactly when ``x <= c_b``: a split "bin <= b" is the split
"value <= c_b". Missing values (NaN) have a bucket of their own, the last of
the party's ``bucket_count`` buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netfin.core.errors import InvalidInput
from netfin.privacy.he.scheme import BUCKETS_MAX

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def fit_cuts(values: FloatArray, max_bin: int) -> FloatArray:
    """At most ``max_bin - 1`` cut points, so at most ``max_bin`` bins for the non-missing values."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.empty(0, dtype=np.float64)
    distinct = np.unique(present)
    if distinct.size <= max_bin:
        return distinct[:-1].astype(np.float64)
    levels = np.arange(1, max_bin, dtype=np.float64) / max_bin
    cuts = np.unique(np.quantile(present, levels, method="inverted_cdf"))
    kept: FloatArray = np.asarray(cuts[cuts < distinct[-1]], dtype=np.float64)
    return kept


def threshold_of(cuts: FloatArray, bin_index: int) -> float | None:
    """The value threshold of the split "bin <= bin_index" (None: every non-missing value)."""
    return float(cuts[bin_index]) if bin_index < cuts.size else None


def goes_left(
    values: FloatArray, threshold: float | None, missing_left: bool
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which rows a split sends left, from the raw values (prediction on any rows)."""
    missing = np.isnan(values)
    below = np.ones(values.shape, dtype=bool) if threshold is None else values <= threshold
    return np.where(missing, missing_left, below & ~missing)


@dataclass(frozen=True)
class BinnedFeatures:
    """One party's features on its training rows, as bucket indices."""

    names: list[str]
    cuts: list[FloatArray]
    buckets: np.ndarray[Any, np.dtype[np.int8]]  # (rows, features), C-contiguous
    bucket_count: int

    @property
    def missing_bucket(self) -> int:
        return self.bucket_count - 1

    def goes_left(
        self, rows: np.ndarray[Any, np.dtype[np.int64]], feature: int, bin_index: int, missing_left: bool
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which of ``rows`` (training positions) the split "bin <= bin_index" sends left."""
        column = self.buckets[rows, feature]
        missing = column == self.missing_bucket
        return np.where(missing, missing_left, column <= bin_index)


def bin_features(names: Sequence[str], matrix: FloatArray, max_bin: int) -> BinnedFeatures:
    """Cut points from ``matrix`` (training rows x features) and every row's bucket."""
    if matrix.ndim != 2 or matrix.shape[1] != len(names) or matrix.shape[1] == 0:
        raise InvalidInput("binning needs a rows x features matrix with a name per feature")
    if max_bin + 1 > BUCKETS_MAX:
        raise InvalidInput(f"at most {BUCKETS_MAX - 1} bins")
    cuts = [fit_cuts(matrix[:, j], max_bin) for j in range(matrix.shape[1])]
    bucket_count = max(c.size + 1 for c in cuts) + 1
    buckets = np.empty(matrix.shape, dtype=np.int8)
    for j, column_cuts in enumerate(cuts):
        column = matrix[:, j]
        index = np.searchsorted(column_cuts, column, side="left")
        buckets[:, j] = np.where(np.isnan(column), bucket_count - 1, index)
    return BinnedFeatures(list(names), cuts, np.ascontiguousarray(buckets), bucket_count)
