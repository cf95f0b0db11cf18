"""How well a fraud score separates fraud from legitimate payments, in numpy only.

Every function takes ``labels`` (1 = fraud, 0 = legitimate) and ``scores``
(higher = more suspicious) as one-dimensional arrays of the same length.
The formulas are written out in the docstrings because an evaluation that
goes to a risk committee has to say exactly what was measured.

Conventions shared by all functions:

* Scores are compared as given; tied scores form one threshold (as in
  scikit-learn), so the result never depends on the order of tied rows.
* A threshold ``t`` alerts every event with ``score >= t``.
* Money is integer minor units (``amount_minor``) and stays ``int``: totals
  are exact Python integers; only shares (stopped / total) are ratios. Pass
  amounts already in one reporting currency: a sum across currencies means
  nothing.
* A metric that is undefined on the data (ROC AUC with one class, recall
  with no fraud) is ``None``, never NaN, so that it survives JSON.

Public names: average_precision, roc_auc, recall_at_fpr, alert_threshold,
money_stopped, precision_recall_at, scenario_breakdown, base_rate,
brier_score, psi, evaluate, ThresholdOutcome, MoneyStopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from netfin.core.errors import InvalidInput
from netfin.core.limits import INT64_MAX

FloatArray = npt.NDArray[np.float64]
# The defaults of the evaluation that the artefacts record.
FPR_DEFAULT = 0.01
ALERT_RATE_DEFAULT = 0.005
PSI_BINS_DEFAULT = 10
PSI_EPSILON = 1e-4


@dataclass(frozen=True, slots=True)
class ThresholdOutcome:
    """What one threshold does: alerts, frauds caught, precision and recall."""

    threshold: float
    alerts: int
    true_positives: int
    precision: float | None  # None when nothing is alerted
    recall: float | None  # None when there is no fraud


@dataclass(frozen=True, slots=True)
class MoneyStopped:
    """Fraud money caught by alerting the highest-scored share of events.

    ``alerts`` can exceed the budget when scores tie at the threshold: every
    tied event is alerted, as a deployed threshold would do.
    """

    alert_rate: float
    threshold: float
    alerts: int
    stopped_minor: int
    fraud_minor: int
    share: float | None  # stopped_minor / fraud_minor; None when there is no fraud money


def _labels_scores(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Validated copies: labels 0/1, finite scores, equal lengths."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise InvalidInput(
            "labels and scores must be one-dimensional and of equal length", code="metric_shape"
        )
    if y.size and not np.isin(y, (0, 1)).all():
        raise InvalidInput("labels must be 0 (legitimate) or 1 (fraud)", code="metric_labels")
    if not np.isfinite(s).all():
        raise InvalidInput("scores must be finite numbers", code="metric_scores")
    return y.astype(bool), s


def _curve(
    y: npt.NDArray[np.bool_], s: FloatArray
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
    """Cumulative true and false positives at each distinct score, highest score first.

    Entry ``k`` counts the events with ``score >= thresholds[k]``; tied scores
    are one entry, which makes every curve metric independent of row order.
    """
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1].astype(np.int64)
    tps = np.cumsum(y[order], dtype=np.int64)[last_of_tie]
    fps = last_of_tie + 1 - tps
    return tps, fps, s_sorted[last_of_tie]


def average_precision(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """AUPRC as average precision: ``AP = sum_k (R_k - R_{k-1}) * P_k``.

    ``P_k`` and ``R_k`` are precision and recall when alerting every event
    scored at or above the k-th distinct score (``R_0 = 0``). This is the
    step-wise sum scikit-learn's ``average_precision_score`` computes; it does
    not interpolate, which would overstate a model on rare positives.
    """
    y, s = _labels_scores(labels, scores)
    positives = int(y.sum())
    if positives == 0:
        return None
    tps, fps, _ = _curve(y, s)
    recall = tps / positives
    precision = tps / (tps + fps)
    return np.sum(np.diff(recall, prepend=0.0) * precision).item()


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve by the trapezoidal rule over distinct thresholds.

    Equal to the probability that a random fraud outscores a random
    legitimate event, ties counting one half (the Mann-Whitney statistic).
    """
    y, s = _labels_scores(labels, scores)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return None
    tps, fps, _ = _curve(y, s)
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    area: float = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0).item()
    return area


def recall_at_fpr(labels: npt.ArrayLike, scores: npt.ArrayLike, fpr: float = FPR_DEFAULT) -> float | None:
    """The highest recall of any threshold whose false-positive rate is at most ``fpr``.

    ``FPR = FP / N`` over legitimate events. Only real thresholds count (no
    interpolation between them), so the figure is one a deployed threshold
    achieves on this data.
    """
    if not 0.0 <= fpr <= 1.0:
        raise InvalidInput("fpr must lie in [0, 1]", code="metric_fpr")
    y, s = _labels_scores(labels, scores)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return None
    tps, fps, _ = _curve(y, s)
    within = fps / negatives <= fpr
    return int(tps[within].max()) / positives if within.any() else 0.0


def alert_threshold(scores: npt.ArrayLike, alert_rate: float = ALERT_RATE_DEFAULT) -> float:
    """The score of the ``k``-th highest event, ``k = max(1, floor(alert_rate * n))``.

    Alerting ``score >= threshold`` then alerts the top share of events (more
    when scores tie at the threshold).
    """
    if not 0.0 < alert_rate <= 1.0:
        raise InvalidInput("alert_rate must lie in (0, 1]", code="metric_alert_rate")
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise InvalidInput("no scores to set a threshold on", code="metric_empty")
    k = max(1, math.floor(alert_rate * s.size))
    threshold: float = np.partition(s, s.size - k)[s.size - k].item()
    return threshold


def _sum_minor(values: npt.NDArray[np.int64]) -> int:
    """An exact integer sum: numpy's int64 where it cannot overflow, Python ints otherwise."""
    if values.size == 0:
        return 0
    bound = max(abs(int(values.min())), abs(int(values.max())))
    if bound * values.size <= INT64_MAX:
        return int(values.sum(dtype=np.int64))
    return sum(int(v) for v in values.tolist())


def _amounts(amount_minor: npt.ArrayLike, size: int) -> npt.NDArray[np.int64]:
    amounts = np.asarray(amount_minor)
    if amounts.shape != (size,) or not np.issubdtype(amounts.dtype, np.integer):
        raise InvalidInput("amount_minor must be integers, one per event", code="metric_amounts")
    return amounts.astype(np.int64, copy=False)


def money_stopped(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    amount_minor: npt.ArrayLike,
    alert_rate: float = ALERT_RATE_DEFAULT,
) -> MoneyStopped:
    """Share of fraud money among the alerted events at an alert budget.

    ``share = sum(amount of alerted frauds) / sum(amount of all frauds)``
    where the alerted events are those at or above ``alert_threshold``. A
    model that catches many small card tests but misses one large scam
    scores low here, which is why it sits next to recall.
    """
    y, s = _labels_scores(labels, scores)
    amounts = _amounts(amount_minor, y.size)
    threshold = alert_threshold(s, alert_rate)
    alerted = s >= threshold
    fraud_minor = _sum_minor(amounts[y])
    stopped_minor = _sum_minor(amounts[y & alerted])
    share = stopped_minor / fraud_minor if fraud_minor else None
    return MoneyStopped(alert_rate, threshold, int(alerted.sum()), stopped_minor, fraud_minor, share)


def precision_recall_at(labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float) -> ThresholdOutcome:
    """Precision ``TP / alerts`` and recall ``TP / frauds`` when alerting ``score >= threshold``."""
    y, s = _labels_scores(labels, scores)
    alerted = s >= threshold
    alerts = int(alerted.sum())
    caught = int((alerted & y).sum())
    positives = int(y.sum())
    return ThresholdOutcome(
        threshold=threshold,
        alerts=alerts,
        true_positives=caught,
        precision=caught / alerts if alerts else None,
        recall=caught / positives if positives else None,
    )


def scenario_breakdown(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    amount_minor: npt.ArrayLike,
    scenarios: Sequence[str] | npt.NDArray[Any],
    threshold: float,
) -> dict[str, dict[str, Any]]:
    """Recall and money stopped per fraud scenario at one global threshold.

    One threshold for all scenarios, because production has one: a scenario
    whose frauds score low shows up as a low recall here instead of being
    hidden inside the average. Only fraud events are grouped (the scenario
    of a legitimate event is ""), keyed by scenario name in sorted order.
    """
    y, s = _labels_scores(labels, scores)
    amounts = _amounts(amount_minor, y.size)
    names = np.asarray(scenarios, dtype=object)
    if names.shape != y.shape:
        raise InvalidInput("scenarios must hold one name per event", code="metric_scenarios")
    alerted = s >= threshold
    frauds = np.flatnonzero(y)  # only fraud rows are grouped, so compare names on those alone
    fraud_names = np.asarray([str(n) for n in names[frauds]], dtype=object)
    result: dict[str, dict[str, Any]] = {}
    for name in sorted(set(fraud_names.tolist())):
        rows = frauds[fraud_names == name]
        caught = rows[alerted[rows]]
        fraud_minor = _sum_minor(amounts[rows])
        stopped_minor = _sum_minor(amounts[caught])
        result[name] = {
            "frauds": int(rows.size),
            "caught": int(caught.size),
            "recall": caught.size / rows.size,
            "fraud_minor": fraud_minor,
            "stopped_minor": stopped_minor,
            "money_stopped": stopped_minor / fraud_minor if fraud_minor else None,
        }
    return result


def base_rate(labels: npt.ArrayLike) -> float | None:
    """Share of fraud events, ``frauds / events``: the AUPRC of a random score."""
    y = np.asarray(labels)
    if y.size == 0:
        return None
    if not np.isin(y, (0, 1)).all():
        raise InvalidInput("labels must be 0 (legitimate) or 1 (fraud)", code="metric_labels")
    rate: float = y.mean().item()
    return rate


def brier_score(labels: npt.ArrayLike, probabilities: npt.ArrayLike) -> float | None:
    """Mean squared error of probabilities, ``mean((p - y)^2)``: lower is better calibrated."""
    y, p = _labels_scores(labels, probabilities)
    if y.size == 0:
        return None
    return np.mean((p - y) ** 2).item()


def psi(
    expected: npt.ArrayLike,
    actual: npt.ArrayLike,
    bins: int = PSI_BINS_DEFAULT,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index of ``actual`` against ``expected`` scores.

    ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` where ``e_i`` and ``a_i`` are
    the shares of each sample in bin ``i``. The bins are fixed by the
    expected sample: its quantiles at ``1/bins, 2/bins, ...`` (duplicate
    edges merged, the outer bins open-ended), so a shift shows up as mass
    moving between bins that held equal shares. Empty bins count as
    ``epsilon`` so that the logarithm stays finite. Rule of thumb: below 0.1
    stable, 0.1 to 0.25 watch, above 0.25 shifted.
    """
    if bins < 2:
        raise InvalidInput("psi needs at least two bins", code="metric_psi_bins")
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.size == 0 or a.size == 0 or not (np.isfinite(e).all() and np.isfinite(a).all()):
        raise InvalidInput("psi needs two non-empty samples of finite scores", code="metric_psi_samples")
    inner_edges = np.unique(np.quantile(e, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    e_share = (
        np.bincount(np.searchsorted(inner_edges, e, side="right"), minlength=inner_edges.size + 1) / e.size
    )
    a_share = (
        np.bincount(np.searchsorted(inner_edges, a, side="right"), minlength=inner_edges.size + 1) / a.size
    )
    e_share = np.maximum(e_share, epsilon)
    a_share = np.maximum(a_share, epsilon)
    return np.sum((a_share - e_share) * np.log(a_share / e_share)).item()


def evaluate(
    labels: npt.ArrayLike,
    probabilities: npt.ArrayLike,
    amount_minor: npt.ArrayLike,
    scenarios: Sequence[str] | npt.NDArray[Any] | None = None,
    *,
    fpr: float = FPR_DEFAULT,
    alert_rate: float = ALERT_RATE_DEFAULT,
) -> dict[str, Any]:
    """Every headline metric of one data split, as JSON-ready values.

    The per-scenario breakdown uses the threshold of the alert budget, so it
    explains the ``money_stopped`` figure next to it.
    """
    y, p = _labels_scores(labels, probabilities)
    stopped = money_stopped(y, p, amount_minor, alert_rate)
    result: dict[str, Any] = {
        "events": int(y.size),
        "frauds": int(y.sum()),
        "base_rate": base_rate(y),
        "auprc": average_precision(y, p),
        "roc_auc": roc_auc(y, p),
        "fpr": fpr,
        "recall_at_fpr": recall_at_fpr(y, p, fpr),
        "brier": brier_score(y, p),
        "money_stopped": asdict(stopped),
    }
    if scenarios is not None:
        result["scenarios"] = scenario_breakdown(y, p, amount_minor, scenarios, stopped.threshold)
    return result
