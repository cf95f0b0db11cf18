"""The bank's data and the shared model: CSV loading, local training, scoring.

Every bank holds the same columns for different customers: ``id``, the label
``y`` (1 = defaulted) and the features ``x0 .. x{n-1}``. The model is a
logistic regression: a weight per feature and an intercept, as two arrays
(``[weights, intercept]``) so that Flower moves them as they are. Local
training is mini-batch gradient descent on the mean log-loss with an L2
penalty, started from the global weights, and every step keeps the weights
inside ``[-clipping_range, clipping_range]``: SecAgg+ quantises values in that
box, so a bank never has a value clipped behind its back.

This module imports only the standard library and numpy, because it runs in
both environments: the Flower processes and netfin's main one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from netfin.core.errors import InvalidInput, LimitExceeded

ROWS_MAX = 1_000_000
FEATURES_MAX = 1_000
FILE_BYTES_MAX = 1 << 30
EPOCHS_MAX = 100
BATCH_SIZE_MAX = 65_536

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BankData:
    """One bank's rows: features ``x`` (rows × features) and labels ``y`` (0/1)."""

    x: FloatArray
    y: FloatArray

    @property
    def rows(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """How a bank trains locally in one round."""

    local_epochs: int = 1
    learning_rate: float = 0.05
    batch_size: int = 64
    l2: float = 1e-4
    clipping_range: float = 8.0

    def check(self) -> None:
        if not 1 <= self.local_epochs <= EPOCHS_MAX:
            raise InvalidInput(f"local epochs must be 1 to {EPOCHS_MAX}, not {self.local_epochs}")
        if not 0.0 < self.learning_rate <= 10.0:
            raise InvalidInput(f"the learning rate must be in (0, 10], not {self.learning_rate}")
        if not 1 <= self.batch_size <= BATCH_SIZE_MAX:
            raise InvalidInput(f"the batch size must be 1 to {BATCH_SIZE_MAX}, not {self.batch_size}")
        if not 0.0 <= self.l2 <= 10.0:
            raise InvalidInput(f"the L2 penalty must be in [0, 10], not {self.l2}")
        if not 0.0 < self.clipping_range <= 1e6:
            raise InvalidInput(f"the clipping range must be in (0, 1e6], not {self.clipping_range}")


def read_header(path: Path) -> list[str]:
    """The column names of a bank file, checked: ``id, y, x0 .. x{n-1}``."""
    if not path.is_file():
        raise InvalidInput(f"no such data file: {path}", code="data_file_missing")
    if path.stat().st_size > FILE_BYTES_MAX:
        raise LimitExceeded(f"{path} is larger than {FILE_BYTES_MAX} bytes")
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    features = len(header) - 2
    expected = ["id", "y", *(f"x{i}" for i in range(features))]
    if features < 1 or header != expected:
        raise InvalidInput(f"{path}: the columns must be id, y, x0 .. xN, not {header[:6]}...")
    if features > FEATURES_MAX:
        raise LimitExceeded(f"{path}: {features} features, more than {FEATURES_MAX}")
    return header


def count_rows(path: Path) -> int:
    """The number of data rows (lines after the header), without parsing them."""
    read_header(path)
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    rows = lines - 1
    if not 1 <= rows <= ROWS_MAX:
        raise LimitExceeded(f"{path}: {rows} rows; a bank file holds 1 to {ROWS_MAX}")
    return rows


def load_bank(path: Path) -> BankData:
    """Read one bank's file; the id column is dropped, labels must be 0 or 1, values finite."""
    header = read_header(path)
    count_rows(path)
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InvalidInput(f"{path}: not a numeric table ({exc})") from exc
    if table.shape[1] != len(header):
        raise InvalidInput(f"{path}: rows have {table.shape[1]} values, the header {len(header)}")
    if not np.isfinite(table).all():
        raise InvalidInput(f"{path}: the table holds a value that is not finite")
    y = table[:, 1]
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInput(f"{path}: the label y must be 0 or 1")
    return BankData(x=np.ascontiguousarray(table[:, 2:]), y=np.ascontiguousarray(y))


def initial_parameters(features: int) -> list[FloatArray]:
    """The model before the first round: all zeros (every score is 0.5)."""
    return [np.zeros(features, dtype=np.float64), np.zeros(1, dtype=np.float64)]


def check_parameters(parameters: list[FloatArray], features: int) -> tuple[FloatArray, float]:
    if len(parameters) != 2 or parameters[0].shape != (features,) or parameters[1].shape != (1,):
        shapes = [p.shape for p in parameters]
        raise InvalidInput(f"the model must be [weights ({features},), intercept (1,)], not {shapes}")
    weights = np.asarray(parameters[0], dtype=np.float64)
    intercept = float(parameters[1][0])
    if not (np.isfinite(weights).all() and np.isfinite(intercept)):
        raise InvalidInput("the model holds a value that is not finite")
    return weights, intercept


def train_local(
    parameters: list[FloatArray], data: BankData, settings: TrainingSettings, *, seed: int
) -> list[FloatArray]:
    """Local epochs of mini-batch gradient descent from the given (global) parameters."""
    settings.check()
    weights, intercept = check_parameters(parameters, data.x.shape[1])
    weights = weights.copy()
    rng = np.random.default_rng(seed)
    bound = settings.clipping_range
    for _ in range(settings.local_epochs):
        order = rng.permutation(data.rows)
        for start in range(0, data.rows, settings.batch_size):
            batch = order[start : start + settings.batch_size]
            x, y = data.x[batch], data.y[batch]
            error = _sigmoid(x @ weights + intercept) - y
            gradient = x.T @ error / len(batch) + settings.l2 * weights
            weights = np.clip(weights - settings.learning_rate * gradient, -bound, bound)
            intercept = float(np.clip(intercept - settings.learning_rate * error.mean(), -bound, bound))
    return [weights, np.array([intercept], dtype=np.float64)]


def score(parameters: list[FloatArray], x: FloatArray) -> FloatArray:
    """The probability of default for each row."""
    weights, intercept = check_parameters(parameters, x.shape[1])
    return _sigmoid(x @ weights + intercept)


def log_loss(parameters: list[FloatArray], data: BankData) -> float:
    p = np.clip(score(parameters, data.x), 1e-12, 1 - 1e-12)
    return float(-np.mean(data.y * np.log(p) + (1 - data.y) * np.log(1 - p)))


def roc_auc(y: FloatArray, scores: FloatArray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties get their average rank)."""
    positives = int(np.sum(y == 1))
    negatives = int(y.shape[0]) - positives
    if positives == 0 or negatives == 0:
        raise InvalidInput("the AUC needs both classes among the labels")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _sigmoid(z: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return result
