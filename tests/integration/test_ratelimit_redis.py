"""Rate limits on a real Redis: the Lua script against the pure bucket, sharing, expiry, outages.

Redis is at ``NETFIN_TEST_REDIS`` (default 127.0.0.1:6379, database 0).
Every test uses a key prefix of its own and deletes its keys afterwards.
Where Redis is unreachable these tests skip with a reason, except under
``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from fractions import Fraction

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netfin.core.clock import ManualClock
from netfin.core.errors import ConfigurationError
from netfin.ratelimit import BucketState, InMemoryBuckets, Policy, RateLimiter, RedisBuckets
from netfin.ratelimit.service import PRIMARY_RETRY_INTERVAL_S
from netfin.ratelimit.store import BUCKET_TTL_MARGIN_MS

REDIS_URL = os.environ.get("NETFIN_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _redis_error() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        return str(error)
    finally:
        client.close()
    return None


_REDIS_ERROR = _redis_error()


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    if _REDIS_ERROR:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Redis is unreachable at {REDIS_URL}: {_REDIS_ERROR}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {_REDIS_ERROR}")
    opened = redis.Redis.from_url(REDIS_URL)
    yield opened
    opened.close()


def _new_prefix() -> str:
    return f"netfin-test:{uuid.uuid4().hex}:"


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    chosen = _new_prefix()
    yield chosen
    _delete_prefix(client, chosen)


policies = st.builds(
    lambda capacity, numerator, denominator: Policy("p", capacity, Fraction(numerator, denominator)),
    st.integers(1, 40),
    st.integers(1, 10_000),
    st.integers(1, 1_000),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Policy, list[tuple[int, int, bool]]]:
    """A policy and requests whose gaps range from none to several full refills."""
    policy = draw(policies)
    full_refill_ns = policy.full_refill_us * 1_000
    gaps_ns = st.one_of(
        st.just(0),
        st.integers(0, 10**6),
        st.integers(0, full_refill_ns),
        st.integers(full_refill_ns, 3 * full_refill_ns),
    )
    sequence = draw(
        st.lists(st.tuples(gaps_ns, st.integers(1, policy.capacity), st.booleans()), min_size=1, max_size=50)
    )
    return policy, sequence


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases(), backwards=st.booleans())
def test_redis_decides_exactly_as_the_pure_bucket(
    client: redis.Redis, case: tuple[Policy, list[tuple[int, int, bool]]], backwards: bool
) -> None:
    policy, sequence = case
    clock = ManualClock()
    chosen = _new_prefix()
    shared = RedisBuckets(client, chosen, clock=clock)
    local = InMemoryBuckets(clock)
    try:
        for gap_ns, cost, back in sequence:
            clock.set(clock.now_ns() - gap_ns if back and backwards else clock.now_ns() + gap_ns)
            assert shared.take(policy, "k", cost) == local.take(policy, "k", cost)
    finally:
        _delete_prefix(client, chosen)


def test_arithmetic_stays_exact_at_the_largest_units(client: redis.Redis, prefix: str) -> None:
    """A policy at the edge of BUCKET_UNITS_MAX: Lua's doubles still agree to the unit."""
    policy = Policy("edge", 1_000_000, Fraction(999_998, 1_125))
    assert policy.capacity_units > 2**49
    clock = ManualClock()
    shared = RedisBuckets(client, prefix, clock=clock)
    state: BucketState | None = None
    rng = random.Random(7)
    for _ in range(400):
        clock.advance(ns=rng.choice([0, 1, 999, rng.randrange(10**9), rng.randrange(10**12)]))
        cost = rng.choice([1, 7, 999_999, 1_000_000, rng.randrange(1, 1_000_001)])
        state, expected = policy.take(state, clock.now_ns(), cost)
        assert shared.take(policy, "k", cost) == expected
        # The stored state matches to the unit, not just the rounded decision.
        stored = client.hgetall(shared.bucket_key(policy, "k"))
        assert stored == {b"tokens": b"%d" % state.tokens_units, b"updated_us": b"%d" % state.updated_us}


def test_two_limiters_on_one_redis_share_the_bucket(client: redis.Redis, prefix: str) -> None:
    environ = {"NETFIN_REDIS_URL": REDIS_URL, "NETFIN_RATE_LIMITS": "shared=3:1/3600"}
    first = RateLimiter.from_env(environ, prefix=prefix)
    second = RateLimiter.from_env(environ, prefix=prefix)
    try:
        assert isinstance(first.backend, RedisBuckets)
        assert first.check("shared", "client-1", 2).remaining == 1
        assert second.check("shared", "client-1").remaining == 0
        refused = [first.check("shared", "client-1"), second.check("shared", "client-1")]
        assert [d.allowed for d in refused] == [False, False]
        assert all(3_500 <= d.retry_after_s <= 3_600 for d in refused)
        assert second.check("shared", "client-2").remaining == 2
        assert not (first.degraded or second.degraded)
    finally:
        first.close()
        second.close()


def test_buckets_refill_on_the_server_clock_and_expire_once_full(client: redis.Redis, prefix: str) -> None:
    buckets = RedisBuckets(client, prefix)
    fast = Policy("fast", 1, 5)  # one token every 200 ms
    assert buckets.take(fast, "k").allowed
    refused = buckets.take(fast, "k")
    assert (refused.allowed, refused.retry_after_s) == (False, 1)
    time.sleep(0.25)
    assert buckets.take(fast, "k").allowed

    slow = Policy("slow", 10, 1)
    assert buckets.take(slow, "k").remaining == 9
    # One token short of full: the key lives one second plus the margin.
    ttl_ms = client.pttl(buckets.bucket_key(slow, "k"))
    assert 1_000 < ttl_ms <= 1_000 + BUCKET_TTL_MARGIN_MS
    server_s, server_us = client.time()
    updated_us = int(client.hget(buckets.bucket_key(slow, "k"), "updated_us") or b"0")
    assert 0 <= server_s * 1_000_000 + server_us - updated_us < 1_000_000


def test_from_env_refuses_a_redis_that_does_not_answer() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(ConfigurationError) as caught:
        RateLimiter.from_env({"NETFIN_REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"})
    assert caught.value.code == "redis_unavailable"


class Proxy:
    """A TCP relay to Redis that a test can cut and restore, as a network outage would."""

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            downstream.settimeout(None)
            upstream = socket.create_connection(self.upstream)
            self.sockets += [downstream, upstream]
            for source, target in ((downstream, upstream), (upstream, downstream)):
                thread = threading.Thread(target=self._pump, args=(source, target))
                self.threads.append(thread)
                thread.start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.stopped.set()
        self.threads[0].join()
        self.listener.close()
        for each in self.sockets:
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                # Already shut by the other side; closing below is all that is left.
                continue
        for thread in self.threads[1:]:
            thread.join()
        for each in self.sockets:
            each.close()


def test_a_redis_outage_falls_over_to_in_process_limits_and_back(client: redis.Redis, prefix: str) -> None:
    host, port = (
        client.connection_pool.connection_kwargs["host"],
        client.connection_pool.connection_kwargs["port"],
    )
    proxy = Proxy((host, port))
    clock = ManualClock()
    url = f"redis://127.0.0.1:{proxy.port}/0"
    limiter = RateLimiter.from_env(
        {"NETFIN_REDIS_URL": url, "NETFIN_RATE_LIMITS": "o=2:1/3600"}, clock=clock, prefix=prefix
    )
    try:
        assert limiter.check("o", "k").remaining == 1
        proxy.close()
        # Redis is gone: still limited, now in process, and visibly so.
        outage = [limiter.check("o", "k") for _ in range(3)]
        assert [d.allowed for d in outage] == [True, True, False]
        assert limiter.degraded
        assert (limiter.failover_count, limiter.fallback_decision_count) == (1, 3)

        proxy = Proxy((host, port), proxy.port)
        clock.advance(seconds=PRIMARY_RETRY_INTERVAL_S)
        back = limiter.check("o", "k")
        assert not limiter.degraded
        # The shared bucket kept its state through the outage: one token was left.
        assert (back.allowed, back.remaining) == (True, 0)
        assert not limiter.check("o", "k").allowed
    finally:
        limiter.close()
        proxy.close()
