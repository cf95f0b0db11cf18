"""Money: integer minor units plus an ISO 4217 currency.

The exponent of each currency comes from the maintained ``iso4217`` package
(CNY 2, JPY 0, BHD 3), never from a hand-written table. Rates are ``Decimal``;
every conversion names its rounding mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

import iso4217

from netfin.core.errors import InvalidInput
from netfin.core.limits import INT64_MAX


def currency_exponent(code: str) -> int:
    if not isinstance(code, str):
        raise InvalidInput(f"unknown ISO 4217 currency {code!r}", code="currency_unknown")
    return _currency_exponent(code)


@lru_cache(maxsize=512)
def _currency_exponent(code: str) -> int:
    """Minor-unit exponent of an ISO 4217 currency; rejects unknown codes and
    codes without minor units (gold, SDR, testing codes)."""
    try:
        currency = iso4217.Currency(code)
    except (ValueError, TypeError):
        raise InvalidInput(f"unknown ISO 4217 currency {code!r}", code="currency_unknown") from None
    exponent = currency.exponent
    if exponent is None:
        raise InvalidInput(
            f"currency {code!r} has no minor unit and cannot be held in a ledger",
            code="currency_has_no_minor_unit",
        )
    return int(exponent)


_KNOWN_CURRENCIES: set[str] = set()


def is_currency(code: object) -> bool:
    """True for an ISO 4217 code with a minor unit (hot path: a set lookup)."""
    if type(code) is not str or len(code) != 3:
        return False
    if code in _KNOWN_CURRENCIES:
        return True
    try:
        currency_exponent(code)
    except InvalidInput:
        return False
    _KNOWN_CURRENCIES.add(code)
    return True


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise InvalidInput("amount_minor must be an int (minor units)", code="amount_not_integer")
        if abs(self.amount_minor) > INT64_MAX:
            raise InvalidInput("amount exceeds the 64-bit range", code="amount_too_large")
        currency_exponent(self.currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Major units (``Decimal('12.34')``) to minor units with a named rounding."""
        if not isinstance(amount, Decimal):
            raise InvalidInput("amount must be a Decimal", code="amount_not_decimal")
        if not amount.is_finite() or abs(amount) >= 2**63:
            raise InvalidInput("amount is not a finite 64-bit amount", code="amount_too_large")
        quantum = Decimal(1).scaleb(-currency_exponent(currency))
        minor = amount.quantize(quantum, rounding=rounding).scaleb(currency_exponent(currency))
        return cls(int(minor), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise InvalidInput(
                f"cannot combine {self.currency} and {other.currency}", code="currency_mismatch"
            )

    def __str__(self) -> str:
        exponent = currency_exponent(self.currency)
        return f"{self.to_decimal():,.{exponent}f} {self.currency}"


def convert(amount: Money, rate: Decimal, target: str, *, rounding: str = ROUND_HALF_EVEN) -> Money:
    """Convert at a Decimal rate (target per source unit), rounding as named."""
    if not isinstance(rate, Decimal) or rate <= 0:
        raise InvalidInput("rate must be a positive Decimal", code="rate_invalid")
    return Money.from_decimal(amount.to_decimal() * rate, target, rounding=rounding)
