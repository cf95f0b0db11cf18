"""Token buckets in integer arithmetic: policies, bucket state, decisions and rejections.

A bucket holds at most ``capacity`` tokens and gains ``refill_per_s`` tokens
per second; a request takes ``cost`` tokens or is refused. Nothing here is a
float. Time is counted in whole microseconds, because the Redis backend runs
the same arithmetic in Lua, whose numbers are IEEE doubles: a microsecond
timestamp (about 1.8e15 today) is an exact integer there, a nanosecond one is
not.

Tokens are counted in *units*: one token is ``q * 10**6`` units, where
``p/q`` is the refill rate in lowest terms, so one microsecond adds exactly
``p`` units. Refill therefore never rounds, and a caller who asks often never
loses the fractions of a token that a coarser scale would drop. Every
quantity stays below ``BUCKET_UNITS_MAX`` (2**50), so the Lua copy of this
arithmetic is exact too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from netfin.core.errors import ConfigurationError, InvalidInput, NetfinError, invariant

NS_PER_US = 1_000
US_PER_SECOND = 1_000_000

# The largest burst one policy may allow, in tokens.
BUCKET_CAPACITY_MAX = 1_000_000
# The fastest refill one policy may have, in tokens per second.
REFILL_PER_S_MAX = 1_000_000
# Every unit count (capacity, refill, deficit) stays below this, so that the
# sums in the Lua script stay below 2**53, where doubles stop being exact.
BUCKET_UNITS_MAX = 2**50
# Policy names and bucket keys become parts of Redis keys.
POLICY_NAME_LENGTH_MAX = 64
BUCKET_KEY_LENGTH_MAX = 256
# Timestamps beyond this (the year 2255) would no longer be exact in Lua.
TIMESTAMP_US_MAX = 2**53 - 1
# The longest NETFIN_RATE_LIMITS text that ``parse_policies`` accepts.
POLICIES_TEXT_LENGTH_MAX = 1_024

_POLICY_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
# Rates in configuration text: "5", "0.5" or "1/60"; no exponents, so that a
# typing slip cannot ask Fraction to build a gigantic number.
_RATE_TEXT = re.compile(r"\d{1,7}(\.\d{1,6})?\Z|\d{1,7}/[1-9]\d{0,6}\Z")
_CAPACITY_TEXT = re.compile(r"\d{1,7}\Z")


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling of ``numerator / denominator`` for a positive denominator."""
    return -(-numerator // denominator)


@dataclass(frozen=True, slots=True)
class BucketState:
    """One bucket: its tokens (in the policy's units) as of ``updated_us``."""

    tokens_units: int
    updated_us: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request.

    ``remaining`` is the whole tokens left after this request; ``retry_after_s``
    is 0 when allowed and otherwise the whole seconds (at least 1) after which
    the same request will be allowed if nobody else takes from the bucket;
    ``limit`` is the bucket's capacity; ``reset_s`` is the whole seconds until
    the bucket is full again. The API turns a refusal into 429 with
    ``Retry-After: retry_after_s``.
    """

    allowed: bool
    remaining: int
    retry_after_s: int
    limit: int
    reset_s: int


@dataclass(frozen=True, init=False)
class Policy:
    """A named bucket shape: ``capacity`` tokens, refilled at ``refill_per_s``.

    ``refill_per_s`` may be given as an int, a ``Fraction`` or a finite
    ``Decimal`` (never a float) and is kept as a ``Fraction`` in lowest terms.
    Raises ``ConfigurationError`` with codes ``rate_limit_policy_name_invalid``,
    ``rate_limit_capacity_out_of_range``, ``rate_limit_refill_invalid``,
    ``rate_limit_refill_out_of_range`` or ``rate_limit_refill_too_fine`` (the
    rate's denominator is too large for exact arithmetic at this capacity).
    """

    name: str
    capacity: int
    refill_per_s: Fraction
    units_per_token: int
    refill_units_per_us: int
    capacity_units: int
    full_refill_us: int

    def __init__(self, name: str, capacity: int, refill_per_s: int | Fraction | Decimal) -> None:
        _check_policy_name(name)
        if type(capacity) is not int or not 1 <= capacity <= BUCKET_CAPACITY_MAX:
            raise ConfigurationError(
                f"capacity must be an int in [1, {BUCKET_CAPACITY_MAX}], got {capacity!r}",
                code="rate_limit_capacity_out_of_range",
            )
        rate = _to_fraction(refill_per_s)
        units_per_token = rate.denominator * US_PER_SECOND
        capacity_units = capacity * units_per_token
        if capacity_units > BUCKET_UNITS_MAX:
            raise ConfigurationError(
                f"refill rate {rate} is too fine for exact arithmetic at capacity {capacity}",
                code="rate_limit_refill_too_fine",
            )
        fields = {
            "name": name,
            "capacity": capacity,
            "refill_per_s": rate,
            "units_per_token": units_per_token,
            "refill_units_per_us": rate.numerator,
            "capacity_units": capacity_units,
            "full_refill_us": ceil_div(capacity_units, rate.numerator),
        }
        for field_name, value in fields.items():
            # A frozen dataclass with a hand-written __init__ sets its fields this way.
            object.__setattr__(self, field_name, value)

    def take(self, state: BucketState | None, now_ns: int, cost: int = 1) -> tuple[BucketState, Decision]:
        """Refill ``state`` up to ``now_ns`` and take ``cost`` tokens if there are enough.

        ``None`` is a bucket never seen (or forgotten), which is full. A clock
        that reads earlier than ``state.updated_us`` refills nothing and does
        not move the bucket back in time. Raises ``InvalidInput`` with code
        ``rate_limit_cost_out_of_range`` unless ``1 <= cost <= capacity``.
        """
        cost_units = self.cost_units(cost)
        invariant(type(now_ns) is int and now_ns >= 0, f"now_ns must be a non-negative int: {now_ns!r}")
        now_us = now_ns // NS_PER_US
        invariant(now_us <= TIMESTAMP_US_MAX, f"now_ns {now_ns} is beyond the exact range of the buckets")
        if state is None:
            state = BucketState(self.capacity_units, now_us)
        elapsed_us = min(max(0, now_us - state.updated_us), self.full_refill_us)
        tokens_units = min(self.capacity_units, state.tokens_units + elapsed_us * self.refill_units_per_us)
        allowed = tokens_units >= cost_units
        if allowed:
            tokens_units -= cost_units
        updated_us = max(now_us, state.updated_us)
        decision = self.decide(
            allowed=allowed, tokens_units=tokens_units, lag_us=updated_us - now_us, cost=cost
        )
        return BucketState(tokens_units, updated_us), decision

    def decide(self, *, allowed: bool, tokens_units: int, lag_us: int, cost: int) -> Decision:
        """The decision for a bucket left with ``tokens_units`` after a take.

        ``lag_us`` is how far the bucket's own time is ahead of the caller's
        (0 unless the caller's clock went back); waits count from the caller's
        now. Both backends call this, so they cannot disagree on the numbers.
        """
        invariant(
            0 <= tokens_units <= self.capacity_units, f"tokens out of range for {self.name}: {tokens_units}"
        )
        invariant(lag_us >= 0, f"negative lag for {self.name}: {lag_us}")
        retry_after_s = 0
        if not allowed:
            deficit_units = self.cost_units(cost) - tokens_units
            invariant(deficit_units > 0, f"refused with enough tokens for {self.name}")
            wait_us = lag_us + ceil_div(deficit_units, self.refill_units_per_us)
            retry_after_s = max(1, ceil_div(wait_us, US_PER_SECOND))
        full_in_us = lag_us + ceil_div(self.capacity_units - tokens_units, self.refill_units_per_us)
        return Decision(
            allowed=allowed,
            remaining=tokens_units // self.units_per_token,
            retry_after_s=retry_after_s,
            limit=self.capacity,
            reset_s=ceil_div(full_in_us, US_PER_SECOND),
        )

    def cost_units(self, cost: int) -> int:
        """``cost`` tokens in units; a cost above capacity could never be paid."""
        if type(cost) is not int or not 1 <= cost <= self.capacity:
            raise InvalidInput(
                f"cost must be an int in [1, {self.capacity}] for {self.name}, got {cost!r}",
                code="rate_limit_cost_out_of_range",
            )
        return cost * self.units_per_token


def _check_policy_name(name: str) -> None:
    if not isinstance(name, str) or len(name) > POLICY_NAME_LENGTH_MAX or _POLICY_NAME.match(name) is None:
        raise ConfigurationError(
            f"policy name must match [a-z][a-z0-9_]* and have at most {POLICY_NAME_LENGTH_MAX} characters",
            code="rate_limit_policy_name_invalid",
        )


def _to_fraction(value: int | Fraction | Decimal) -> Fraction:
    # bool is an int and float converts silently; both are refused so that a
    # rate is always exactly what was written.
    if type(value) is int or isinstance(value, Fraction):
        rate = Fraction(value)
    elif isinstance(value, Decimal) and value.is_finite():
        rate = Fraction(value)
    else:
        raise ConfigurationError(
            f"refill_per_s must be an int, Fraction or finite Decimal, got {value!r}",
            code="rate_limit_refill_invalid",
        )
    if not 0 < rate <= REFILL_PER_S_MAX:
        raise ConfigurationError(
            f"refill_per_s must be in (0, {REFILL_PER_S_MAX}], got {rate}",
            code="rate_limit_refill_out_of_range",
        )
    return rate


def check_bucket_key(key: str) -> None:
    """A bucket key (a client id, a customer id) is a non-empty string of bounded length.

    Raises ``InvalidInput`` with code ``rate_limit_key_invalid``.
    """
    if not isinstance(key, str) or not 1 <= len(key) <= BUCKET_KEY_LENGTH_MAX:
        raise InvalidInput(
            f"a bucket key must be a string of 1 to {BUCKET_KEY_LENGTH_MAX} characters",
            code="rate_limit_key_invalid",
        )


# Per TPP client (OAuth2 client id): a burst of 100 requests, then 50 per
# second, which covers a TPP polling many customers' accounts at once.
TPP_CLIENT_POLICY = Policy("tpp_client", 100, 50)
# Per customer (party id), across every TPP acting for them and their own sign-ins: a
# burst of 20 requests, then 5 per second, well above what a person or a
# consent-bound TPP needs for one customer.
CUSTOMER_POLICY = Policy("customer", 20, 5)
# Per client address, for what is done before anyone is known (opening an account, signing in
# on the portal): a burst of 20, then one every 6 seconds. Passwords also lock per party.
ANONYMOUS_POLICY = Policy("anonymous", 20, Fraction(1, 6))
# Read-only, because every limiter built without its own policies shares it.
DEFAULT_POLICIES: Mapping[str, Policy] = MappingProxyType(
    {
        TPP_CLIENT_POLICY.name: TPP_CLIENT_POLICY,
        CUSTOMER_POLICY.name: CUSTOMER_POLICY,
        ANONYMOUS_POLICY.name: ANONYMOUS_POLICY,
    }
)


def parse_policies(text: str) -> dict[str, Policy]:
    """Policies from ``name=capacity:refill_per_s`` entries separated by commas.

    For example ``tpp_client=200:100,customer=10:1/2``; the rate may be an
    integer, a decimal (``0.5``) or a fraction (``1/60``). Raises
    ``ConfigurationError`` with code ``rate_limits_invalid`` for text that
    does not parse, or a ``Policy`` code for values out of range.
    """
    if len(text) > POLICIES_TEXT_LENGTH_MAX:
        raise ConfigurationError(
            f"rate limit text longer than {POLICIES_TEXT_LENGTH_MAX} characters", code="rate_limits_invalid"
        )
    policies: dict[str, Policy] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, _, shape = entry.partition("=")
        capacity_text, _, rate_text = shape.partition(":")
        if _CAPACITY_TEXT.match(capacity_text) is None or _RATE_TEXT.match(rate_text) is None:
            raise ConfigurationError(
                f"rate limit entry {entry!r} is not name=capacity:refill_per_s", code="rate_limits_invalid"
            )
        if name.strip() in policies:
            raise ConfigurationError(f"policy {name.strip()!r} given twice", code="rate_limits_invalid")
        policies[name.strip()] = Policy(name.strip(), int(capacity_text), Fraction(rate_text))
    return policies


class RateLimited(NetfinError):
    """A request was refused by its bucket; the API answers 429 with ``Retry-After``."""

    code = "rate_limit_exceeded"

    def __init__(self, policy_name: str, decision: Decision) -> None:
        invariant(not decision.allowed, "RateLimited raised for an allowed decision")
        super().__init__(f"the {policy_name} rate limit is reached; retry after {decision.retry_after_s} s")
        self.policy_name = policy_name
        self.decision = decision


class BucketsUnavailable(NetfinError):
    """A shared bucket store (Redis) did not answer; the service falls back to in-process buckets."""

    code = "rate_limit_store_unavailable"
