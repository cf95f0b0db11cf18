"""In-process buckets: the same decisions as the pure bucket, thread safety and the LRU bound."""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.errors import InvalidInput, InvariantViolation
from netfin.ratelimit import InMemoryBuckets, Policy

POLICY = Policy("p", 5, 1)


def test_buckets_are_separate_per_key_and_per_policy() -> None:
    buckets = InMemoryBuckets(ManualClock())
    other = Policy("q", 5, 1)
    assert [buckets.take(POLICY, "a", 5).allowed, buckets.take(POLICY, "a").allowed] == [True, False]
    assert buckets.take(POLICY, "b").remaining == 4
    assert buckets.take(other, "a").remaining == 4
    assert len(buckets) == 3


def test_buckets_refill_with_the_injected_clock() -> None:
    clock = ManualClock()
    buckets = InMemoryBuckets(clock)
    assert buckets.take(POLICY, "a", 5).allowed
    refused = buckets.take(POLICY, "a", 2)
    assert (refused.allowed, refused.retry_after_s) == (False, 2)
    clock.advance(seconds=2)
    assert buckets.take(POLICY, "a", 2).allowed


def test_bad_keys_and_costs_are_refused_before_touching_a_bucket() -> None:
    buckets = InMemoryBuckets(ManualClock())
    with pytest.raises(InvalidInput) as caught:
        buckets.take(POLICY, "")
    assert caught.value.code == "rate_limit_key_invalid"
    with pytest.raises(InvalidInput) as caught:
        buckets.take(POLICY, "a", 6)
    assert caught.value.code == "rate_limit_cost_out_of_range"
    assert len(buckets) == 0


def test_least_recently_used_bucket_is_forgotten_beyond_the_bound() -> None:
    clock = ManualClock()
    buckets = InMemoryBuckets(clock, buckets_max=3)
    for key in ("a", "b", "c"):
        assert buckets.take(POLICY, key, 5).allowed
    assert not buckets.take(POLICY, "a").allowed  # "a" is now the most recently used
    assert buckets.take(POLICY, "d").allowed  # evicts "b", the least recently used
    assert (len(buckets), buckets.evicted_count) == (3, 1)
    # "b" was forgotten and comes back full; "a" and "c" kept their empty buckets.
    assert buckets.take(POLICY, "b").remaining == 4
    assert not buckets.take(POLICY, "a").allowed
    assert (len(buckets), buckets.evicted_count) == (3, 2)  # "b" coming back evicted "c"
    assert buckets.take(POLICY, "c").remaining == 4


def test_the_bound_is_checked() -> None:
    with pytest.raises(InvariantViolation):
        InMemoryBuckets(ManualClock(), buckets_max=0)


def test_threads_taking_at_one_instant_get_exactly_the_capacity() -> None:
    """Eight threads race for one bucket of 1,000 tokens: exactly 1,000 takes succeed."""
    policy = Policy("race", 1_000, Fraction(1, 3600))
    buckets = InMemoryBuckets(ManualClock(), buckets_max=16)
    allowed_counts = [0] * 8
    start = threading.Barrier(8)

    def worker(index: int) -> None:
        start.wait()
        for attempt in range(400):
            allowed_counts[index] += buckets.take(policy, "shared").allowed
            # Other keys churn the LRU order at the same time.
            buckets.take(policy, f"k{index}-{attempt % 4}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed_counts) == 1_000
    assert len(buckets) <= 16


def test_threads_with_a_moving_clock_never_exceed_capacity_plus_refill() -> None:
    clock = ManualClock()
    policy = Policy("moving", 10, 100)
    buckets = InMemoryBuckets(clock)
    allowed_counts = [0] * 4
    start = threading.Barrier(4)

    def worker(index: int) -> None:
        start.wait()
        for _ in range(500):
            allowed_counts[index] += buckets.take(policy, "shared").allowed
            if index == 0:
                clock.advance(ns=NS_PER_SECOND // 1_000)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed_s = Fraction(clock.now_ns() - ManualClock().now_ns(), NS_PER_SECOND)
    assert sum(allowed_counts) <= 10 + 100 * elapsed_s
    # Thread 0 alone takes ten times the refill, so the bucket stays drained
    # and grants all but the last moment's fraction of a token.
    assert sum(allowed_counts) >= 10 + 100 * elapsed_s - 2
