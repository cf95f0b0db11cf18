"""The pure token bucket: policy validation, exact refill, decisions and configuration text."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from netfin.core.clock import NS_PER_SECOND
from netfin.core.errors import ConfigurationError, InvalidInput, InvariantViolation
from netfin.ratelimit import (
    ANONYMOUS_POLICY,
    CUSTOMER_POLICY,
    DEFAULT_POLICIES,
    TPP_CLIENT_POLICY,
    BucketState,
    Decision,
    Policy,
    RateLimited,
    parse_policies,
)
from netfin.ratelimit.model import BUCKET_CAPACITY_MAX, REFILL_PER_S_MAX, check_bucket_key

T0 = 1_767_225_600 * NS_PER_SECOND


def test_default_policies_are_the_documented_ones() -> None:
    assert (TPP_CLIENT_POLICY.name, TPP_CLIENT_POLICY.capacity, TPP_CLIENT_POLICY.refill_per_s) == (
        "tpp_client",
        100,
        Fraction(50),
    )
    assert (CUSTOMER_POLICY.name, CUSTOMER_POLICY.capacity, CUSTOMER_POLICY.refill_per_s) == (
        "customer",
        20,
        Fraction(5),
    )
    assert dict(DEFAULT_POLICIES) == {
        "tpp_client": TPP_CLIENT_POLICY, "customer": CUSTOMER_POLICY, "anonymous": ANONYMOUS_POLICY,
    }  # fmt: skip


def test_int_fraction_and_decimal_rates_are_the_same_policy() -> None:
    by_decimal = Policy("p", 10, Decimal("0.5"))
    assert by_decimal == Policy("p", 10, Fraction(1, 2))
    assert by_decimal.refill_per_s == Fraction(1, 2)
    assert Policy("p", 10, 2) == Policy("p", 10, Decimal("2.000"))
    # One token is denominator * 10**6 units; one microsecond adds numerator units.
    assert (by_decimal.units_per_token, by_decimal.refill_units_per_us) == (2_000_000, 1)
    assert by_decimal.full_refill_us == 20 * NS_PER_SECOND // 1_000


@pytest.mark.parametrize(
    ("name", "capacity", "rate", "code"),
    [
        ("", 10, 1, "rate_limit_policy_name_invalid"),
        ("Upper", 10, 1, "rate_limit_policy_name_invalid"),
        ("has:colon", 10, 1, "rate_limit_policy_name_invalid"),
        ("x" * 65, 10, 1, "rate_limit_policy_name_invalid"),
        ("p", 0, 1, "rate_limit_capacity_out_of_range"),
        ("p", BUCKET_CAPACITY_MAX + 1, 1, "rate_limit_capacity_out_of_range"),
        ("p", True, 1, "rate_limit_capacity_out_of_range"),
        ("p", 10, 0.5, "rate_limit_refill_invalid"),
        ("p", 10, True, "rate_limit_refill_invalid"),
        ("p", 10, Decimal("NaN"), "rate_limit_refill_invalid"),
        ("p", 10, Decimal("Infinity"), "rate_limit_refill_invalid"),
        ("p", 10, 0, "rate_limit_refill_out_of_range"),
        ("p", 10, Fraction(-1, 2), "rate_limit_refill_out_of_range"),
        ("p", 10, REFILL_PER_S_MAX + 1, "rate_limit_refill_out_of_range"),
        ("p", BUCKET_CAPACITY_MAX, Fraction(1, 10_000), "rate_limit_refill_too_fine"),
    ],
)
def test_bad_policies_are_refused_with_their_code(name: str, capacity: int, rate: object, code: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Policy(name, capacity, rate)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_a_fresh_bucket_allows_its_capacity_then_refuses_with_exact_waits() -> None:
    policy = Policy("p", 3, 2)  # 3 tokens, 2 per second: one token every 0.5 s
    state: BucketState | None = None
    decisions = []
    for _ in range(4):
        state, decision = policy.take(state, T0)
        decisions.append(decision)
    assert decisions == [
        Decision(allowed=True, remaining=2, retry_after_s=0, limit=3, reset_s=1),
        Decision(allowed=True, remaining=1, retry_after_s=0, limit=3, reset_s=1),
        Decision(allowed=True, remaining=0, retry_after_s=0, limit=3, reset_s=2),
        Decision(allowed=False, remaining=0, retry_after_s=1, limit=3, reset_s=2),
    ]
    assert state == BucketState(0, T0 // 1_000)
    # Half a second later exactly one token is back, and no more.
    state, decision = policy.take(state, T0 + NS_PER_SECOND // 2)
    assert decision.allowed
    state, decision = policy.take(state, T0 + NS_PER_SECOND // 2)
    assert not decision.allowed


def test_a_token_is_whole_only_at_the_exact_microsecond() -> None:
    policy = Policy("p", 1, 1)
    state, _ = policy.take(None, T0)
    _, early = policy.take(state, T0 + NS_PER_SECOND - 1_000)
    assert (early.allowed, early.retry_after_s) == (False, 1)
    _, on_time = policy.take(state, T0 + NS_PER_SECOND)
    assert on_time.allowed


def test_fractional_rates_accumulate_without_loss_under_frequent_requests() -> None:
    """A bucket asked every millisecond gains exactly what one asked once a minute gains."""
    policy = Policy("slow", 2, Fraction(1, 60))  # one token a minute
    state, _ = policy.take(None, T0, cost=2)
    now = T0
    allowed = 0
    for _ in range(60_000):
        now += NS_PER_SECOND // 1_000
        state, decision = policy.take(state, now)
        allowed += decision.allowed
    assert allowed == 1
    assert state.tokens_units == 0


def test_refusal_counts_the_wait_from_the_callers_clock_when_it_went_back() -> None:
    policy = Policy("p", 1, 1)
    state, _ = policy.take(None, T0 + 10 * NS_PER_SECOND)
    # A caller whose clock is 10 s behind must wait the 10 s plus the refill.
    state, decision = policy.take(state, T0)
    assert not decision.allowed
    assert decision.retry_after_s == 11
    assert state.updated_us == (T0 + 10 * NS_PER_SECOND) // 1_000
    _, decision = policy.take(state, T0 + 11 * NS_PER_SECOND)
    assert decision.allowed


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    policy = Policy("p", 1, Fraction(1, 3))  # one token every 3 s
    state, _ = policy.take(None, T0)
    _, decision = policy.take(state, T0 + 1)
    assert decision.retry_after_s == 3
    _, decision = policy.take(state, T0 + 2 * NS_PER_SECOND + 1)
    assert decision.retry_after_s == 1


@pytest.mark.parametrize("cost", [0, -1, 4, True, 1.0])
def test_costs_outside_one_to_capacity_are_refused(cost: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        Policy("p", 3, 1).take(None, T0, cost)  # type: ignore[arg-type]
    assert caught.value.code == "rate_limit_cost_out_of_range"


def test_a_negative_clock_is_a_bug() -> None:
    with pytest.raises(InvariantViolation):
        Policy("p", 3, 1).take(None, -1)


@pytest.mark.parametrize("key", ["", "k" * 257, 42])
def test_bad_bucket_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_bucket_key(key)  # type: ignore[arg-type]
    assert caught.value.code == "rate_limit_key_invalid"


def test_parse_policies_reads_integers_decimals_and_fractions() -> None:
    parsed = parse_policies(" tpp_client=200:100, customer=10:0.5 ,partner=5:1/60,")
    assert parsed == {
        "tpp_client": Policy("tpp_client", 200, 100),
        "customer": Policy("customer", 10, Fraction(1, 2)),
        "partner": Policy("partner", 5, Fraction(1, 60)),
    }
    assert parse_policies("") == {}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("tpp_client", "rate_limits_invalid"),
        ("tpp_client=100", "rate_limits_invalid"),
        ("tpp_client=100:1e9", "rate_limits_invalid"),
        ("tpp_client=100:1/0", "rate_limits_invalid"),
        ("tpp_client=-1:5", "rate_limits_invalid"),
        ("a=1:1,a=2:2", "rate_limits_invalid"),
        ("a=1:1," * 200, "rate_limits_invalid"),
        ("Bad=1:1", "rate_limit_policy_name_invalid"),
        ("a=0:1", "rate_limit_capacity_out_of_range"),
        ("a=1:0", "rate_limit_refill_out_of_range"),
    ],
)
def test_parse_policies_refuses_bad_text(text: str, code: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_policies(text)
    assert caught.value.code == code


def test_rate_limited_carries_the_refusal() -> None:
    refused = Decision(allowed=False, remaining=0, retry_after_s=7, limit=5, reset_s=9)
    error = RateLimited("customer", refused)
    assert error.code == "rate_limit_exceeded"
    assert error.decision is refused
    assert "retry after 7 s" in str(error)
    with pytest.raises(InvariantViolation):
        RateLimited("customer", Decision(allowed=True, remaining=1, retry_after_s=0, limit=5, reset_s=1))
