"""FX value types, their limits and the exact arithmetic of one conversion leg.

One leg converts ``source_amount_minor`` of the leg's source currency into
its target currency::

    net_minor           = source_amount_minor - fee_minor          (must be > 0)
    effective_rate      = mid_rate * (10_000 - spread_bps) / 10_000   (exact Decimal)
    target_amount_minor = floor(net_minor * effective_rate
                                * 10**(exponent(target) - exponent(source)))

``mid_rate`` is target major units per source major unit, ``spread_bps`` is
taken off the mid rate in basis points (a negative spread is a rebate) and
``fee_minor`` is a fixed fee in minor units of the leg's *source* currency.
The only rounding is the final ROUND_FLOOR to whole target minor units, so
the customer never receives a fraction that was not paid for. Every step is
exact: the effective rate is computed under a Decimal context that traps
``Inexact``, and the conversion itself is integer arithmetic on the rate's
exact fraction (``rate_numerator / rate_denominator`` in minor units).

A leg's function is monotone non-decreasing in its input, which is what lets
the route search keep only the best amount per currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import (
    ROUND_FLOOR,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from math import gcd

from netfin.core.errors import InvalidInput, invariant
from netfin.core.limits import INT64_MAX
from netfin.core.money import currency_exponent, is_currency
from netfin.payments.fx.errors import FxQuoteExpired

# Most currencies one router (one rates date, one profile) may hold.
CURRENCIES_MAX = 64
# Most directed corridors one router may hold (a complete graph on CURRENCIES_MAX).
CORRIDORS_MAX = CURRENCIES_MAX * (CURRENCIES_MAX - 1)
# The most legs a profile may allow one route (the default profile allows 4).
ROUTE_LEGS_MAX = 6
# Spreads in basis points: a rebate of at most 5 %, a margin of at most 50 %,
# to at most two decimal places (hundredths of a basis point).
SPREAD_BPS_MIN = Decimal(-500)
SPREAD_BPS_MAX = Decimal(5000)
SPREAD_BPS_PLACES_MAX = 2
# A fixed fee is at most the 64-bit range of its currency's minor units.
FEE_MINOR_MAX = INT64_MAX
# Mid rates: positive, at most 18 significant digits, within 1e-12 .. 1e12.
RATE_DIGITS_MAX = 18
RATE_MIN = Decimal("1e-12")
RATE_MAX = Decimal("1e12")
# How long a quote is honoured, at most.
QUOTE_TTL_SECONDS_MAX = 3600

BPS_PER_UNIT = Decimal(10_000)
# Exact arithmetic: any operation that would have to round raises instead.
EXACT = Context(prec=100, rounding=ROUND_FLOOR, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def check_spread_bps(spread_bps: object, *, where: str) -> Decimal:
    """A spread is a finite Decimal (never a binary float) within the named bounds."""
    if not isinstance(spread_bps, Decimal) or not spread_bps.is_finite():
        raise InvalidInput(f"{where}: spread_bps must be a finite Decimal", code="fx_spread_invalid")
    exponent = spread_bps.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -SPREAD_BPS_PLACES_MAX:
        raise InvalidInput(
            f"{where}: spread_bps {spread_bps} has more than {SPREAD_BPS_PLACES_MAX} decimal places",
            code="fx_spread_invalid",
        )
    if not SPREAD_BPS_MIN <= spread_bps <= SPREAD_BPS_MAX:
        raise InvalidInput(
            f"{where}: spread_bps {spread_bps} is outside {SPREAD_BPS_MIN}..{SPREAD_BPS_MAX}",
            code="fx_spread_invalid",
        )
    return spread_bps


def check_fee_minor(fee_minor: object, *, where: str) -> int:
    if type(fee_minor) is not int or not 0 <= fee_minor <= FEE_MINOR_MAX:
        raise InvalidInput(
            f"{where}: fee_minor must be an integer in 0..{FEE_MINOR_MAX} (minor units)",
            code="fx_fee_invalid",
        )
    return fee_minor


def check_mid_rate(mid_rate: object, *, where: str) -> Decimal:
    if not isinstance(mid_rate, Decimal) or not mid_rate.is_finite() or mid_rate <= 0:
        raise InvalidInput(f"{where}: a rate must be a positive finite Decimal", code="fx_rate_invalid")
    if len(mid_rate.as_tuple().digits) > RATE_DIGITS_MAX or not RATE_MIN <= mid_rate <= RATE_MAX:
        raise InvalidInput(
            f"{where}: rate {mid_rate} has over {RATE_DIGITS_MAX} digits"
            f" or is outside {RATE_MIN}..{RATE_MAX}",
            code="fx_rate_invalid",
        )
    return mid_rate


def check_currency(code: object, *, where: str) -> str:
    if not is_currency(code):
        raise InvalidInput(f"{where}: unknown ISO 4217 currency {code!r}", code="currency_unknown")
    return str(code)


def effective_rate_of(mid_rate: Decimal, spread_bps: Decimal) -> Decimal:
    """``mid_rate * (1 - spread_bps / 10_000)``, exactly (the context traps rounding)."""
    factor = EXACT.subtract(BPS_PER_UNIT, spread_bps).scaleb(-4, context=EXACT)
    return EXACT.multiply(mid_rate, factor)


def minor_rate_fraction(
    effective_rate: Decimal, source_currency: str, target_currency: str
) -> tuple[int, int]:
    """The rate as a reduced integer fraction from source minor units to target minor units."""
    numerator, denominator = effective_rate.as_integer_ratio()
    shift = currency_exponent(target_currency) - currency_exponent(source_currency)
    if shift >= 0:
        numerator *= 10**shift
    else:
        denominator *= 10**-shift
    common = gcd(numerator, denominator)
    return numerator // common, denominator // common


def convert_leg_minor(source_amount_minor: int, fee_minor: int, numerator: int, denominator: int) -> int:
    """Target minor units for one leg, rounded down (ROUND_FLOOR); 0 when the fee takes it all."""
    net_minor = source_amount_minor - fee_minor
    if net_minor <= 0:
        return 0
    return net_minor * numerator // denominator


@dataclass(frozen=True, slots=True)
class CorridorTerms:
    """What a corridor costs: a spread off the mid rate and a fixed fee in the
    source currency's minor units."""

    spread_bps: Decimal
    fee_minor: int

    def __post_init__(self) -> None:
        check_spread_bps(self.spread_bps, where="corridor terms")
        check_fee_minor(self.fee_minor, where="corridor terms")


@dataclass(frozen=True, slots=True)
class Corridor:
    """One directed corridor with its mid rate (target per source, major units).

    ``effective_rate`` and the minor-unit fraction are derived once here so
    that the route search does integer arithmetic only.
    """

    source_currency: str
    target_currency: str
    mid_rate: Decimal
    spread_bps: Decimal
    fee_minor: int
    effective_rate: Decimal = field(init=False)
    rate_numerator: int = field(init=False)
    rate_denominator: int = field(init=False)

    def __post_init__(self) -> None:
        where = f"corridor {self.source_currency}->{self.target_currency}"
        check_currency(self.source_currency, where=where)
        check_currency(self.target_currency, where=where)
        if self.source_currency == self.target_currency:
            raise InvalidInput(f"{where}: source and target must differ", code="fx_corridor_invalid")
        check_mid_rate(self.mid_rate, where=where)
        check_spread_bps(self.spread_bps, where=where)
        check_fee_minor(self.fee_minor, where=where)
        effective = effective_rate_of(self.mid_rate, self.spread_bps)
        numerator, denominator = minor_rate_fraction(effective, self.source_currency, self.target_currency)
        object.__setattr__(self, "effective_rate", effective)
        object.__setattr__(self, "rate_numerator", numerator)
        object.__setattr__(self, "rate_denominator", denominator)


@dataclass(frozen=True, slots=True)
class QuoteLeg:
    """One conversion to execute: everything the ledger needs, nothing to recompute."""

    source_currency: str
    target_currency: str
    mid_rate: Decimal
    spread_bps: Decimal
    effective_rate: Decimal
    fee_minor: int
    source_amount_minor: int
    target_amount_minor: int

    def recomputed_target_minor(self) -> int:
        """The leg's target amount from its own fields (the documented formula)."""
        numerator, denominator = minor_rate_fraction(
            self.effective_rate, self.source_currency, self.target_currency
        )
        return convert_leg_minor(self.source_amount_minor, self.fee_minor, numerator, denominator)


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced route, honoured exactly while ``now_ns < expires_ns``."""

    quote_id: int
    source_currency: str
    target_currency: str
    source_amount_minor: int
    target_amount_minor: int
    legs: tuple[QuoteLeg, ...]
    rates_date: date
    created_ns: int
    expires_ns: int

    @property
    def route(self) -> tuple[str, ...]:
        """The currencies in order, source first and target last."""
        return (self.source_currency, *(leg.target_currency for leg in self.legs))


def legs_to_execute(quote: Quote, now_ns: int) -> tuple[QuoteLeg, ...]:
    """The legs to book, exactly as quoted, or ``fx_quote_expired``.

    The quote's arithmetic is checked once more (each leg from its own fields,
    each leg feeding the next): a quote that does not add up is a bug or a
    forgery, and money must not move on it.
    """
    if type(now_ns) is not int:
        raise InvalidInput("now_ns must be an integer (ns since the epoch)", code="timestamp_invalid")
    if now_ns >= quote.expires_ns:
        raise FxQuoteExpired(
            f"quote {quote.quote_id:032x} expired at {quote.expires_ns} ns (now {now_ns} ns)"
        )
    _check_quote_adds_up(quote)
    return quote.legs


def _check_quote_adds_up(quote: Quote) -> None:
    invariant(len(quote.legs) >= 1, "a quote has at least one leg")
    amount_minor = quote.source_amount_minor
    currency = quote.source_currency
    for leg in quote.legs:
        invariant(leg.source_currency == currency, "each leg starts where the previous one ended")
        invariant(leg.source_amount_minor == amount_minor, "each leg spends what the previous delivered")
        invariant(
            leg.effective_rate == effective_rate_of(leg.mid_rate, leg.spread_bps),
            "a leg's effective rate is its mid rate less its spread",
        )
        invariant(leg.recomputed_target_minor() == leg.target_amount_minor, "a leg's amounts add up")
        amount_minor, currency = leg.target_amount_minor, leg.target_currency
    invariant(currency == quote.target_currency, "the last leg ends in the target currency")
    invariant(amount_minor == quote.target_amount_minor, "the quote delivers what its last leg delivers")
