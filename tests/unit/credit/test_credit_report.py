"""The model report against small cases worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from netfin.core.errors import InvalidInput
from netfin.credit.report import PSI_EPSILON, hosmer_lemeshow, model_report, render_report


def test_auc_gini_ks_of_a_small_pd_sample() -> None:
    # Pairs (bad, good): (.35,.1) right, (.35,.4) wrong, (.8,.1) right, (.8,.4) right -> AUC 3/4.
    # Flagging PD >= .8 catches half the bads and no good: KS = 1/2 (the first cutoff reaching it).
    report = model_report([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert report.kind == "pd"
    assert report.auc == pytest.approx(0.75)
    assert report.gini == pytest.approx(0.5)
    assert report.ks == pytest.approx(0.5)
    assert report.ks_cutoff == pytest.approx(0.8)


def test_points_rank_the_other_way_round() -> None:
    # Bads score 500 and 610, goods 640 and 700: "score <= 610" separates them completely.
    report = model_report([0, 0, 1, 1], [700, 640, 610, 500])
    assert report.kind == "score"
    assert (report.auc, report.gini, report.ks) == (1.0, 1.0, 1.0)
    assert report.ks_cutoff == 610
    assert report.brier is None and report.calibration == ()


def test_ks_with_ties_counts_a_tied_value_once() -> None:
    # PD .1 for a good and a bad, .2 for a bad, .3 for a good. Flagging PD >= .3 flags half the
    # goods and no bad (distance 1/2); PD >= .2 half of each (0); PD >= .1 everyone (0). The tied .1
    # rows enter together, never one before the other.
    report = model_report([0, 1, 1, 0], [0.1, 0.1, 0.2, 0.3], kind="pd")
    assert report.ks == pytest.approx(0.5)
    assert report.ks_cutoff == pytest.approx(0.3)


def test_psi_of_identical_distributions_is_zero() -> None:
    sample = np.random.default_rng(3).normal(600, 40, 5000).round()
    report = model_report(np.zeros(sample.size, dtype=int), sample, reference=sample, kind="score")
    assert report.psi == 0.0


def test_psi_against_reference_deciles_by_hand() -> None:
    # Reference 0..9: its deciles put each value in a bin of its own (share 0.1 each).
    # The sample fills bins 0..4 with 0.2 each and leaves 5..9 empty (counted as epsilon).
    reference = np.arange(10, dtype=float)
    sample = np.repeat(np.arange(5, dtype=float), 2)
    expected = 5 * (0.2 - 0.1) * math.log(0.2 / 0.1) + 5 * (PSI_EPSILON - 0.1) * math.log(PSI_EPSILON / 0.1)
    report = model_report(np.zeros(10, dtype=int), sample, reference=reference, kind="score")
    assert report.psi == pytest.approx(expected, rel=1e-12)


def _three_groups() -> tuple[list[int], list[float]]:
    """PDs .1, .5, .9 on ten rows each, with 2, 5 and 8 defaults."""
    pd_values = [0.1] * 10 + [0.5] * 10 + [0.9] * 10
    y = [1] * 2 + [0] * 8 + [1] * 5 + [0] * 5 + [1] * 8 + [0] * 2
    return y, pd_values


def test_calibration_brier_and_hosmer_lemeshow_by_hand() -> None:
    y, pd_values = _three_groups()
    report = model_report(y, pd_values)
    assert [(g.rows, g.defaults, g.pd_mean) for g in report.calibration] == [
        (10, 2, 0.1),
        (10, 5, 0.5),
        (10, 8, 0.9),
    ]
    # Brier: each .1 group has two rows off by .9 and eight by .1; the .5 group ten rows off by .5.
    assert report.brier == pytest.approx((2 * (2 * 0.81 + 8 * 0.01) + 10 * 0.25) / 30)
    # HL: (2 - 1)^2 / (1 * 0.9) + 0 + (8 - 9)^2 / (9 * 0.1) on 3 - 2 = 1 degree of freedom;
    # for one degree of freedom the chi-squared tail is erfc(sqrt(x / 2)).
    statistic = 2 / 0.9
    hl = report.hosmer_lemeshow
    assert hl is not None and hl.degrees_of_freedom == 1
    assert hl.statistic == pytest.approx(statistic)
    assert hl.p_value == pytest.approx(math.erfc(math.sqrt(statistic / 2)))


def test_perfectly_calibrated_groups_have_hl_zero_and_p_one() -> None:
    y = [1] * 1 + [0] * 9 + [1] * 5 + [0] * 5 + [1] * 9 + [0] * 1
    hl = model_report(y, [0.1] * 10 + [0.5] * 10 + [0.9] * 10).hosmer_lemeshow
    assert hl is not None and hl.statistic == pytest.approx(0.0) and hl.p_value == pytest.approx(1.0)


def test_hosmer_lemeshow_needs_three_groups_for_a_p_value() -> None:
    report = model_report([0, 1, 0, 1], [0.2, 0.2, 0.6, 0.6])
    assert len(report.calibration) == 2
    assert hosmer_lemeshow(report.calibration).p_value is None


def test_one_class_leaves_auc_and_ks_undefined() -> None:
    report = model_report([0, 0, 0], [0.1, 0.2, 0.3])
    assert (report.auc, report.gini, report.ks, report.ks_cutoff) == (None, None, None, None)
    assert json.loads(json.dumps(report.to_json(), allow_nan=False))["auc"] is None


@pytest.mark.parametrize(
    ("y", "values", "code"),
    [
        ([0, 2], [0.1, 0.2], "report_labels"),
        ([0, 1], [0.1], "report_shape"),
        ([0, 1], [0.1, float("nan")], "report_not_finite"),
        ([], [], "report_shape"),
    ],
)
def test_bad_input_is_refused(y: list[int], values: list[float], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        model_report(y, values)
    assert caught.value.code == code


def test_pd_outside_unit_interval_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        model_report([0, 1], [0.2, 1.5], kind="pd")
    assert caught.value.code == "report_pd_range"


def test_json_and_rich_rendering_carry_every_part() -> None:
    y, pd_values = _three_groups()
    report = model_report(y, pd_values, reference=pd_values, iv={"utilisation": 0.31, "noise": 0.001})
    body = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert body["iv"] == {"utilisation": 0.31, "noise": 0.001}
    assert len(body["calibration"]) == 3 and body["hosmer_lemeshow"]["degrees_of_freedom"] == 1
    console = Console(record=True, width=120)
    console.print(render_report(report, title="held out"))
    text = console.export_text()
    for part in ("held out", "AUC", "Hosmer", "calibration by decile", "utilisation", "PD >="):
        assert part in text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(300, 900), min_size=4, max_size=60))
def test_points_and_a_decreasing_pd_of_them_measure_the_same(scores: list[int]) -> None:
    y = [i % 2 for i in range(len(scores))]
    points = np.asarray(scores, dtype=float)
    as_pd = 1 / (1 + np.exp((points - 600) / 50))
    by_points = model_report(y, points, kind="score", reference=points)
    by_pd = model_report(y, as_pd, kind="pd")
    assert by_points.auc == pytest.approx(by_pd.auc)
    assert by_points.ks == pytest.approx(by_pd.ks)
    assert by_points.psi == 0.0
    assert by_points.ks is not None and 0.0 <= by_points.ks <= 1.0
