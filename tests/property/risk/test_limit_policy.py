"""The dynamic limit policy never leaves its band, never raises on bad news, never lowers on clean history."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netfin.risk.limits import LimitBand, LimitPolicy, Signals

signals = st.builds(
    Signals,
    decisions=st.integers(0, 500), step_ups=st.integers(0, 5), reviews=st.integers(0, 5),
    declines=st.integers(0, 5), mean_score=st.none() | st.floats(0, 1), confirmed_frauds=st.integers(0, 2),
    false_positives=st.integers(0, 3), active_days=st.floats(0, 90),
)  # fmt: skip


@given(signals, st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
def test_within_band_and_in_the_right_direction(s: Signals, a: int, b: int, current: int) -> None:
    band = LimitBand(min(a, b), max(a, b))
    proposal = LimitPolicy().propose(s, current, band)
    if proposal is None:
        return
    target, reasons = proposal
    assert band.floor_minor <= target <= band.ceiling_minor and target != current
    if s.confirmed_frauds:
        assert reasons == ["confirmed_fraud"] and target == band.floor_minor
    elif reasons == ["clean_history"]:
        assert target > current or current > band.ceiling_minor
    else:
        assert target < current or current < band.floor_minor
