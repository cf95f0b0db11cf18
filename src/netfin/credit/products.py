"""Loan, buy-now-pay-later and revolving-line products: validated, immutable terms.

Amounts are ``Money`` (integer minor units plus an ISO 4217 currency); rates
are annual ``Decimal`` fractions (``Decimal("0.12")`` is 12 % p.a.) bounded to
0..1 and to ``RATE_DECIMALS_MAX`` decimal places, so that every interest
amount is an exact rational number before it is rounded half-even to the
minor unit. Every constructor checks its input and raises ``InvalidInput``
with a rule-like code; a ``LoanTerms`` that exists is always schedulable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from netfin.core.errors import InvalidInput
from netfin.core.money import Money

# Limits on every input (checked here, at the boundary).
TERM_MONTHS_MAX = 360
PRINCIPAL_MINOR_MAX = 10**15
RATE_DECIMALS_MAX = 10
FEES_MAX = 8
GRACE_DAYS_MAX = 90
FEE_CODE_LENGTH_MAX = 32
BNPL_INSTALMENTS_MIN = 2
BNPL_INSTALMENTS_MAX = 24
BNPL_INTERVAL_DAYS_MIN = 14  # longer than the longest run of Chinese holidays (12 days), so dates never merge
BNPL_INTERVAL_DAYS_MAX = 92
START_YEAR_MIN = 1950
START_YEAR_MAX = 2150  # QuantLib dates end in 2199: a 30-year loan from 2150 still fits

# Calendar names accepted by ``LoanTerms.calendar`` (QuantLib calendars, see ``schedule.calendar_for``).
CALENDARS = ("china", "china_sse", "target", "null")


class RepaymentMethod(enum.StrEnum):
    """How the principal is repaid; interest is always paid on each due date."""

    ANNUITY = "annuity"  # level payment of principal plus interest (等额本息)
    EQUAL_PRINCIPAL = "equal_principal"  # the same principal each period (等额本金)
    BULLET = "bullet"  # interest each period, all principal on the last (先息后本)


class DayCount(enum.StrEnum):
    """The day-count conventions interest may accrue by (QuantLib day counters)."""

    ACT_360 = "act_360"
    ACT_365F = "act_365f"
    THIRTY_360 = "thirty_360"  # 30/360 bond basis
    ACT_ACT = "act_act"  # actual/actual ISDA


class FeeTiming(enum.StrEnum):
    UPFRONT = "upfront"  # charged once, with the first instalment
    EACH = "each"  # charged with every instalment (a flat monthly service fee)


def check_rate(value: object, what: str, *, upper: Decimal = Decimal(1)) -> Decimal:
    """A finite Decimal in ``[0, upper]`` with at most ``RATE_DECIMALS_MAX`` decimal places."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput(f"{what} must be a finite Decimal", code="rate_not_decimal")
    if value < 0 or value > upper:
        raise InvalidInput(f"{what} {value} is outside 0..{upper}", code="rate_out_of_range")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > RATE_DECIMALS_MAX:
        raise InvalidInput(
            f"{what} has more than {RATE_DECIMALS_MAX} decimal places", code="rate_too_precise"
        )
    return value


def check_count(value: object, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(f"{what} must be an integer in {low}..{high}", code=f"{what}_out_of_range")
    return value


def check_day(value: object, what: str) -> date:
    """A calendar date (not a datetime) that QuantLib can represent for a whole loan."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime.date", code="date_invalid")
    if not START_YEAR_MIN <= value.year <= START_YEAR_MAX:
        raise InvalidInput(f"{what} must lie in {START_YEAR_MIN}..{START_YEAR_MAX}", code="date_out_of_range")
    return value


def check_calendar(name: object) -> str:
    if name not in CALENDARS:
        raise InvalidInput(
            f"unknown calendar {name!r}; known: {', '.join(CALENDARS)}", code="calendar_unknown"
        )
    return str(name)


def _check_money(value: object, what: str, currency: str | None = None, *, positive: bool = False) -> Money:
    if not isinstance(value, Money):
        raise InvalidInput(f"{what} must be Money", code="amount_not_money")
    if currency is not None and value.currency != currency:
        raise InvalidInput(
            f"{what} is in {value.currency}, the product in {currency}", code="currency_mismatch"
        )
    low = 1 if positive else 0
    if not low <= value.amount_minor <= PRINCIPAL_MINOR_MAX:
        raise InvalidInput(
            f"{what} must be in {low}..{PRINCIPAL_MINOR_MAX} minor units", code="amount_out_of_range"
        )
    return value


@dataclass(frozen=True, slots=True)
class Fee:
    """A fee of a fixed amount plus a rate of the original principal, charged as ``timing`` says."""

    code: str
    amount: Money | None = None
    rate: Decimal = Decimal(0)
    timing: FeeTiming = FeeTiming.UPFRONT

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not 0 < len(self.code) <= FEE_CODE_LENGTH_MAX:
            raise InvalidInput(
                f"fee code must have 1..{FEE_CODE_LENGTH_MAX} characters", code="fee_code_invalid"
            )
        if self.amount is not None:
            _check_money(self.amount, f"fee {self.code}")
        check_rate(self.rate, f"fee {self.code} rate")
        if not isinstance(self.timing, FeeTiming):
            raise InvalidInput("fee timing must be a FeeTiming", code="fee_timing_invalid")

    def amount_minor(self, principal_minor: int) -> int:
        """Fixed part plus ``principal × rate`` rounded half-even to the minor unit."""
        fixed = 0 if self.amount is None else self.amount.amount_minor
        numerator, denominator = self.rate.as_integer_ratio()
        return fixed + round_half_even(principal_minor * numerator, denominator)


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-even, in exact integer arithmetic (denominator > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """An instalment loan's contract: what ``schedule.build_schedule`` turns into due dates and amounts.

    ``payment_day`` (1..31) fixes the day of the month on which instalments fall
    (clamped to the month's last day); ``None`` means monthly from ``start``.
    ``penalty_rate`` is the annual rate on overdue principal and interest
    after ``grace_days``; it does not change the schedule.
    """

    principal: Money
    annual_rate: Decimal
    term_months: int
    method: RepaymentMethod
    start: date
    day_count: DayCount = DayCount.ACT_360
    calendar: str = "china"
    payment_day: int | None = None
    fees: tuple[Fee, ...] = ()
    penalty_rate: Decimal = Decimal(0)
    grace_days: int = 0

    def __post_init__(self) -> None:
        _check_money(self.principal, "principal", positive=True)
        check_rate(self.annual_rate, "annual_rate")
        check_count(self.term_months, "term_months", 1, TERM_MONTHS_MAX)
        if not isinstance(self.method, RepaymentMethod):
            raise InvalidInput("method must be a RepaymentMethod", code="method_invalid")
        check_day(self.start, "start")
        if not isinstance(self.day_count, DayCount):
            raise InvalidInput("day_count must be a DayCount", code="day_count_invalid")
        check_calendar(self.calendar)
        if self.payment_day is not None:
            check_count(self.payment_day, "payment_day", 1, 31)
        self._check_fees()
        check_rate(self.penalty_rate, "penalty_rate")
        check_count(self.grace_days, "grace_days", 0, GRACE_DAYS_MAX)

    def _check_fees(self) -> None:
        if not isinstance(self.fees, tuple) or len(self.fees) > FEES_MAX:
            raise InvalidInput(f"fees must be a tuple of at most {FEES_MAX} Fee", code="fees_invalid")
        for fee in self.fees:
            if not isinstance(fee, Fee):
                raise InvalidInput("fees must be a tuple of Fee", code="fees_invalid")
            if fee.amount is not None:
                _check_money(fee.amount, f"fee {fee.code}", self.currency)

    @property
    def currency(self) -> str:
        return self.principal.currency

    def fee_amounts(self) -> tuple[int, int]:
        """(charged with the first instalment only, charged with every instalment), in minor units."""
        upfront = each = 0
        for fee in self.fees:
            amount = fee.amount_minor(self.principal.amount_minor)
            if fee.timing is FeeTiming.UPFRONT:
                upfront += amount
            else:
                each += amount
        return upfront, each


@dataclass(frozen=True, slots=True)
class BNPLPlan:
    """Buy now, pay later: the price less the down payment in ``instalments`` equal parts.

    The merchant funds the plan with ``merchant_fee_rate`` of the price, so the
    customer pays no interest. ``interval_days`` spaces the instalments by a
    fixed number of days (14 for "pay in 4"); ``None`` means monthly.
    """

    price: Money
    instalments: int
    down_payment: Money | None = None
    merchant_fee_rate: Decimal = Decimal(0)
    interval_days: int | None = None
    calendar: str = "china"

    def __post_init__(self) -> None:
        _check_money(self.price, "price", positive=True)
        check_count(self.instalments, "instalments", BNPL_INSTALMENTS_MIN, BNPL_INSTALMENTS_MAX)
        if self.down_payment is not None:
            _check_money(self.down_payment, "down_payment", self.price.currency)
            if self.down_payment.amount_minor >= self.price.amount_minor:
                raise InvalidInput(
                    "the down payment must be less than the price", code="down_payment_too_large"
                )
        check_rate(self.merchant_fee_rate, "merchant_fee_rate")
        if self.merchant_fee_rate >= 1:
            raise InvalidInput("merchant_fee_rate must be below 1", code="rate_out_of_range")
        if self.interval_days is not None:
            check_count(self.interval_days, "interval_days", BNPL_INTERVAL_DAYS_MIN, BNPL_INTERVAL_DAYS_MAX)
        check_calendar(self.calendar)

    @property
    def currency(self) -> str:
        return self.price.currency

    @property
    def down_payment_minor(self) -> int:
        return 0 if self.down_payment is None else self.down_payment.amount_minor

    @property
    def financed_minor(self) -> int:
        """What the customer repays in instalments: the price less the down payment."""
        return self.price.amount_minor - self.down_payment_minor


def merchant_fee(plan: BNPLPlan) -> int:
    """The merchant's fee in minor units: ``price × merchant_fee_rate``, rounded half-even."""
    numerator, denominator = plan.merchant_fee_rate.as_integer_ratio()
    return round_half_even(plan.price.amount_minor * numerator, denominator)


def merchant_settlement(plan: BNPLPlan) -> int:
    """What the merchant receives for the order: the price less the merchant fee."""
    return plan.price.amount_minor - merchant_fee(plan)


@dataclass(frozen=True, slots=True)
class RevolvingLineTerms:
    """A revolving credit line whose limit may move only within ``limit_floor..limit_ceiling``.

    Interest accrues on each day's closing balance at ``annual_rate`` by
    ``day_count`` (30/360 has no meaning for a daily balance and is refused);
    the minimum payment is ``min_payment_rate`` of the balance plus the
    period's interest, at least ``min_payment_floor``.
    """

    limit: Money
    annual_rate: Decimal
    min_payment_rate: Decimal
    min_payment_floor: Money
    limit_floor: Money
    limit_ceiling: Money
    day_count: DayCount = DayCount.ACT_360

    def __post_init__(self) -> None:
        currency = _check_money(self.limit, "limit").currency
        check_rate(self.annual_rate, "annual_rate")
        check_rate(self.min_payment_rate, "min_payment_rate")
        _check_money(self.min_payment_floor, "min_payment_floor", currency)
        _check_money(self.limit_floor, "limit_floor", currency)
        _check_money(self.limit_ceiling, "limit_ceiling", currency)
        if not self.limit_floor.amount_minor <= self.limit.amount_minor <= self.limit_ceiling.amount_minor:
            raise InvalidInput(
                "limit must lie between limit_floor and limit_ceiling", code="limit_out_of_band"
            )
        if self.day_count not in (DayCount.ACT_360, DayCount.ACT_365F, DayCount.ACT_ACT):
            raise InvalidInput(
                "a revolving line accrues daily: use ACT_360, ACT_365F or ACT_ACT",
                code="day_count_unsupported",
            )

    @property
    def currency(self) -> str:
        return self.limit.currency

    def clamp_limit(self, amount_minor: int) -> Money:
        """A proposed limit moved into the band (for dynamic limit policies)."""
        if type(amount_minor) is not int:
            raise InvalidInput("amount_minor must be an int", code="amount_not_integer")
        low, high = self.limit_floor.amount_minor, self.limit_ceiling.amount_minor
        return Money(min(max(amount_minor, low), high), self.currency)

    def with_limit(self, limit: Money) -> RevolvingLineTerms:
        """The same line with a new limit; a limit outside the band is refused."""
        return replace(self, limit=limit)
