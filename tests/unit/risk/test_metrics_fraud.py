"""Fraud metrics: agreement with scikit-learn where it has the metric, hand-worked cases elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from netfin.core.errors import InvalidInput
from netfin.risk import metrics


def _sample(seed: int, n: int = 5000, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.03).astype(np.int8)
    scores = rng.normal(size=n) + 1.5 * labels
    if decimals is not None:  # many ties, which is where hand-written curves usually go wrong
        scores = np.round(scores, decimals)
    return labels, scores


@pytest.mark.parametrize(("seed", "decimals"), [(1, None), (2, 1), (3, 0), (4, 2)])
def test_average_precision_and_roc_auc_agree_with_sklearn(seed: int, decimals: int | None) -> None:
    labels, scores = _sample(seed, decimals=decimals)
    assert metrics.average_precision(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )
    assert metrics.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_metrics_do_not_depend_on_the_order_of_tied_rows() -> None:
    labels, scores = _sample(5, decimals=0)
    order = np.random.default_rng(0).permutation(labels.size)
    assert metrics.average_precision(labels, scores) == pytest.approx(
        metrics.average_precision(labels[order], scores[order]), abs=1e-12
    )


@pytest.mark.parametrize(("seed", "fpr"), [(6, 0.01), (7, 0.05), (8, 0.001)])
def test_recall_at_fpr_is_the_best_real_threshold_within_the_budget(seed: int, fpr: float) -> None:
    labels, scores = _sample(seed, decimals=2)
    false_rates, true_rates, _ = roc_curve(labels, scores, drop_intermediate=False)
    expected = true_rates[false_rates <= fpr].max()
    assert metrics.recall_at_fpr(labels, scores, fpr) == pytest.approx(expected, abs=1e-12)


def test_recall_at_fpr_by_hand() -> None:
    # 100 legitimate, 4 fraud. One legitimate event outscores two frauds.
    labels = np.array([1, 1, 0, 1, 1] + [0] * 99)
    scores = np.array([0.99, 0.98, 0.97, 0.5, 0.4] + [0.1] * 99)
    # FPR <= 1% allows one false positive: threshold 0.4 alerts all four frauds and
    # the 0.97 event. FPR 0 allows none: threshold 0.98, two of four frauds.
    assert metrics.recall_at_fpr(labels, scores, 0.01) == 1.0
    assert metrics.recall_at_fpr(labels, scores, 0.0) == 0.5


def test_money_stopped_alerts_the_top_share_and_sums_exact_integers() -> None:
    labels = np.array([1, 0, 1, 0, 1] + [0] * 995)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.001] + [0.01] * 995)
    amounts = np.array([10_000, 5, 2_500, 7, 40_000] + [100] * 995, dtype=np.int64)
    result = metrics.money_stopped(labels, scores, amounts, alert_rate=0.004)  # 4 alerts of 1000
    assert (result.alerts, result.threshold) == (4, 0.6)
    assert result.stopped_minor == 12_500  # the two frauds above 0.6; the 40,000 one scored lowest
    assert result.fraud_minor == 52_500
    assert type(result.stopped_minor) is int
    assert result.share == pytest.approx(12_500 / 52_500)


def test_money_stopped_alerts_every_event_tied_at_the_threshold() -> None:
    labels = np.array([1, 0, 1, 0, 1] + [0] * 995)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.001] + [0.01] * 995)
    amounts = np.full(1000, 100, dtype=np.int64)
    result = metrics.money_stopped(labels, scores, amounts, alert_rate=0.005)  # the 5th score is a tie
    assert (result.threshold, result.alerts) == (0.01, 999)


def test_money_totals_stay_exact_beyond_the_int64_sum_range() -> None:
    big = np.array([2**62, 2**62, 2**62], dtype=np.int64)  # their sum overflows int64
    result = metrics.money_stopped([1, 1, 1], [0.9, 0.8, 0.7], big, alert_rate=1.0)
    assert result.fraud_minor == 3 * 2**62


def test_precision_recall_at_threshold_agrees_with_sklearn() -> None:
    labels, scores = _sample(9)
    outcome = metrics.precision_recall_at(labels, scores, 1.0)
    predicted = (scores >= 1.0).astype(int)
    assert outcome.precision == pytest.approx(precision_score(labels, predicted))
    assert outcome.recall == pytest.approx(recall_score(labels, predicted))
    assert outcome.alerts == int(predicted.sum())
    assert metrics.precision_recall_at(labels, scores, 99.0).precision is None


def test_scenario_breakdown_uses_one_global_threshold() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.2, 0.8, 0.7, 0.1, 0.95])
    amounts = np.array([100, 300, 50, 50, 9, 9], dtype=np.int64)
    scenarios = ["ato", "ato", "card_testing", "card_testing", "", ""]
    result = metrics.scenario_breakdown(labels, scores, amounts, scenarios, threshold=0.5)
    assert list(result) == ["ato", "card_testing"]
    assert result["ato"] == {
        "frauds": 2, "caught": 1, "recall": 0.5,
        "fraud_minor": 400, "stopped_minor": 100, "money_stopped": 0.25,
    }  # fmt: skip
    assert result["card_testing"]["recall"] == 1.0
    assert result["card_testing"]["money_stopped"] == 1.0


def test_base_rate_and_brier_score() -> None:
    labels, _ = _sample(10)
    probabilities = np.random.default_rng(1).random(labels.size)
    assert metrics.base_rate(labels) == pytest.approx(labels.mean())
    assert metrics.brier_score(labels, probabilities) == pytest.approx(
        brier_score_loss(labels, probabilities)
    )
    assert metrics.base_rate([]) is None


def test_psi_is_zero_for_identical_samples_and_large_for_shifted_ones() -> None:
    rng = np.random.default_rng(11)
    expected = rng.beta(1, 30, size=20_000)
    assert metrics.psi(expected, expected) == 0.0
    same_population = rng.beta(1, 30, size=20_000)
    assert metrics.psi(expected, same_population) < 0.01
    shifted = rng.beta(2, 20, size=20_000)
    assert metrics.psi(expected, shifted) > 0.25


def test_psi_tolerates_empty_bins_and_ties() -> None:
    expected = np.r_[np.zeros(900), np.linspace(0.1, 1, 100)]  # most quantile edges coincide
    actual = np.full(1000, 5.0)  # everything beyond the last edge
    value = metrics.psi(expected, actual)
    assert np.isfinite(value)
    assert value > 1.0


def test_undefined_metrics_are_none_and_bad_inputs_are_refused() -> None:
    assert metrics.roc_auc([0, 0, 0], [0.1, 0.2, 0.3]) is None
    assert metrics.average_precision([0, 0], [0.1, 0.2]) is None
    with pytest.raises(InvalidInput, match=r"0 \(legitimate\) or 1"):
        metrics.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(InvalidInput, match="finite"):
        metrics.roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(InvalidInput, match="amount_minor must be integers"):
        metrics.money_stopped([0, 1], [0.1, 0.2], np.array([1.5, 2.5]))


def test_evaluate_reports_every_headline_metric() -> None:
    labels, scores = _sample(12)
    probabilities = 1 / (1 + np.exp(-scores))
    amounts = np.full(labels.size, 1_000, dtype=np.int64)
    scenarios = np.where(labels == 1, "ato", "")
    report = metrics.evaluate(labels, probabilities, amounts, scenarios)
    assert report["auprc"] == pytest.approx(average_precision_score(labels, probabilities))
    assert report["roc_auc"] == pytest.approx(roc_auc_score(labels, probabilities))
    assert report["money_stopped"]["alert_rate"] == 0.005
    assert report["scenarios"]["ato"]["frauds"] == int(labels.sum())
    assert report["fpr"] == 0.01
