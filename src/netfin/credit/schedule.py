"""Repayment schedules: due dates from QuantLib, amounts in exact integer arithmetic.

Conventions (docs/credit-schedules.md has the worked examples):

* Due dates come from a monthly QuantLib ``Schedule`` on the instalment day
  (the start's day of the month, or ``payment_day``; clamped to short months),
  adjusted to the next business day of the loan's calendar (``Following``). A
  start on the last day of a month keeps instalments on month ends. Without a
  ``payment_day`` the first instalment falls one month after the start; with
  one, on that day of the next month, or of the month after when the first
  period would be shorter than ``FIRST_PERIOD_DAYS_MIN`` days.
* Interest of a period is ``opening balance × annual rate × year fraction``
  between consecutive due dates (the start for the first), the year fraction
  by the loan's day count (QuantLib's day counters, kept as an exact ratio of
  integers), rounded half-even to the minor unit once per period. No float
  touches an amount.
* Annuity: the level payment comes from the standard formula on the nominal
  monthly rate ``annual_rate / 12`` (``Decimal`` with 60 digits). Each
  instalment but the last pays exactly that: its principal is the payment
  less the day-count interest (never below zero nor above the balance). The
  last instalment takes the whole remaining balance, so the principal parts
  sum exactly to the principal; its total differs from the level payment by
  the day-count effect (periods not worth exactly 1/12 of a year) compounded
  over the term, plus the rounding of each period's interest.
* Equal principal: ``principal // term`` each period, the remainder on the last.
* Bullet: interest each period, all the principal on the last.
* BNPL: the financed amount in equal parts with the remainder on the last, no
  interest (the merchant pays ``products.merchant_fee``).

``build_schedules_batch`` computes many schedules column-wise with numpy
``int64``; a loan whose products could leave 63 bits goes through the scalar
path instead, so both give identical instalments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import QuantLib as ql

from netfin.core.errors import InvalidInput, invariant
from netfin.core.money import Money, is_currency
from netfin.credit.products import (
    CALENDARS,
    PRINCIPAL_MINOR_MAX,
    RATE_DECIMALS_MAX,
    START_YEAR_MAX,
    START_YEAR_MIN,
    TERM_MONTHS_MAX,
    BNPLPlan,
    DayCount,
    Fee,
    FeeTiming,
    LoanTerms,
    RepaymentMethod,
    check_day,
    round_half_even,
)

FIRST_PERIOD_DAYS_MIN = 15
GRID_CACHE_MAX = 1 << 16
FACTOR_DIGITS = 40  # the annuity factor is kept as an integer scaled by 10**40
ACT_ACT_DENOMINATOR = 365 * 366  # a/365 + b/366 == (366 a + 365 b) / (365 × 366)

Int64s = npt.NDArray[np.int64]


# --- dates ------------------------------------------------------------------------------------------


@lru_cache(maxsize=len(CALENDARS))
def calendar_for(name: str) -> ql.Calendar:
    """The QuantLib calendar behind a calendar name: "china" is the interbank market (bank working days,
    weekend make-up days included), "china_sse" the Shanghai exchange, "target" the euro area."""
    if name == "china":
        return ql.China(ql.China.IB)
    if name == "china_sse":
        return ql.China(ql.China.SSE)
    if name == "target":
        return ql.TARGET()
    if name == "null":
        return ql.NullCalendar()
    raise InvalidInput(f"unknown calendar {name!r}", code="calendar_unknown")


_QL_SERIAL_OFFSET = 693_594  # date.toordinal() - ql.Date.serialNumber(), valid from 1900-03-01


def to_ql(day: date) -> ql.Date:
    return ql.Date(day.toordinal() - _QL_SERIAL_OFFSET)


def from_ql(day: ql.Date) -> date:
    return date.fromordinal(day.serialNumber() + _QL_SERIAL_OFFSET)


def _month_day(month_index: int, day: int) -> date:
    """Day ``day`` of the month ``year * 12 + month - 1``, clamped to the month's last day."""
    year, month = divmod(month_index, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day, (following - timedelta(days=1)).day))


def _first_due(start: date, payment_day: int | None) -> tuple[int, int]:
    """(month index of the first instalment, day of the month instalments fall on)."""
    first = start.year * 12 + start.month  # the month after the start's
    if payment_day is None:
        month_end = (start + timedelta(days=1)).month != start.month
        return first, 31 if month_end else start.day
    if (_month_day(first, payment_day) - start).days < FIRST_PERIOD_DAYS_MIN:
        first += 1
    return first, payment_day


def _capacity(months: int) -> int:
    """Grids are built for 36, 120 or 360 months and shared by every shorter term."""
    return next(c for c in (36, 120, TERM_MONTHS_MAX) if months <= c)


@dataclass(frozen=True, slots=True)
class DateGrid:
    """Due dates from a start and, per day count, the periods' year-fraction numerators."""

    start: date
    dues: tuple[date, ...]
    numerators: Mapping[DayCount, tuple[int, ...]]  # read-only: grids are cached and shared


def _check_grid(start: date, dates: Sequence[ql.Date], count: int, calendar: str) -> None:
    ql_calendar = calendar_for(calendar)
    invariant(len(dates) == count, f"QuantLib gave {len(dates)} due dates, expected {count}")
    serials = [start.toordinal() - _QL_SERIAL_OFFSET, *(d.serialNumber() for d in dates)]
    invariant(all(a < b for a, b in pairwise(serials)), f"due dates after {start} do not increase")
    holidays = [d for d in dates if not ql_calendar.isBusinessDay(d)]
    invariant(not holidays, f"due dates on holidays of {calendar}: {holidays}")


def _grid(start: date, dates: Sequence[ql.Date]) -> DateGrid:
    previous = to_ql(start)
    thirty = []
    for day in dates:
        thirty.append(_THIRTY_360.dayCount(previous, day))
        previous = day
    dues = tuple(from_ql(d) for d in dates)
    bounds = list(zip((start, *dues[:-1]), dues, strict=True))
    numerators = {
        DayCount.ACT_360: tuple((b - a).days for a, b in bounds),
        DayCount.THIRTY_360: tuple(thirty),
        DayCount.ACT_ACT: tuple(year_fraction(DayCount.ACT_ACT, a, b)[0] for a, b in bounds),
    }
    numerators[DayCount.ACT_365F] = numerators[DayCount.ACT_360]
    return DateGrid(start, dues, MappingProxyType(numerators))


@lru_cache(maxsize=GRID_CACHE_MAX)
def month_grid(start: date, calendar: str, payment_day: int | None, capacity: int) -> DateGrid:
    """``capacity`` monthly due dates after ``start`` from one QuantLib ``Schedule`` (cached).

    QuantLib steps each date from the first one (``Forward``, no end-of-month flag): the seed is put in
    a 31-day month so that days 29..31 are clamped month by month rather than carried over from a short
    month. A start on a month's last day keeps instalments on month ends (day 31, clamped).
    """
    check_day(start, "start")
    first, day = _first_due(start, payment_day)
    anchor_month = first - 1 if _month_day(first - 1, 31).day == 31 else first - 2
    anchor = _month_day(anchor_month, day)
    offset = first - anchor_month
    schedule = ql.Schedule(
        to_ql(anchor),
        to_ql(anchor) + ql.Period(offset + capacity - 1, ql.Months),
        ql.Period(1, ql.Months),
        calendar_for(calendar),
        ql.Following,
        ql.Following,
        ql.DateGeneration.Forward,
        False,
    )
    dates = list(schedule.dates())[offset:]
    _check_grid(start, dates, capacity, calendar)
    return _grid(start, dates)


def due_dates(start: date, months: int, calendar: str, payment_day: int | None) -> tuple[date, ...]:
    """The first ``months`` due dates of the loan's grid."""
    return month_grid(start, calendar, payment_day, _capacity(months)).dues[:months]


@lru_cache(maxsize=GRID_CACHE_MAX)
def interval_dates(start: date, count: int, interval_days: int, calendar: str) -> tuple[date, ...]:
    """``count`` due dates every ``interval_days`` after ``start`` (BNPL "pay in N")."""
    check_day(start, "start")
    schedule = ql.Schedule(
        to_ql(start),
        to_ql(start) + ql.Period(count * interval_days, ql.Days),
        ql.Period(interval_days, ql.Days),
        calendar_for(calendar),
        ql.Following,
        ql.Following,
        ql.DateGeneration.Forward,
        False,
    )
    dates = list(schedule.dates())[1:]
    _check_grid(start, dates, count, calendar)
    return tuple(from_ql(d) for d in dates)


# --- day counts -------------------------------------------------------------------------------------

_THIRTY_360 = ql.Thirty360(ql.Thirty360.BondBasis)
_DENOMINATOR = {
    DayCount.ACT_360: 360,
    DayCount.ACT_365F: 365,
    DayCount.THIRTY_360: 360,
    DayCount.ACT_ACT: ACT_ACT_DENOMINATOR,
}


def day_counter(day_count: DayCount) -> ql.DayCounter:
    """The QuantLib day counter a ``DayCount`` stands for."""
    return {
        DayCount.ACT_360: ql.Actual360(),
        DayCount.ACT_365F: ql.Actual365Fixed(),
        DayCount.THIRTY_360: _THIRTY_360,
        DayCount.ACT_ACT: ql.ActualActual(ql.ActualActual.ISDA),
    }[day_count]


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def year_fraction(day_count: DayCount, begin: date, end: date) -> tuple[int, int]:
    """The year fraction from ``begin`` to ``end`` as an exact ratio ``(numerator, denominator)``.

    It equals QuantLib's ``yearFraction`` for the same day counter (which returns a float): the day
    numbers are QuantLib's ``dayCount`` and the denominators the convention's, so interest can be
    rounded exactly. ACT/ACT ISDA weighs days in leap years by 1/366 and the others by 1/365.
    """
    if day_count is DayCount.THIRTY_360:
        return _THIRTY_360.dayCount(to_ql(begin), to_ql(end)), 360
    if day_count is not DayCount.ACT_ACT:
        return (end - begin).days, _DENOMINATOR[day_count]
    numerator = 0
    cursor = begin
    while cursor < end:
        boundary = min(end, date(cursor.year + 1, 1, 1))
        numerator += (boundary - cursor).days * (365 if _is_leap(cursor.year) else 366)
        cursor = boundary
    return numerator, ACT_ACT_DENOMINATOR


def period_fractions(start: date, dues: Sequence[date], day_count: DayCount) -> tuple[int, ...]:
    """Year-fraction numerators of the periods start..dues[0], dues[0]..dues[1], … (over one denominator)."""
    bounds = zip((start, *dues[:-1]), dues, strict=True)
    return tuple(year_fraction(day_count, a, b)[0] for a, b in bounds)


def interest_minor(balance: int, rate: tuple[int, int], fraction: tuple[int, int]) -> int:
    """``balance × rate × fraction`` rounded half-even to the minor unit (exact)."""
    return round_half_even(balance * rate[0] * fraction[0], rate[1] * fraction[1])


# --- the level payment ------------------------------------------------------------------------------


@lru_cache(maxsize=GRID_CACHE_MAX)
def _annuity_factor(rate_numerator: int, rate_denominator: int, months: int) -> int:
    """``i / (1 - (1 + i) ** -n)`` with ``i = rate / 12``, scaled by ``10**FACTOR_DIGITS``."""
    with localcontext() as context:
        context.prec = 60
        monthly = Decimal(rate_numerator) / Decimal(rate_denominator) / 12
        factor = monthly / (1 - (1 + monthly) ** -months)
        return int(factor.scaleb(FACTOR_DIGITS).to_integral_value(rounding=ROUND_HALF_EVEN))


def level_payment_ratio(principal_minor: int, rate: tuple[int, int], months: int) -> int:
    """The annuity's level payment in minor units for a rate given as a reduced ratio."""
    if rate[0] == 0:
        return round_half_even(principal_minor, months)
    factor = _annuity_factor(rate[0], rate[1], months)
    return round_half_even(principal_minor * factor, 10**FACTOR_DIGITS)


def level_payment(principal_minor: int, annual_rate: Decimal, months: int) -> int:
    """The standard annuity payment ``P i / (1 - (1 + i)^-n)``, ``i = annual_rate / 12``, half-even."""
    return level_payment_ratio(principal_minor, annual_rate.as_integer_ratio(), months)


def level_amount(terms: LoanTerms) -> int:
    """What stays level from one instalment to the next: the annuity payment, the equal principal
    part, or 0 for a bullet loan."""
    principal = terms.principal.amount_minor
    if terms.method is RepaymentMethod.ANNUITY:
        return level_payment(principal, terms.annual_rate, terms.term_months)
    if terms.method is RepaymentMethod.EQUAL_PRINCIPAL:
        return principal // terms.term_months
    return 0


# --- schedules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instalment:
    """One due date's amounts in minor units; balances are of principal before and after it."""

    seq: int
    due: date
    principal: int
    interest: int
    fee: int
    total: int
    opening_balance: int
    closing_balance: int


@dataclass(frozen=True, slots=True)
class Schedule:
    terms: LoanTerms | BNPLPlan
    currency: str
    instalments: tuple[Instalment, ...]

    @property
    def principal(self) -> int:
        return sum(i.principal for i in self.instalments)

    @property
    def interest(self) -> int:
        return sum(i.interest for i in self.instalments)

    @property
    def fees(self) -> int:
        return sum(i.fee for i in self.instalments)

    @property
    def total(self) -> int:
        return sum(i.total for i in self.instalments)

    @property
    def maturity(self) -> date | None:
        return self.instalments[-1].due if self.instalments else None


@dataclass(frozen=True, slots=True)
class Amortisation:
    """What ``amortise`` needs besides the dates: the balance and how it is repaid."""

    balance: int
    rate: tuple[int, int]
    day_count: DayCount
    method: RepaymentMethod
    level: int
    shorten: bool = False  # stop as soon as the balance is repaid (early repayment, shorter term)


def _principal_part(plan: Amortisation, balance: int, interest: int, last: bool) -> int:
    if last:
        return balance
    if plan.method is RepaymentMethod.ANNUITY:
        if plan.shorten and balance + interest <= plan.level:
            return balance
        return min(max(plan.level - interest, 0), balance)
    if plan.method is RepaymentMethod.EQUAL_PRINCIPAL:
        return min(plan.level, balance)
    return 0


def amortise(
    plan: Amortisation,
    start: date,
    dues: Sequence[date],
    numerators: Sequence[int],
    fees: Sequence[int],
    seq0: int,
) -> tuple[Instalment, ...]:
    """Instalments on ``dues`` from ``start``; ``numerators`` are the periods' year-fraction numerators."""
    denominator = _DENOMINATOR[plan.day_count]
    balance = plan.balance
    out = []
    for k, due in enumerate(dues):
        interest = round_half_even(balance * plan.rate[0] * numerators[k], plan.rate[1] * denominator)
        principal = _principal_part(plan, balance, interest, k == len(dues) - 1)
        fee = fees[k]
        closing = balance - principal
        out.append(
            Instalment(seq0 + k, due, principal, interest, fee, principal + interest + fee, balance, closing)
        )
        balance = closing
        if plan.shorten and balance == 0:
            break
    return tuple(out)


def check_schedule(schedule: Schedule, principal: int, start: date) -> None:
    """The invariants every schedule keeps (a violation is a bug, never a rejection)."""
    balance, previous, seq = principal, start, None
    for item in schedule.instalments:
        sound = (
            item.opening_balance == balance
            and min(item.principal, item.interest, item.fee, item.closing_balance) >= 0
            and item.total == item.principal + item.interest + item.fee
            and item.closing_balance == balance - item.principal
            and item.due > previous
            and (seq is None or item.seq == seq + 1)
        )
        invariant(sound, "instalment breaks the chain, a sign, the total or the date order")
        balance, previous, seq = item.closing_balance, item.due, item.seq
    invariant(balance == 0, "the last closing balance must be 0")


def build_schedule(terms: LoanTerms) -> Schedule:
    """The reference (scalar) schedule of a loan."""
    if not isinstance(terms, LoanTerms):
        raise InvalidInput("terms must be LoanTerms", code="terms_invalid")
    grid = month_grid(terms.start, terms.calendar, terms.payment_day, _capacity(terms.term_months))
    dues = grid.dues[: terms.term_months]
    numerators = grid.numerators[terms.day_count][: terms.term_months]
    upfront, each = terms.fee_amounts()
    fees = [each + (upfront if k == 0 else 0) for k in range(terms.term_months)]
    plan = Amortisation(
        balance=terms.principal.amount_minor,
        rate=terms.annual_rate.as_integer_ratio(),
        day_count=terms.day_count,
        method=terms.method,
        level=level_amount(terms),
    )
    schedule = Schedule(terms, terms.currency, amortise(plan, terms.start, dues, numerators, fees, 1))
    check_schedule(schedule, terms.principal.amount_minor, terms.start)
    return schedule


def build_bnpl_schedule(plan: BNPLPlan, start: date) -> Schedule:
    """Equal instalments of the financed amount (remainder on the last), no interest, no fee."""
    if not isinstance(plan, BNPLPlan):
        raise InvalidInput("plan must be a BNPLPlan", code="plan_invalid")
    count = plan.instalments
    if plan.interval_days is None:
        dues = due_dates(start, count, plan.calendar, None)
    else:
        dues = interval_dates(start, count, plan.interval_days, plan.calendar)
    financed = plan.financed_minor
    part = financed // count
    balance = financed
    out = []
    for k, due in enumerate(dues):
        principal = part if k < count - 1 else balance
        out.append(Instalment(k + 1, due, principal, 0, 0, principal, balance, balance - principal))
        balance -= principal
    schedule = Schedule(plan, plan.currency, tuple(out))
    check_schedule(schedule, financed, start)
    return schedule


# --- many schedules at once -------------------------------------------------------------------------

BATCH_LOANS_MAX = 1_000_000
CHUNK_LOANS = 32_768
METHODS = (RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.BULLET)
DAY_COUNTS = (DayCount.ACT_360, DayCount.ACT_365F, DayCount.THIRTY_360, DayCount.ACT_ACT)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SAFE_PRODUCT = float(2**62)  # the int64 path needs the product of the three numerators below this


def _int64s(value: object, what: str, count: int | None) -> Int64s:
    array = np.asarray(value)
    if array.ndim != 1 or array.dtype.kind not in "iu" or (count is not None and len(array) != count):
        raise InvalidInput(f"{what} must be a 1-D integer array of one value per loan", code="batch_invalid")
    return array.astype(np.int64)


def _check_range(array: Int64s, what: str, low: int, high: int) -> None:
    if len(array) and (int(array.min()) < low or int(array.max()) > high):
        raise InvalidInput(f"{what} must lie in {low}..{high}", code="batch_out_of_range")


@dataclass(frozen=True, slots=True, eq=False)
class LoanBook:
    """Many loans as columns (one entry per loan), for ``build_schedules_batch``.

    Rates are ``annual_rate_units / 10**rate_scale``; ``method``, ``day_count``
    and ``calendar`` are indices into ``METHODS``, ``DAY_COUNTS`` and
    ``products.CALENDARS``; ``payment_day`` 0 means monthly from the start;
    ``start_days`` counts days since 1970-01-01. Fees are the amounts charged
    with the first instalment and with every instalment. ``terms`` keeps the
    ``LoanTerms`` a book was made from, if any.
    """

    principal_minor: Int64s
    annual_rate_units: Int64s
    rate_scale: int
    term_months: Int64s
    method: Int64s
    start_days: Int64s
    day_count: Int64s
    calendar: Int64s
    payment_day: Int64s
    upfront_fee_minor: Int64s
    instalment_fee_minor: Int64s
    currency: str
    terms: tuple[LoanTerms, ...] | None = None

    @classmethod
    def from_columns(cls, **columns: object) -> LoanBook:
        """Coerce integer columns to int64 and check every value (see the class for the columns)."""
        names = set(columns)
        required = {*_COLUMNS, "rate_scale", "currency"}
        if not required <= names <= {*required, "terms"}:
            missing, unknown = sorted(required - names), sorted(names - required - {"terms"})
            raise InvalidInput(f"columns missing {missing}, unknown {unknown}", code="batch_invalid")
        count = len(np.asarray(columns["principal_minor"]))
        if not 0 < count <= BATCH_LOANS_MAX:
            raise InvalidInput(f"a batch holds 1..{BATCH_LOANS_MAX} loans", code="batch_size_invalid")
        arrays = {k: _int64s(v, k, count) if k in _COLUMNS else v for k, v in columns.items()}
        return cls(**arrays)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        for name in _COLUMNS:
            column = getattr(self, name)
            if not isinstance(column, np.ndarray) or column.dtype != np.int64 or column.ndim != 1:
                raise InvalidInput(f"{name} must be a 1-D int64 array", code="batch_invalid")
        if type(self.rate_scale) is not int or not 0 <= self.rate_scale <= RATE_DECIMALS_MAX:
            raise InvalidInput(f"rate_scale must be 0..{RATE_DECIMALS_MAX}", code="batch_out_of_range")
        _check_range(self.principal_minor, "principal_minor", 1, PRINCIPAL_MINOR_MAX)
        _check_range(self.annual_rate_units, "annual_rate_units", 0, 10**self.rate_scale)
        _check_range(self.term_months, "term_months", 1, TERM_MONTHS_MAX)
        _check_range(self.method, "method", 0, len(METHODS) - 1)
        _check_range(self.day_count, "day_count", 0, len(DAY_COUNTS) - 1)
        _check_range(self.calendar, "calendar", 0, len(CALENDARS) - 1)
        _check_range(self.payment_day, "payment_day", 0, 31)
        _check_range(self.upfront_fee_minor, "upfront_fee_minor", 0, PRINCIPAL_MINOR_MAX)
        _check_range(self.instalment_fee_minor, "instalment_fee_minor", 0, PRINCIPAL_MINOR_MAX)
        low = date(START_YEAR_MIN, 1, 1).toordinal() - _EPOCH_ORDINAL
        high = date(START_YEAR_MAX, 12, 31).toordinal() - _EPOCH_ORDINAL
        _check_range(self.start_days, "start_days", low, high)
        lengths = {len(getattr(self, name)) for name in _COLUMNS}
        if len(lengths) != 1:
            raise InvalidInput("every column needs one value per loan", code="batch_invalid")
        if not is_currency(self.currency):
            raise InvalidInput(f"unknown currency {self.currency!r}", code="currency_unknown")
        if self.terms is not None and len(self.terms) != len(self):
            raise InvalidInput("terms must match the columns", code="batch_invalid")

    def __len__(self) -> int:
        return len(self.principal_minor)

    @classmethod
    def from_terms(cls, loans: Sequence[LoanTerms]) -> LoanBook:
        """Columns from ``LoanTerms`` of one currency (the terms are kept for ``terms_at``)."""
        terms = tuple(loans)
        if not 0 < len(terms) <= BATCH_LOANS_MAX:
            raise InvalidInput(f"a batch holds 1..{BATCH_LOANS_MAX} loans", code="batch_size_invalid")
        if any(not isinstance(t, LoanTerms) for t in terms):
            raise InvalidInput("every loan must be LoanTerms", code="terms_invalid")
        currency = terms[0].currency
        if any(t.currency != currency for t in terms):
            raise InvalidInput("a batch holds loans of one currency", code="currency_mismatch")
        scale = max(_decimals(t.annual_rate) for t in terms)
        fees = [t.fee_amounts() for t in terms]
        return cls.from_columns(
            principal_minor=[t.principal.amount_minor for t in terms],
            annual_rate_units=[int(t.annual_rate.scaleb(scale)) for t in terms],
            rate_scale=scale,
            term_months=[t.term_months for t in terms],
            method=[METHODS.index(t.method) for t in terms],
            start_days=[t.start.toordinal() - _EPOCH_ORDINAL for t in terms],
            day_count=[DAY_COUNTS.index(t.day_count) for t in terms],
            calendar=[CALENDARS.index(t.calendar) for t in terms],
            payment_day=[t.payment_day or 0 for t in terms],
            upfront_fee_minor=[f[0] for f in fees],
            instalment_fee_minor=[f[1] for f in fees],
            currency=currency,
            terms=terms,
        )

    def terms_at(self, index: int) -> LoanTerms:
        """The ``LoanTerms`` of one loan (fees as fixed amounts when the book came from columns)."""
        if self.terms is not None:
            return self.terms[index]
        upfront, each = int(self.upfront_fee_minor[index]), int(self.instalment_fee_minor[index])
        fees = []
        if upfront:
            fees.append(Fee("upfront", Money(upfront, self.currency)))
        if each:
            fees.append(Fee("instalment", Money(each, self.currency), timing=FeeTiming.EACH))
        return LoanTerms(
            principal=Money(int(self.principal_minor[index]), self.currency),
            annual_rate=Decimal(int(self.annual_rate_units[index])).scaleb(-self.rate_scale),
            term_months=int(self.term_months[index]),
            method=METHODS[int(self.method[index])],
            start=date.fromordinal(int(self.start_days[index]) + _EPOCH_ORDINAL),
            day_count=DAY_COUNTS[int(self.day_count[index])],
            calendar=CALENDARS[int(self.calendar[index])],
            payment_day=int(self.payment_day[index]) or None,
            fees=tuple(fees),
        )


_COLUMNS = (
    "principal_minor",
    "annual_rate_units",
    "term_months",
    "method",
    "start_days",
    "day_count",
    "calendar",
    "payment_day",
    "upfront_fee_minor",
    "instalment_fee_minor",
)
_OUTPUTS = ("principal", "interest", "fee", "total", "opening_balance", "closing_balance")


def _decimals(rate: Decimal) -> int:
    exponent = rate.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True, slots=True, eq=False)
class ScheduleBatch:
    """Instalments of many loans as columns, loan by loan in book order, then by ``seq``.

    Loan ``i`` owns rows ``offsets[i]:offsets[i + 1]``; ``due`` is ``datetime64[D]``;
    the amount columns are ``int64`` minor units.
    """

    book: LoanBook
    offsets: Int64s
    seq: Int64s
    due: npt.NDArray[np.datetime64]
    principal: Int64s
    interest: Int64s
    fee: Int64s
    total: Int64s
    opening_balance: Int64s
    closing_balance: Int64s

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def schedule(self, index: int) -> Schedule:
        """Loan ``index`` as a ``Schedule`` (equal to ``build_schedule(book.terms_at(index))``)."""
        if not 0 <= index < len(self):
            raise InvalidInput(f"no loan {index} in a batch of {len(self)}", code="batch_index_invalid")
        lo, hi = int(self.offsets[index]), int(self.offsets[index + 1])
        days = (self.due[lo:hi].astype(np.int64) + _EPOCH_ORDINAL).tolist()
        columns = [getattr(self, name)[lo:hi].tolist() for name in _OUTPUTS]
        rows = zip(self.seq[lo:hi].tolist(), days, *columns, strict=True)
        instalments = tuple(Instalment(s, date.fromordinal(d), *amounts) for s, d, *amounts in rows)
        return Schedule(self.book.terms_at(index), self.book.currency, instalments)


@lru_cache(maxsize=GRID_CACHE_MAX)
def _grid_columns(start_days: int, calendar: int, payment_day: int, capacity: int) -> tuple[Int64s, ...]:
    """One date grid as arrays: due days since 1970 and the day numerators for ACT, 30/360, ACT/ACT."""
    start = date.fromordinal(start_days + _EPOCH_ORDINAL)
    grid = month_grid(start, CALENDARS[calendar], payment_day or None, capacity)
    due = np.array([d.toordinal() - _EPOCH_ORDINAL for d in grid.dues], dtype=np.int64)
    fractions = [
        np.array(grid.numerators[dc], dtype=np.int64)
        for dc in (DayCount.ACT_360, DayCount.THIRTY_360, DayCount.ACT_ACT)
    ]
    return due, *fractions


@dataclass(frozen=True, slots=True)
class _ChunkGrids:
    """The distinct date grids of a chunk as padded matrices, and each loan's row in them."""

    row: Int64s  # per loan of the chunk
    due: Int64s
    act: Int64s
    thirty: Int64s
    act_act: Int64s


def _chunk_grids(book: LoanBook, lo: int, hi: int) -> _ChunkGrids:
    """Loans share a grid when they share start, calendar, payment day and grid capacity."""
    term = book.term_months[lo:hi]
    tier = np.where(term <= 36, 0, np.where(term <= 120, 1, 2))
    keys = ((book.start_days[lo:hi] + 2**20) * 8 + book.calendar[lo:hi]) * 32 + book.payment_day[lo:hi]
    unique, row = np.unique(keys * 4 + tier, return_inverse=True)
    width = _capacity(int(term.max()))
    matrices = [np.zeros((len(unique), width), dtype=np.int64) for _ in range(4)]
    for g, key in enumerate(unique.tolist()):
        capacity = (36, 120, TERM_MONTHS_MAX)[key % 4]
        payment_day = key // 4 % 32
        calendar = key // 128 % 8
        start_days = key // 1024 - 2**20
        columns = _grid_columns(start_days, calendar, payment_day, capacity)
        for matrix, column in zip(matrices, columns, strict=True):
            matrix[g, :capacity] = column
    return _ChunkGrids(row.astype(np.int64), *matrices)


_DENOMINATORS = np.array([_DENOMINATOR[dc] for dc in DAY_COUNTS], dtype=np.int64)


def _numerators(grids: _ChunkGrids, rows: Int64s, day_count: Int64s, months: int) -> Int64s:
    """Per loan and period, the year-fraction numerator of the loan's day count."""
    act = grids.act[rows, :months]
    thirty = grids.thirty[rows, :months]
    act_act = grids.act_act[rows, :months]
    is_act = (day_count <= 1)[:, None]
    is_thirty = (day_count == 2)[:, None]
    return np.where(is_act, act, np.where(is_thirty, thirty, act_act))


def _round_half_even(numerator: Int64s, denominator: Int64s) -> Int64s:
    quotient = numerator // denominator
    twice = 2 * (numerator - quotient * denominator)
    up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    rounded: Int64s = quotient + up
    return rounded


@dataclass(frozen=True, slots=True)
class _Group:
    """Loans of one method and term, ready for the column-wise recurrence."""

    method: RepaymentMethod
    balance: Int64s
    rate_numerator: Int64s
    denominator: Int64s  # rate denominator × day-count denominator
    numerators: Int64s  # [loans, months]
    level: Int64s


def _amortise_columns(group: _Group) -> dict[str, Int64s]:
    """The scalar ``amortise`` on columns: the same integer operations, one period at a time."""
    loans, months = group.numerators.shape
    balance = group.balance.copy()
    principal = np.empty((loans, months), dtype=np.int64)
    interest = np.empty((loans, months), dtype=np.int64)
    opening = np.empty((loans, months), dtype=np.int64)
    for k in range(months):
        interest[:, k] = _round_half_even(
            balance * group.rate_numerator * group.numerators[:, k], group.denominator
        )
        opening[:, k] = balance
        if k == months - 1:
            principal[:, k] = balance
        elif group.method is RepaymentMethod.ANNUITY:
            principal[:, k] = np.minimum(np.maximum(group.level - interest[:, k], 0), balance)
        elif group.method is RepaymentMethod.EQUAL_PRINCIPAL:
            principal[:, k] = np.minimum(group.level, balance)
        else:
            principal[:, k] = 0
        balance = balance - principal[:, k]
    return {"principal": principal, "interest": interest, "opening_balance": opening}


def _rate_ratios(book: LoanBook) -> tuple[Int64s, Int64s]:
    """Each rate as a reduced ratio, as ``Decimal.as_integer_ratio`` gives it."""
    scale = np.int64(10**book.rate_scale)
    divisor = np.gcd(book.annual_rate_units, scale)
    return book.annual_rate_units // divisor, scale // divisor


def _levels(
    book: LoanBook, ids: Int64s, method: RepaymentMethod, months: int, ratios: tuple[Int64s, Int64s]
) -> Int64s:
    principal = book.principal_minor[ids]
    if method is RepaymentMethod.EQUAL_PRINCIPAL:
        return principal // months
    if method is RepaymentMethod.BULLET:
        return np.zeros(len(ids), dtype=np.int64)
    rows = zip(principal.tolist(), ratios[0][ids].tolist(), ratios[1][ids].tolist(), strict=True)
    return np.array([level_payment_ratio(p, (n, d), months) for p, n, d in rows], dtype=np.int64)


def _risky(book: LoanBook, lo: int, grids: _ChunkGrids, rate_numerator: Int64s) -> npt.NDArray[np.bool_]:
    """Loans of the chunk whose balance × rate numerator × day numerator could leave 62 bits."""
    largest = np.maximum(grids.act_act.max(axis=1), grids.thirty.max(axis=1))  # ACT's days are smaller
    hi = lo + len(grids.row)
    product = (
        book.principal_minor[lo:hi].astype(np.float64)
        * rate_numerator[lo:hi].astype(np.float64)
        * np.maximum(largest[grids.row], 1).astype(np.float64)
    )
    risky: npt.NDArray[np.bool_] = product >= _SAFE_PRODUCT
    return risky


def _write_group(
    book: LoanBook, ids: Int64s, group: _Group, due: Int64s, out: dict[str, npt.NDArray[np.int64]]
) -> None:
    """Amortise one group and scatter its rows to their places in the output columns."""
    columns = _amortise_columns(group)
    months = due.shape[1]
    fee = np.repeat(book.instalment_fee_minor[ids][:, None], months, axis=1)
    fee[:, 0] += book.upfront_fee_minor[ids]
    columns["fee"] = fee
    columns["total"] = columns["principal"] + columns["interest"] + fee
    columns["closing_balance"] = columns["opening_balance"] - columns["principal"]
    columns["seq"] = np.broadcast_to(np.arange(1, months + 1, dtype=np.int64), (len(ids), months))
    columns["due"] = due
    positions = out["offsets"][ids][:, None] + np.arange(months, dtype=np.int64)
    for name, matrix in columns.items():
        out[name][positions] = matrix


def _fill_chunk(
    book: LoanBook, lo: int, hi: int, ratios: tuple[Int64s, Int64s], out: dict[str, npt.NDArray[np.int64]]
) -> None:
    grids = _chunk_grids(book, lo, hi)
    risky = _risky(book, lo, grids, ratios[0])
    local = np.flatnonzero(~risky)
    group_key = (book.method[lo:hi] * 512 + book.term_months[lo:hi])[local]
    order = np.argsort(group_key, kind="stable")
    keys, firsts = np.unique(group_key[order], return_index=True)
    bounds = [*firsts.tolist(), len(order)]
    for g, key in enumerate(keys.tolist()):
        method, months = METHODS[key // 512], key % 512
        chosen = local[order[bounds[g] : bounds[g + 1]]]
        ids = chosen + lo
        day_count = book.day_count[ids]
        group = _Group(
            method=method,
            balance=book.principal_minor[ids],
            rate_numerator=ratios[0][ids],
            denominator=ratios[1][ids] * _DENOMINATORS[day_count],
            numerators=_numerators(grids, grids.row[chosen], day_count, months),
            level=_levels(book, ids, method, months, ratios),
        )
        _write_group(book, ids, group, grids.due[grids.row[chosen], :months], out)
    for index in (np.flatnonzero(risky) + lo).tolist():
        _fill_scalar(book, index, out)


def _fill_scalar(book: LoanBook, index: int, out: dict[str, npt.NDArray[np.int64]]) -> None:
    schedule = build_schedule(book.terms_at(index))
    lo = int(out["offsets"][index])
    for k, item in enumerate(schedule.instalments):
        out["seq"][lo + k] = item.seq
        out["due"][lo + k] = item.due.toordinal() - _EPOCH_ORDINAL
        for name in _OUTPUTS:
            out[name][lo + k] = getattr(item, name)


def build_schedules_batch(
    loans: LoanBook | Sequence[LoanTerms], *, chunk_loans: int = CHUNK_LOANS
) -> ScheduleBatch:
    """The schedules of many loans at once, identical to ``build_schedule`` loan by loan.

    Loans are taken ``chunk_loans`` at a time; in a chunk, each distinct date grid is built once
    (QuantLib, cached across calls), and loans of the same method and term run the recurrence
    together on ``int64`` columns. Loans too large for 63 bits go through ``build_schedule``.
    """
    book = loans if isinstance(loans, LoanBook) else LoanBook.from_terms(loans)
    if type(chunk_loans) is not int or not 1 <= chunk_loans <= BATCH_LOANS_MAX:
        raise InvalidInput(f"chunk_loans must be 1..{BATCH_LOANS_MAX}", code="batch_size_invalid")
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(book.term_months)])
    rows = int(offsets[-1])
    out = {name: np.empty(rows, dtype=np.int64) for name in ("seq", "due", *_OUTPUTS)}
    out["offsets"] = offsets
    ratios = _rate_ratios(book)
    for lo in range(0, len(book), chunk_loans):
        _fill_chunk(book, lo, min(lo + chunk_loans, len(book)), ratios, out)
    return ScheduleBatch(
        book=book,
        offsets=offsets,
        seq=out["seq"],
        due=out["due"].astype("datetime64[D]"),
        **{name: out[name] for name in _OUTPUTS},
    )
