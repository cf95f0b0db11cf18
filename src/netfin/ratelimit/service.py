"""The rate limiter the API calls: one check per request and bucket, with fail-over.

When the shared store (Redis) stops answering while the API runs, the
limiter does not refuse every request and does not wave every request
through: it keeps limiting with in-process buckets and logs a warning. It
stays on them for ``PRIMARY_RETRY_INTERVAL_S`` and then tries the shared
store again with the next request. ``degraded``, ``failover_count`` and
``fallback_decision_count`` make this visible to health checks and metrics.
While degraded, each process limits on its own, so N processes together
allow up to N times a policy's rate, and their fallback buckets start full.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from netfin.core.clock import NS_PER_SECOND, Clock, SystemClock
from netfin.core.errors import ConfigurationError
from netfin.ratelimit.model import (
    DEFAULT_POLICIES,
    BucketsUnavailable,
    Decision,
    Policy,
    RateLimited,
    check_bucket_key,
    parse_policies,
)
from netfin.ratelimit.store import DEFAULT_KEY_PREFIX, Buckets, InMemoryBuckets, RedisBuckets

REDIS_URL_VARIABLE = "NETFIN_REDIS_URL"
POLICIES_VARIABLE = "NETFIN_RATE_LIMITS"
# How long the limiter stays on in-process buckets after the shared store
# failed, before it tries the shared store again. Short enough that an
# outage of a Redis restart ends quickly; long enough that a dead Redis
# costs one connect timeout per interval, not one per request.
PRIMARY_RETRY_INTERVAL_S = 5
POLICIES_MAX = 64

_log = logging.getLogger("netfin.ratelimit")


class RateLimiter:
    """Checks requests against named policies on a bucket store.

    ``policies`` maps each name to its ``Policy`` (``DEFAULT_POLICIES`` unless
    given); ``fallback`` takes over while ``backend`` raises
    ``BucketsUnavailable`` (in-process buckets on ``clock`` unless given).
    Raises ``ConfigurationError`` with code ``rate_limit_policies_invalid``
    for an empty or oversized mapping or one whose keys are not the policies'
    names.
    """

    def __init__(
        self,
        backend: Buckets,
        policies: Mapping[str, Policy] = DEFAULT_POLICIES,
        *,
        fallback: Buckets | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= len(policies) <= POLICIES_MAX or any(
            not isinstance(policy, Policy) or policy.name != name for name, policy in policies.items()
        ):
            raise ConfigurationError(
                f"policies must be 1 to {POLICIES_MAX} Policy values, each under its own name",
                code="rate_limit_policies_invalid",
            )
        self._backend = backend
        self._policies = dict(policies)
        self._clock = clock if clock is not None else SystemClock()
        self._fallback = fallback if fallback is not None else InMemoryBuckets(self._clock)
        self._lock = threading.Lock()
        self._retry_primary_at_ns: int | None = None
        self._failover_count = 0
        self._fallback_decision_count = 0

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] = os.environ,
        *,
        clock: Clock | None = None,
        prefix: str = DEFAULT_KEY_PREFIX,
    ) -> RateLimiter:
        """A Redis-backed limiter when ``NETFIN_REDIS_URL`` is set, else an in-process one.

        ``NETFIN_RATE_LIMITS`` (see ``model.parse_policies``) overrides or adds
        policies on top of ``DEFAULT_POLICIES``. Raises ``ConfigurationError``
        with code ``redis_url_invalid`` for a URL that does not parse,
        ``redis_unavailable`` when Redis does not answer a ping now, or a
        policy code for bad ``NETFIN_RATE_LIMITS``.
        """
        policies = {**DEFAULT_POLICIES, **parse_policies(environ.get(POLICIES_VARIABLE, ""))}
        url = environ.get(REDIS_URL_VARIABLE, "").strip()
        if not url:
            return cls(InMemoryBuckets(clock), policies, clock=clock)
        buckets = RedisBuckets(url, prefix)
        try:
            buckets.ping()
        except BucketsUnavailable as error:
            buckets.close()
            raise ConfigurationError(
                f"{REDIS_URL_VARIABLE} is set but Redis does not answer: {error.message}",
                code="redis_unavailable",
            ) from error
        return cls(buckets, policies, clock=clock)

    @property
    def policies(self) -> Mapping[str, Policy]:
        return dict(self._policies)

    @property
    def backend(self) -> Buckets:
        return self._backend

    @property
    def in_process(self) -> bool:
        """True when decisions need no I/O: the buckets live in this process (no Redis)."""
        return isinstance(self._backend, InMemoryBuckets)

    @property
    def degraded(self) -> bool:
        """True while decisions come from the in-process fallback."""
        with self._lock:
            return self._retry_primary_at_ns is not None

    @property
    def failover_count(self) -> int:
        """Times the shared store failed a check, since this limiter was made."""
        with self._lock:
            return self._failover_count

    @property
    def fallback_decision_count(self) -> int:
        """Decisions made by the in-process fallback, since this limiter was made."""
        with self._lock:
            return self._fallback_decision_count

    def check(self, policy_name: str, key: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket under ``policy_name``; say whether allowed.

        Raises ``ConfigurationError`` (``rate_limit_policy_unknown``) for a
        name not in ``policies`` and ``InvalidInput`` (``rate_limit_key_invalid``,
        ``rate_limit_cost_out_of_range``). Never raises because Redis is gone.
        """
        policy = self._policy(policy_name)
        check_bucket_key(key)
        policy.cost_units(cost)
        if self._primary_due():
            try:
                decision = self._backend.take(policy, key, cost)
            except BucketsUnavailable as error:
                self._record_failure(error)
            else:
                self._record_success()
                return decision
        with self._lock:
            self._fallback_decision_count += 1
        return self._fallback.take(policy, key, cost)

    def enforce(self, policy_name: str, key: str, cost: int = 1) -> Decision:
        """Like ``check``, but a refusal raises ``RateLimited`` carrying the decision."""
        decision = self.check(policy_name, key, cost)
        if not decision.allowed:
            raise RateLimited(policy_name, decision)
        return decision

    def close(self) -> None:
        self._backend.close()
        self._fallback.close()

    def _policy(self, name: str) -> Policy:
        policy = self._policies.get(name)
        if policy is None:
            raise ConfigurationError(f"no rate limit policy named {name!r}", code="rate_limit_policy_unknown")
        return policy

    def _primary_due(self) -> bool:
        with self._lock:
            return self._retry_primary_at_ns is None or self._clock.now_ns() >= self._retry_primary_at_ns

    def _record_failure(self, error: BucketsUnavailable) -> None:
        with self._lock:
            first = self._retry_primary_at_ns is None
            self._failover_count += 1
            self._retry_primary_at_ns = self._clock.now_ns() + PRIMARY_RETRY_INTERVAL_S * NS_PER_SECOND
        if first:
            _log.warning("rate limits fall back to in-process buckets: %s", error.message)
        else:
            _log.info("the shared rate limit store is still unavailable: %s", error.message)

    def _record_success(self) -> None:
        with self._lock:
            recovered = self._retry_primary_at_ns is not None
            self._retry_primary_at_ns = None
        if recovered:
            _log.info("rate limits are back on the shared store")
