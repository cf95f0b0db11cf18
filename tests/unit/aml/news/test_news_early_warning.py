"""The early-warning rule: raised exactly when the drop passes the thresholds, once per window."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.aml.news.early_warning import (
    WarningConfig,
    assess,
    config_from_mapping,
    evaluate,
    load_config,
)
from netfin.aml.news.errors import NewsConfigInvalid
from netfin.aml.news.model import EntityKind, SentimentPoint

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
NOW = 400 * DAY
CONFIG = WarningConfig(
    version="test", recent_hours=24, baseline_days=30, recent_items_min=3, baseline_items_min=5,
    baseline_default=0.0, drop_min=0.4, recent_max=-0.2,
)  # fmt: skip


def _points(values: list[float], start_ns: int, step_ns: int, prefix: str) -> list[SentimentPoint]:
    return [SentimentPoint(f"{prefix}{i}", start_ns + i * step_ns, v) for i, v in enumerate(values)]


def _evaluate(
    points: list[SentimentPoint], open_raised_ns: int | None = None, config: WarningConfig = CONFIG
):
    return evaluate(
        warning_id="w1", entity_id="e1", entity_kind=EntityKind.CUSTOMER, points=points, as_of_ns=NOW,
        config=config, open_raised_ns=open_raised_ns,
    )  # fmt: skip


def test_packaged_config_loads() -> None:
    config = load_config()
    assert config.version == "news-warning-1" and config.recent_ns == 24 * HOUR and config.drop_min == 0.4


def test_bad_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NewsConfigInvalid):
        config_from_mapping({"version": "x", "drop_min": -1})
    with pytest.raises(NewsConfigInvalid):
        config_from_mapping({"version": "x", "typo_setting": 1})
    with pytest.raises(NewsConfigInvalid):
        load_config(tmp_path / "missing.yaml")


def test_a_sharp_drop_raises_a_warning_naming_the_worst_items() -> None:
    baseline = _points([0.5] * 10, NOW - 20 * DAY, DAY, "b")
    recent = _points([-0.5, -0.6, -0.2], NOW - 3 * HOUR, HOUR, "r")
    warning = _evaluate(baseline + recent)
    assert warning is not None
    assert warning.baseline == 0.5 and warning.recent == pytest.approx(-0.433333, abs=1e-6)
    assert warning.drop == pytest.approx(0.933333, abs=1e-6)
    assert (
        warning.item_ids == ("r1", "r0", "r2") and warning.recent_items == 3 and warning.baseline_items == 10
    )
    assert warning.window_end_ns == NOW and warning.window_start_ns == NOW - DAY


def test_too_few_recent_items_raise_nothing() -> None:
    baseline = _points([0.5] * 10, NOW - 20 * DAY, DAY, "b")
    assert _evaluate(baseline + _points([-1.0, -1.0], NOW - 2 * HOUR, HOUR, "r")) is None


def test_items_older_than_the_baseline_window_do_not_count() -> None:
    ancient = _points([0.9] * 10, NOW - 100 * DAY, DAY, "a")
    recent = _points([-0.3] * 3, NOW - 3 * HOUR, HOUR, "r")
    warning = _evaluate(ancient + recent)
    # With no baseline items the baseline is neutral (0.0); a drop of 0.3 is below 0.4.
    assert warning is None
    assert assess(ancient + recent, NOW, CONFIG) is not None


def test_an_open_warning_in_the_window_blocks_a_second() -> None:
    points = _points([0.5] * 10, NOW - 20 * DAY, DAY, "b") + _points([-0.8] * 3, NOW - 3 * HOUR, HOUR, "r")
    assert _evaluate(points, open_raised_ns=NOW - 2 * HOUR) is None
    assert _evaluate(points, open_raised_ns=NOW - 2 * DAY) is not None


values = st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(base=values, recent=values, drop_min=st.floats(0.05, 1.5), recent_max=st.floats(-1.0, 0.5))
def test_warning_iff_the_rule_holds(
    base: list[float], recent: list[float], drop_min: float, recent_max: float
) -> None:
    config = WarningConfig(
        version="p", recent_items_min=3, baseline_items_min=5, drop_min=drop_min, recent_max=recent_max
    )
    points = _points(base, NOW - 20 * DAY, DAY, "b") + _points(recent, NOW - 20 * HOUR, HOUR, "r")
    baseline = sum(base) / len(base) if len(base) >= 5 else 0.0
    mean = sum(recent) / len(recent) if recent else 0.0
    margin = 1e-6  # away from the boundary, where float sums may round either way
    if recent and (abs(baseline - mean - drop_min) < margin or abs(mean - recent_max) < margin):
        return
    expected = len(recent) >= 3 and baseline - mean >= drop_min and mean <= recent_max
    warning = _evaluate(points, config=config)
    assert (warning is not None) == expected
    if warning is not None:
        assert warning.drop >= drop_min - 1e-6 and set(warning.item_ids) == {
            p.item_id for p in points[len(base) :]
        }
