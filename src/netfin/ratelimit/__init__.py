"""Rate limits: token buckets per TPP client and per customer, in process or on Redis.

Purpose: keep any one client or customer from taking more than its share of
the API. ``RateLimiter.check(policy_name, key)`` takes a token from the
bucket of ``key`` under a named ``Policy`` and returns a ``Decision``; the API
answers a refusal with 429 and ``Retry-After: decision.retry_after_s``
(``RateLimiter.enforce`` raises ``RateLimited`` for it). ``RateLimiter.from_env``
keeps buckets in process unless ``NETFIN_REDIS_URL`` is set, and then in
Redis, shared by every API process.

Invariants: all arithmetic is on integers (no floats); a bucket never allows
more than its capacity at once, nor more than ``capacity + rate * T`` over
any T seconds; a refusal's ``retry_after_s`` is enough for the same request
to pass; both backends give the same decisions for the same requests and
times; Redis buckets run on the Redis server's clock; when Redis goes away
the limiter keeps limiting in process (``degraded``) and returns to Redis
by itself.

Public names: Policy, BucketState, Decision, TPP_CLIENT_POLICY,
CUSTOMER_POLICY, ANONYMOUS_POLICY, DEFAULT_POLICIES, parse_policies, RateLimited,
BucketsUnavailable, Buckets, InMemoryBuckets, RedisBuckets, open_redis,
RateLimiter.
"""

from netfin.ratelimit.model import (
    ANONYMOUS_POLICY,
    CUSTOMER_POLICY,
    DEFAULT_POLICIES,
    TPP_CLIENT_POLICY,
    BucketState,
    BucketsUnavailable,
    Decision,
    Policy,
    RateLimited,
    parse_policies,
)
from netfin.ratelimit.service import RateLimiter
from netfin.ratelimit.store import Buckets, InMemoryBuckets, RedisBuckets, open_redis

__all__ = [
    "ANONYMOUS_POLICY",
    "CUSTOMER_POLICY",
    "DEFAULT_POLICIES",
    "TPP_CLIENT_POLICY",
    "BucketState",
    "Buckets",
    "BucketsUnavailable",
    "Decision",
    "InMemoryBuckets",
    "Policy",
    "RateLimited",
    "RateLimiter",
    "RedisBuckets",
    "open_redis",
    "parse_policies",
]
