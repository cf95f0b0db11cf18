"""Properties of the pure token bucket, over random policies and request sequences.

The bucket's time is whole microseconds, so windows below are measured on
``now_ns // 1000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.core.clock import NS_PER_SECOND
from netfin.ratelimit import BucketState, Decision, Policy

T0 = 1_767_225_600 * NS_PER_SECOND
US = 1_000


@dataclass(frozen=True)
class Step:
    now_ns: int
    cost: int
    before: BucketState | None
    after: BucketState
    decision: Decision


policies = st.builds(
    lambda capacity, numerator, denominator: Policy("p", capacity, Fraction(numerator, denominator)),
    st.integers(1, 50),
    st.integers(1, 1_000),
    st.integers(1, 1_000),
)


@st.composite
def sequences(draw: st.DrawFn, *, backwards: bool = False) -> tuple[Policy, list[Step]]:
    policy = draw(policies)
    # Gaps from nothing (a burst) to several full refills, so that buckets
    # both run dry and fill up again.
    full_refill_ns = policy.full_refill_us * US
    gaps_ns = st.one_of(
        st.just(0),
        st.integers(0, 5 * US),
        st.integers(0, full_refill_ns),
        st.integers(full_refill_ns, 3 * full_refill_ns),
    )
    events = draw(
        st.lists(
            st.tuples(
                gaps_ns,
                st.integers(1, policy.capacity),
                st.booleans() if backwards else st.just(False),
            ),
            min_size=1,
            max_size=60,
        )
    )
    steps: list[Step] = []
    state: BucketState | None = None
    now_ns = T0
    for gap_ns, cost, back in events:
        # A clock that goes back (another process, an NTP step) moves by the gap the other way.
        now_ns = now_ns - gap_ns if back else now_ns + gap_ns
        after, decision = policy.take(state, now_ns, cost)
        steps.append(Step(now_ns, cost, state, after, decision))
        state = after
    return policy, steps


@given(policies, st.lists(st.integers(1, 50), min_size=1, max_size=120))
def test_a_burst_never_gets_more_than_capacity(policy: Policy, costs: list[int]) -> None:
    state: BucketState | None = None
    taken = 0
    allowed_ones = 0
    for cost in costs:
        cost = min(cost, policy.capacity)
        state, decision = policy.take(state, T0, cost)
        if decision.allowed:
            taken += cost
            allowed_ones += cost == 1
    assert taken <= policy.capacity
    # A fresh bucket is full: single tokens are refused only once it is empty.
    ones = [c for c in costs if min(c, policy.capacity) == 1]
    if len(ones) == len(costs):
        assert allowed_ones == min(len(costs), policy.capacity)


@given(sequences())
def test_any_window_gets_at_most_capacity_plus_refill(case: tuple[Policy, list[Step]]) -> None:
    policy, steps = case
    for first in range(len(steps)):
        taken = 0
        for last in range(first, len(steps)):
            taken += steps[last].cost if steps[last].decision.allowed else 0
            window_us = steps[last].now_ns // US - steps[first].now_ns // US
            assert taken <= policy.capacity + policy.refill_per_s * Fraction(window_us, 1_000_000)


@given(sequences(backwards=True))
def test_a_clock_going_back_grants_nothing_extra(case: tuple[Policy, list[Step]]) -> None:
    policy, steps = case
    taken = sum(step.cost for step in steps if step.decision.allowed)
    span_us = max(step.now_ns for step in steps) // US - steps[0].now_ns // US
    assert taken <= policy.capacity + policy.refill_per_s * Fraction(span_us, 1_000_000)
    for step in steps:
        assert step.after.updated_us == max(step.now_ns // US, step.before.updated_us if step.before else 0)


@given(sequences(backwards=True))
def test_retry_after_is_enough_and_at_most_a_second_early(case: tuple[Policy, list[Step]]) -> None:
    policy, steps = case
    for step in steps:
        if step.decision.allowed:
            assert step.decision.retry_after_s == 0
            continue
        wait_s = step.decision.retry_after_s
        assert wait_s >= 1
        _, later = policy.take(step.after, step.now_ns + wait_s * NS_PER_SECOND, step.cost)
        assert later.allowed
        _, sooner = policy.take(step.after, step.now_ns + (wait_s - 1) * NS_PER_SECOND, step.cost)
        assert not sooner.allowed


@given(sequences(), st.integers(0, 60 * NS_PER_SECOND), st.data())
def test_waiting_longer_never_hurts(
    case: tuple[Policy, list[Step]], delay_ns: int, data: st.DataObject
) -> None:
    policy, steps = case
    state = steps[-1].after
    now_ns = steps[-1].now_ns
    cost = data.draw(st.integers(1, policy.capacity))
    _, sooner = policy.take(state, now_ns, cost)
    _, later = policy.take(state, now_ns + delay_ns, cost)
    assert later.allowed or not sooner.allowed
    if sooner.allowed == later.allowed:
        assert later.remaining >= sooner.remaining
        assert later.reset_s <= sooner.reset_s


@settings(max_examples=50)
@given(sequences(backwards=True))
def test_decisions_are_within_their_bounds(case: tuple[Policy, list[Step]]) -> None:
    policy, steps = case
    full_s = -(-policy.capacity // policy.refill_per_s)
    for step in steps:
        decision = step.decision
        assert decision.limit == policy.capacity
        assert 0 <= decision.remaining <= policy.capacity - (step.cost if decision.allowed else 0)
        assert 0 <= step.after.tokens_units <= policy.capacity_units
        lag_s = -(-(step.after.updated_us - step.now_ns // US) // 1_000_000)
        assert 0 <= decision.reset_s <= full_s + lag_s
