"""RateLimiter: policy lookup, enforce, fail-over to in-process buckets, and from_env without Redis."""

from __future__ import annotations

import logging
from fractions import Fraction

import pytest

from netfin.core.clock import ManualClock
from netfin.core.errors import ConfigurationError, InvalidInput
from netfin.ratelimit import (
    DEFAULT_POLICIES,
    BucketsUnavailable,
    Decision,
    InMemoryBuckets,
    Policy,
    RateLimited,
    RateLimiter,
)
from netfin.ratelimit.service import PRIMARY_RETRY_INTERVAL_S


class FlakyBuckets:
    """In-process buckets that raise ``BucketsUnavailable`` while ``down`` is set."""

    def __init__(self, clock: ManualClock) -> None:
        self.inner = InMemoryBuckets(clock)
        self.down = False
        self.calls = 0
        self.closed = False

    def take(self, policy: Policy, key: str, cost: int = 1) -> Decision:
        self.calls += 1
        if self.down:
            raise BucketsUnavailable("connection refused")
        return self.inner.take(policy, key, cost)

    def close(self) -> None:
        self.closed = True


def test_check_uses_the_named_policy_per_key() -> None:
    clock = ManualClock()
    limiter = RateLimiter(InMemoryBuckets(clock), clock=clock)
    customer = [limiter.check("customer", "party-1").allowed for _ in range(21)]
    assert customer == [True] * 20 + [False]
    assert limiter.check("customer", "party-2").remaining == 19
    assert limiter.check("tpp_client", "party-1").remaining == 99
    assert limiter.policies == DEFAULT_POLICIES


def test_enforce_raises_rate_limited_with_the_decision() -> None:
    clock = ManualClock()
    limiter = RateLimiter(InMemoryBuckets(clock), {"one": Policy("one", 1, 1)}, clock=clock)
    assert limiter.enforce("one", "k").allowed
    with pytest.raises(RateLimited) as caught:
        limiter.enforce("one", "k")
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.policy_name == "one"
    assert (caught.value.decision.allowed, caught.value.decision.retry_after_s) == (False, 1)


def test_unknown_policies_and_bad_input_are_refused() -> None:
    limiter = RateLimiter(InMemoryBuckets(ManualClock()))
    with pytest.raises(ConfigurationError) as unknown:
        limiter.check("nobody", "k")
    assert unknown.value.code == "rate_limit_policy_unknown"
    with pytest.raises(InvalidInput) as bad_key:
        limiter.check("customer", "")
    assert bad_key.value.code == "rate_limit_key_invalid"
    with pytest.raises(InvalidInput) as bad_cost:
        limiter.check("customer", "k", 21)
    assert bad_cost.value.code == "rate_limit_cost_out_of_range"


@pytest.mark.parametrize(
    "policies",
    [{}, {"a": Policy("b", 1, 1)}, {"a": "not a policy"}],
)
def test_policy_mappings_must_name_their_policies(policies: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RateLimiter(InMemoryBuckets(ManualClock()), policies)  # type: ignore[arg-type]
    assert caught.value.code == "rate_limit_policies_invalid"


def test_a_failed_store_falls_over_to_in_process_limits_and_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    primary = FlakyBuckets(clock)
    limiter = RateLimiter(primary, {"one": Policy("one", 2, 1)}, clock=clock)
    assert limiter.check("one", "k").remaining == 1
    primary.down = True
    with caplog.at_level(logging.WARNING, logger="netfin.ratelimit"):
        fallback_decisions = [limiter.check("one", "k") for _ in range(3)]
    # Still limited while degraded: the fallback bucket starts full and empties.
    assert [d.allowed for d in fallback_decisions] == [True, True, False]
    assert limiter.degraded
    assert (limiter.failover_count, limiter.fallback_decision_count) == (1, 3)
    assert primary.calls == 2  # the store is not asked again before the retry interval
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "fall back to in-process" in caplog.records[0].getMessage()

    clock.advance(seconds=PRIMARY_RETRY_INTERVAL_S)
    assert limiter.check("one", "k").allowed  # the probe failed again; the fallback has refilled
    assert (limiter.failover_count, primary.calls) == (2, 3)

    primary.down = False
    clock.advance(seconds=PRIMARY_RETRY_INTERVAL_S)
    back = limiter.check("one", "k")
    assert not limiter.degraded
    assert primary.calls == 4
    assert back.remaining == 1  # the shared bucket had fully refilled by now
    assert limiter.fallback_decision_count == 4


def test_close_closes_both_stores() -> None:
    clock = ManualClock()
    primary = FlakyBuckets(clock)
    limiter = RateLimiter(primary, clock=clock)
    limiter.close()
    assert primary.closed


def test_from_env_without_redis_is_in_process() -> None:
    for environ in ({}, {"NETFIN_REDIS_URL": ""}, {"NETFIN_REDIS_URL": "  "}):
        limiter = RateLimiter.from_env(environ, clock=ManualClock())
        assert isinstance(limiter.backend, InMemoryBuckets)
        assert limiter.policies == DEFAULT_POLICIES


def test_from_env_reads_policy_overrides() -> None:
    limiter = RateLimiter.from_env({"NETFIN_RATE_LIMITS": "customer=2:1,partner=3:1/2"}, clock=ManualClock())
    assert limiter.policies == {
        "tpp_client": DEFAULT_POLICIES["tpp_client"],
        "anonymous": DEFAULT_POLICIES["anonymous"],
        "customer": Policy("customer", 2, 1),
        "partner": Policy("partner", 3, Fraction(1, 2)),
    }
    assert [limiter.check("customer", "k").allowed for _ in range(3)] == [True, True, False]
    with pytest.raises(ConfigurationError) as caught:
        RateLimiter.from_env({"NETFIN_RATE_LIMITS": "customer=2"})
    assert caught.value.code == "rate_limits_invalid"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/0",
        "127.0.0.1:6379",
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/0?socket_timeout=abc",
    ],
)
def test_from_env_refuses_urls_that_are_not_redis(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RateLimiter.from_env({"NETFIN_REDIS_URL": url})
    assert caught.value.code == "redis_url_invalid"
