"""Where buckets live: in this process (``InMemoryBuckets``) or in Redis (``RedisBuckets``).

Both implement ``Buckets`` and give the same decision for the same sequence
of requests and times, because both run ``Policy``'s arithmetic: the memory
backend calls it, the Redis backend runs an exact Lua copy of its state
transition and then calls ``Policy.decide`` on the result.

Time on Redis: by default the script reads the Redis server's ``TIME``. API
processes on several hosts have clocks that differ by milliseconds to
seconds; if each passed its own now, a process whose clock runs ahead would
refill every bucket it touches early (granting up to ``rate * skew`` extra
tokens) and one running behind would see no refill at all until it caught
up. One server clock gives every process the same timeline. A ``Clock`` may
still be injected, and then the caller's now is sent instead; that is for
tests and replays, where time must be controlled.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final, Protocol
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from netfin.core.clock import Clock, SystemClock
from netfin.core.errors import ConfigurationError, invariant
from netfin.ratelimit.model import (
    BucketState,
    BucketsUnavailable,
    Decision,
    Policy,
    check_bucket_key,
)

# Buckets one process keeps before it forgets the least recently used. A
# forgotten bucket comes back full, which only ever favours its owner.
IN_MEMORY_BUCKETS_MAX = 100_000
# Redis keys outlive the moment their bucket is full again by this much; a
# missing key reads as a full bucket, so expiry never changes a decision.
BUCKET_TTL_MARGIN_MS = 1_000
# A rate limit check sits on every request: a Redis that does not answer
# within this long counts as gone, and the service fails over.
REDIS_SOCKET_TIMEOUT_MS = 250
REDIS_CONNECT_TIMEOUT_MS = 250
# One immediate retry rides over a pooled connection that the server closed;
# more would hold requests while Redis is down.
REDIS_RETRIES = 1
KEY_PREFIX_LENGTH_MAX = 64
DEFAULT_KEY_PREFIX = "netfin:ratelimit:"

# The state transition of ``Policy.take``, line for line, on the server.
# Lua numbers are doubles: every value here stays below 2**53 (see
# model.BUCKET_UNITS_MAX), and ``ceil_div`` corrects the one rounding a
# double division can make. ``string.format('%d')`` stores plain digits, so
# the stored state never depends on how a number would be printed.
_TAKE_SCRIPT: Final = """
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local full_refill_us = tonumber(ARGV[4])
local margin_ms = tonumber(ARGV[5])
local now
if ARGV[6] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[6])
end

local function ceil_div(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 end
  if q * b < a then q = q + 1 end
  return q
end

local stored = redis.call('HMGET', KEYS[1], 'tokens', 'updated_us')
local tokens = tonumber(stored[1])
local updated = tonumber(stored[2])
if tokens == nil or updated == nil then
  tokens = capacity
  updated = now
end
local elapsed = math.min(math.max(0, now - updated), full_refill_us)
tokens = math.min(capacity, tokens + elapsed * refill)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
if now > updated then updated = now end
local lag = updated - now
local ttl_ms = ceil_div(lag + ceil_div(capacity - tokens, refill), 1000) + margin_ms
redis.call('HSET', KEYS[1], 'tokens', string.format('%d', tokens), 'updated_us', string.format('%d', updated))
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl_ms))
return {allowed, tokens, lag}
"""


class Buckets(Protocol):
    """A store of token buckets keyed by policy name and bucket key."""

    def take(self, policy: Policy, key: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket under ``policy`` if it has them.

        Raises ``InvalidInput`` (``rate_limit_key_invalid``,
        ``rate_limit_cost_out_of_range``) and, for a shared store that does
        not answer, ``BucketsUnavailable``.
        """
        ...

    def close(self) -> None: ...


class InMemoryBuckets:
    """Buckets in this process: thread-safe, at most ``buckets_max`` of them (LRU)."""

    def __init__(self, clock: Clock | None = None, *, buckets_max: int = IN_MEMORY_BUCKETS_MAX) -> None:
        invariant(1 <= buckets_max <= IN_MEMORY_BUCKETS_MAX, f"buckets_max out of range: {buckets_max}")
        self._clock = clock if clock is not None else SystemClock()
        self._buckets_max = buckets_max
        self._states: OrderedDict[tuple[str, str], BucketState] = OrderedDict()
        self._lock = threading.Lock()
        self._evicted_count = 0

    def take(self, policy: Policy, key: str, cost: int = 1) -> Decision:
        check_bucket_key(key)
        policy.cost_units(cost)
        bucket = (policy.name, key)
        with self._lock:
            # The clock is read under the lock so that each bucket sees its
            # requests in the order of their timestamps.
            state, decision = policy.take(self._states.get(bucket), self._clock.now_ns(), cost)
            self._states[bucket] = state
            self._states.move_to_end(bucket)
            while len(self._states) > self._buckets_max:
                self._states.popitem(last=False)
                self._evicted_count += 1
        return decision

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    @property
    def evicted_count(self) -> int:
        """Buckets forgotten to stay within ``buckets_max``, since this store was made."""
        with self._lock:
            return self._evicted_count

    def close(self) -> None:
        with self._lock:
            self._states.clear()


def open_redis(url: str) -> redis.Redis:
    """A Redis client for ``url`` with the short timeouts a per-request check needs.

    Connects lazily. Raises ``ConfigurationError`` with code
    ``redis_url_invalid`` for a URL that does not parse (wrong scheme, bad
    port, a database that is not a number, a bad query option).
    """
    # redis-py reads "/x" as database 0 without a word; a typo must not
    # silently share another database's keys.
    parsed = urlsplit(url)
    if (
        parsed.scheme in {"redis", "rediss"}
        and parsed.path not in {"", "/"}
        and not parsed.path[1:].isdigit()
    ):
        raise ConfigurationError(
            f"NETFIN_REDIS_URL names database {parsed.path[1:]!r}, not a number", code="redis_url_invalid"
        )
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=REDIS_SOCKET_TIMEOUT_MS / 1_000,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_MS / 1_000,
            retry=Retry(NoBackoff(), REDIS_RETRIES),
        )
    except ValueError as error:
        # The message names the scheme or field at fault but not the password.
        raise ConfigurationError(
            f"NETFIN_REDIS_URL is not a Redis URL: {error}", code="redis_url_invalid"
        ) from error


class RedisBuckets:
    """Buckets shared by every process using the same Redis and ``prefix``.

    One Lua script does the refill and the take atomically; each bucket is a
    hash at ``prefix + policy name + ":" + key`` that expires once it would be
    full again. ``clock=None`` (the default) uses the Redis server's time.
    """

    def __init__(
        self, client: redis.Redis | str, prefix: str = DEFAULT_KEY_PREFIX, *, clock: Clock | None = None
    ) -> None:
        invariant(
            isinstance(prefix, str) and 1 <= len(prefix) <= KEY_PREFIX_LENGTH_MAX,
            f"the key prefix must have 1 to {KEY_PREFIX_LENGTH_MAX} characters",
        )
        self._owns_client = isinstance(client, str)
        self._client = open_redis(client) if isinstance(client, str) else client
        self._prefix = prefix
        self._clock = clock
        self._script = self._client.register_script(_TAKE_SCRIPT)

    @property
    def prefix(self) -> str:
        return self._prefix

    def bucket_key(self, policy: Policy, key: str) -> str:
        return f"{self._prefix}{policy.name}:{key}"

    def take(self, policy: Policy, key: str, cost: int = 1) -> Decision:
        check_bucket_key(key)
        cost_units = policy.cost_units(cost)
        now_us = "" if self._clock is None else str(self._clock.now_ns() // 1_000)
        args: list[int | str] = [
            policy.capacity_units,
            policy.refill_units_per_us,
            cost_units,
            policy.full_refill_us,
            BUCKET_TTL_MARGIN_MS,
            now_us,
        ]
        try:
            reply = self._script(keys=[self.bucket_key(policy, key)], args=args)
        except redis.RedisError as error:
            raise BucketsUnavailable(f"Redis did not take from the bucket: {error}") from error
        invariant(
            isinstance(reply, list) and len(reply) == 3 and all(type(v) is int for v in reply),
            f"unexpected reply from the rate limit script: {reply!r}",
        )
        allowed, tokens_units, lag_us = reply
        return policy.decide(allowed=allowed == 1, tokens_units=tokens_units, lag_us=lag_us, cost=cost)

    def ping(self) -> None:
        """Raise ``BucketsUnavailable`` unless Redis answers now."""
        try:
            self._client.ping()
        except redis.RedisError as error:
            raise BucketsUnavailable(f"Redis does not answer: {error}") from error

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
