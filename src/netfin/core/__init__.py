"""netfin.core: money, currencies, ids, the clock, limits and error types.

No I/O. Invariants: amounts are ints in minor units with an ISO 4217 currency;
rates are Decimal; ids are 128-bit and time-ordered; time comes from an
injected ``Clock``.

Public names: Money, currency_exponent, is_currency, convert, Clock,
SystemClock, ManualClock, IdSource, Uuid7Ids, SeededIds, NetfinError,
InvalidInput, NotFound, LimitExceeded, ConfigurationError, invariant.
"""

from netfin.core.clock import Clock, ManualClock, SystemClock
from netfin.core.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    InvariantViolation,
    LimitExceeded,
    NetfinError,
    NotFound,
    Unauthenticated,
    invariant,
)
from netfin.core.ids import IdSource, SeededIds, Uuid7Ids, format_id, parse_id
from netfin.core.money import Money, convert, currency_exponent, is_currency

__all__ = [
    "Clock",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "IdSource",
    "InvalidInput",
    "InvariantViolation",
    "LimitExceeded",
    "ManualClock",
    "Money",
    "NetfinError",
    "NotFound",
    "SeededIds",
    "SystemClock",
    "Unauthenticated",
    "Uuid7Ids",
    "convert",
    "currency_exponent",
    "format_id",
    "invariant",
    "is_currency",
    "parse_id",
]
