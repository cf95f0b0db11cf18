"""Servicing arithmetic for a loan in flight: penalties, payment allocation, prepayment, arrears.

Everything here is pure: a loan service loads a ``LoanPosition``, calls these
functions with the date and the amount, stores the position they return and
posts the allocation's lines to the ledger. Amounts are integer minor units;
every rounding is half-even, named where it happens.

Rules (docs/credit-schedules.md has the examples):

* An instalment is *due* on its due date and *overdue* the day after.
  ``days_past_due`` counts from the due date of the oldest instalment with
  principal, interest or fee outstanding; penalty alone does not make a loan
  past due.
* Penalty interest accrues on overdue principal plus interest (never on fees
  or on penalty) at ``penalty_rate`` by the loan's day count, once the
  instalment is more than ``grace_days`` overdue, and then from the due date:
  the grace period waives the penalty only for a payment made within it.
  Each call accrues from the last accrual date to ``as_of`` on the amount
  overdue then, rounded half-even; calling it again for the same ``as_of``
  changes nothing.
* ``allocate`` pays what is due (due date on or before ``as_of``) in a
  configurable component order, fee, penalty, interest, principal by default.
  ``vertical`` (the default) settles the oldest instalment completely before
  the next; ``horizontal`` pays one component across every due instalment,
  oldest first, before the next component (all penalties before any
  interest, say). What exceeds the amount due is returned as
  ``early_repayment``, never applied silently.
* ``early_repayment`` settles what is due, then the interest accrued on the
  outstanding principal from the start of the current period to ``as_of``,
  then prepays principal (with a prepayment fee of ``prepayment_fee_rate`` of
  the principal prepaid) and rebuilds the remaining instalments on the same
  due dates: ``shorten_term`` keeps the level payment and drops the last
  instalments, ``reduce_instalment`` keeps the dates and recomputes the level.
* In every ``Allocation`` the lines plus ``early_repayment`` plus ``unapplied``
  equal the amount paid, to the minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from netfin.core.errors import InvalidInput, invariant
from netfin.core.limits import INT64_MAX
from netfin.credit.products import (
    BNPLPlan,
    DayCount,
    LoanTerms,
    RepaymentMethod,
    RevolvingLineTerms,
    check_rate,
    round_half_even,
)
from netfin.credit.schedule import (
    Amortisation,
    Instalment,
    Schedule,
    amortise,
    check_schedule,
    interest_minor,
    level_amount,
    level_payment_ratio,
    period_fractions,
    year_fraction,
)

COMPONENTS = ("fee", "penalty", "interest", "principal")
DEFAULT_ORDER = ("fee", "penalty", "interest", "principal")
RECOVERY_ORDER = ("principal", "interest", "fee", "penalty")
REVOLVING_EVENTS_MAX = 10_000
STATEMENT_DAYS_MAX = 366

Strategy = Literal["vertical", "horizontal"]
PrepaymentMode = Literal["shorten_term", "reduce_instalment"]


def _check_amount(amount: object) -> int:
    if type(amount) is not int or not 0 <= amount <= INT64_MAX:
        raise InvalidInput("amount must be a non-negative int of minor units", code="amount_invalid")
    return amount


def _check_order(order: Sequence[str], components: Sequence[str]) -> tuple[str, ...]:
    if sorted(order) != sorted(components):
        raise InvalidInput(f"order must list each of {', '.join(components)} once", code="order_invalid")
    return tuple(order)


def _check_date(value: object, what: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime.date", code="date_invalid")
    return value


# --- positions --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstalmentPosition:
    """One instalment's scheduled amounts, penalty accrued so far and what has been paid of each."""

    seq: int
    due: date
    period_start: date  # interest of this instalment runs from here to ``due``
    principal: int
    interest: int
    fee: int
    penalty: int = 0
    principal_paid: int = 0
    interest_paid: int = 0
    fee_paid: int = 0
    penalty_paid: int = 0
    penalty_accrued_to: date | None = None

    def __post_init__(self) -> None:
        for component in COMPONENTS:
            owed, paid = getattr(self, component), getattr(self, f"{component}_paid")
            if type(owed) is not int or type(paid) is not int or not 0 <= paid <= owed:
                raise InvalidInput(
                    f"instalment {self.seq}: {component} paid must lie in 0..owed", code="position_invalid"
                )

    def outstanding(self, component: str) -> int:
        return int(getattr(self, component)) - int(getattr(self, f"{component}_paid"))

    @property
    def overdue_base(self) -> int:
        """What penalty interest accrues on: outstanding principal plus interest."""
        return self.outstanding("principal") + self.outstanding("interest")

    @property
    def scheduled_outstanding(self) -> int:
        """Outstanding principal, interest and fee (what makes an instalment past due)."""
        return self.overdue_base + self.outstanding("fee")

    def paid(self, component: str, amount: int) -> InstalmentPosition:
        if component == "fee":
            return replace(self, fee_paid=self.fee_paid + amount)
        if component == "penalty":
            return replace(self, penalty_paid=self.penalty_paid + amount)
        if component == "interest":
            return replace(self, interest_paid=self.interest_paid + amount)
        return replace(self, principal_paid=self.principal_paid + amount)

    def instalment(self) -> Instalment:
        """The scheduled part as a schedule ``Instalment`` (balances left at 0: a position does not chain)."""
        total = self.principal + self.interest + self.fee
        return Instalment(self.seq, self.due, self.principal, self.interest, self.fee, total, 0, 0)


@dataclass(frozen=True, slots=True)
class LoanPosition:
    """A loan's instalments with what is paid and accrued, as of a date.

    ``level`` is what an early repayment that shortens the term keeps level:
    the annuity payment or the equal principal part (see ``schedule.level_amount``).
    """

    terms: LoanTerms | BNPLPlan
    as_of: date
    instalments: tuple[InstalmentPosition, ...]
    level: int

    def __post_init__(self) -> None:
        _check_date(self.as_of, "as_of")
        previous: InstalmentPosition | None = None
        for item in self.instalments:
            if not isinstance(item, InstalmentPosition):
                raise InvalidInput("instalments must be InstalmentPosition", code="position_invalid")
            if previous is not None and (item.seq != previous.seq + 1 or item.due <= previous.due):
                raise InvalidInput("instalments must follow one another", code="position_invalid")
            previous = item

    @classmethod
    def from_schedule(cls, schedule: Schedule, as_of: date | None = None) -> LoanPosition:
        """A new loan: nothing paid, nothing accrued, as of its start (a BNPL plan's: ``as_of``, the
        day of the purchase)."""
        terms = schedule.terms
        begin = terms.start if isinstance(terms, LoanTerms) else as_of
        if begin is None:
            raise InvalidInput(
                "a BNPL position needs as_of, the day of the purchase", code="position_invalid"
            )
        items = []
        previous = begin
        for item in schedule.instalments:
            items.append(
                InstalmentPosition(item.seq, item.due, previous, item.principal, item.interest, item.fee)
            )
            previous = item.due
        if isinstance(terms, LoanTerms):
            level = level_amount(terms)
        else:
            level = terms.financed_minor // terms.instalments
        return cls(terms, as_of or begin, tuple(items), level)

    @property
    def currency(self) -> str:
        return self.terms.currency

    @property
    def method(self) -> RepaymentMethod:
        return self.terms.method if isinstance(self.terms, LoanTerms) else RepaymentMethod.EQUAL_PRINCIPAL

    @property
    def annual_rate(self) -> Decimal:
        return self.terms.annual_rate if isinstance(self.terms, LoanTerms) else Decimal(0)

    @property
    def day_count(self) -> DayCount:
        return self.terms.day_count if isinstance(self.terms, LoanTerms) else DayCount.ACT_360

    @property
    def penalty_rate(self) -> Decimal:
        return self.terms.penalty_rate if isinstance(self.terms, LoanTerms) else Decimal(0)

    @property
    def grace_days(self) -> int:
        return self.terms.grace_days if isinstance(self.terms, LoanTerms) else 0

    def outstanding(self, component: str) -> int:
        """Outstanding ``component`` over every instalment, due or not."""
        return sum(item.outstanding(component) for item in self.instalments)


def _advance(position: LoanPosition, as_of: object) -> date:
    day = _check_date(as_of, "as_of")
    if day < position.as_of:
        raise InvalidInput(f"as_of {day} is before the position's {position.as_of}", code="as_of_in_the_past")
    return day


def accrue_penalty(position: LoanPosition, as_of: date) -> LoanPosition:
    """Penalty interest accrued to ``as_of`` on every instalment past its grace period (idempotent)."""
    as_of = _advance(position, as_of)
    rate = position.penalty_rate.as_integer_ratio()
    items = []
    for item in position.instalments:
        overdue_days = (as_of - item.due).days
        since = max(item.due, item.penalty_accrued_to or item.due)
        if rate[0] and overdue_days > position.grace_days and item.overdue_base > 0 and as_of > since:
            fraction = year_fraction(position.day_count, since, as_of)
            added = interest_minor(item.overdue_base, rate, fraction)
            item = replace(item, penalty=item.penalty + added, penalty_accrued_to=as_of)
        items.append(item)
    return replace(position, as_of=as_of, instalments=tuple(items))


def days_past_due(position: LoanPosition, as_of: date) -> int:
    """Days since the due date of the oldest instalment with principal, interest or fee outstanding."""
    as_of = _check_date(as_of, "as_of")
    for item in position.instalments:
        if item.due < as_of and item.scheduled_outstanding > 0:
            return (as_of - item.due).days
    return 0


def delinquency_bucket(dpd: int, *, m1_max: int = 30, m2_max: int = 60) -> str:
    """ "current" (0 days past due), "M1" (1..m1_max), "M2" (..m2_max) or "M3+" (beyond)."""
    if type(dpd) is not int or dpd < 0:
        raise InvalidInput("days past due must be a non-negative int", code="dpd_invalid")
    if type(m1_max) is not int or type(m2_max) is not int or not 0 < m1_max < m2_max:
        raise InvalidInput("bucket bounds must satisfy 0 < m1_max < m2_max", code="bucket_bounds_invalid")
    if dpd == 0:
        return "current"
    if dpd <= m1_max:
        return "M1"
    return "M2" if dpd <= m2_max else "M3+"


# --- allocation -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllocationLine:
    """Part of a payment applied to one component of one instalment.

    Components: fee, penalty, interest, principal (instalments due), and for an
    early repayment accrued_interest, prepaid_principal, prepayment_fee.
    """

    seq: int
    component: str
    amount: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """How a payment splits; ``position`` is the loan after it."""

    amount: int
    lines: tuple[AllocationLine, ...]
    early_repayment: int  # paid beyond what is due, not applied yet
    unapplied: int  # left after an early repayment (the loan is repaid, or rounding)
    position: LoanPosition

    def __post_init__(self) -> None:
        parts = sum(line.amount for line in self.lines) + self.early_repayment + self.unapplied
        invariant(parts == self.amount, f"allocation parts {parts} != amount {self.amount}")
        invariant(all(line.amount > 0 for line in self.lines), "allocation lines must be positive")

    def by_component(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.component] = totals.get(line.component, 0) + line.amount
        return totals


def allocate(
    position: LoanPosition,
    amount: int,
    *,
    as_of: date,
    order: Sequence[str] = DEFAULT_ORDER,
    strategy: Strategy = "vertical",
) -> Allocation:
    """Apply ``amount`` to what is due on ``as_of`` (penalty accrued first); the rest is early repayment."""
    amount = _check_amount(amount)
    order = _check_order(order, COMPONENTS)
    if strategy not in ("vertical", "horizontal"):
        raise InvalidInput("strategy must be vertical or horizontal", code="strategy_invalid")
    position = accrue_penalty(position, as_of)
    items = list(position.instalments)
    due = [k for k, item in enumerate(items) if item.due <= position.as_of]
    if strategy == "vertical":
        steps = [(k, component) for k in due for component in order]
    else:
        steps = [(k, component) for component in order for k in due]
    remaining = amount
    lines = []
    for k, component in steps:
        take = min(remaining, items[k].outstanding(component))
        if take > 0:
            items[k] = items[k].paid(component, take)
            lines.append(AllocationLine(items[k].seq, component, take))
            remaining -= take
    paid = replace(position, instalments=tuple(items))
    return Allocation(amount, tuple(lines), remaining, 0, paid)


# --- early repayment --------------------------------------------------------------------------------


def _largest_prepayment(available: int, balance: int, fee_rate: tuple[int, int]) -> int:
    """The most principal ``p <= balance`` with ``p + fee(p) <= available`` (``fee`` rounds half-even)."""

    def cost(p: int) -> int:
        return p + round_half_even(p * fee_rate[0], fee_rate[1])

    principal = min(balance, available * fee_rate[1] // (fee_rate[1] + fee_rate[0]))
    while principal < balance and cost(principal + 1) <= available:
        principal += 1
    while principal > 0 and cost(principal) > available:
        principal -= 1
    return principal


def _rebuild(
    position: LoanPosition, future: Sequence[InstalmentPosition], balance: int, as_of: date, mode: str
) -> tuple[Instalment, ...]:
    """The remaining instalments on the same due dates for a reduced balance, interest from ``as_of``."""
    if balance == 0:
        return ()
    dues = [item.due for item in future]
    rate = position.annual_rate.as_integer_ratio()
    method = position.method
    shorten = mode == "shorten_term" and method is not RepaymentMethod.BULLET
    if shorten:
        level = position.level
    elif method is RepaymentMethod.ANNUITY:
        level = level_payment_ratio(balance, rate, len(dues))
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        level = balance // len(dues)
    else:
        level = 0
    plan = Amortisation(balance, rate, position.day_count, method, level, shorten)
    numerators = period_fractions(as_of, dues, position.day_count)
    return amortise(plan, as_of, dues, numerators, [item.fee for item in future], future[0].seq)


def _positions(instalments: Sequence[Instalment], as_of: date) -> list[InstalmentPosition]:
    out = []
    previous = as_of
    for item in instalments:
        out.append(InstalmentPosition(item.seq, item.due, previous, item.principal, item.interest, item.fee))
        previous = item.due
    return out


def _new_level(position: LoanPosition, rebuilt: Sequence[Instalment], mode: str) -> int:
    if mode == "shorten_term" or not rebuilt or position.method is RepaymentMethod.BULLET:
        return position.level
    if position.method is RepaymentMethod.EQUAL_PRINCIPAL:
        return rebuilt[0].principal
    return level_payment_ratio(
        rebuilt[0].opening_balance, position.annual_rate.as_integer_ratio(), len(rebuilt)
    )


def early_repayment(
    position: LoanPosition,
    amount: int,
    *,
    as_of: date,
    mode: PrepaymentMode = "shorten_term",
    prepayment_fee_rate: Decimal = Decimal(0),
    order: Sequence[str] = DEFAULT_ORDER,
    strategy: Strategy = "vertical",
) -> tuple[Allocation, Schedule]:
    """Settle what is due, then accrued interest, then prepay principal; rebuild what remains.

    Returns the allocation (its ``position`` carries the rebuilt instalments) and the schedule of
    the instalments still to come. A prepayment that does not cover the interest accrued to
    ``as_of`` is refused; what exceeds the whole balance is ``unapplied``.
    """
    if mode not in ("shorten_term", "reduce_instalment"):
        raise InvalidInput("mode must be shorten_term or reduce_instalment", code="prepayment_mode_invalid")
    fee_rate = check_rate(prepayment_fee_rate, "prepayment_fee_rate").as_integer_ratio()
    settled = allocate(position, amount, as_of=as_of, order=order, strategy=strategy)
    paid = settled.position
    past = [item for item in paid.instalments if item.due <= paid.as_of]
    future = [item for item in paid.instalments if item.due > paid.as_of]
    if any(item.scheduled_outstanding != item.principal + item.interest + item.fee for item in future):
        raise InvalidInput("an instalment not yet due is partly paid", code="position_invalid")
    remaining = settled.early_repayment
    if remaining == 0 or not future:
        allocation = replace(settled, early_repayment=0, unapplied=remaining)
        return allocation, Schedule(paid.terms, paid.currency, tuple(i.instalment() for i in future))
    balance = sum(item.principal for item in future)
    invariant(future[0].period_start <= paid.as_of, "the current period starts after as_of")
    fraction = year_fraction(paid.day_count, future[0].period_start, paid.as_of)
    accrued = interest_minor(balance, paid.annual_rate.as_integer_ratio(), fraction)
    if remaining <= accrued:
        raise InvalidInput(
            f"a prepayment of {remaining} does not cover the {accrued} interest accrued to {paid.as_of}",
            code="prepayment_below_accrued_interest",
        )
    prepaid = _largest_prepayment(remaining - accrued, balance, fee_rate)
    fee = round_half_even(prepaid * fee_rate[0], fee_rate[1])
    rebuilt = _rebuild(paid, future, balance - prepaid, paid.as_of, mode)
    schedule = Schedule(paid.terms, paid.currency, rebuilt)
    check_schedule(schedule, balance - prepaid, paid.as_of)
    seq = future[0].seq
    extra = [("accrued_interest", accrued), ("prepaid_principal", prepaid), ("prepayment_fee", fee)]
    lines = settled.lines + tuple(AllocationLine(seq, name, value) for name, value in extra if value > 0)
    after = replace(
        paid, instalments=(*past, *_positions(rebuilt, paid.as_of)), level=_new_level(paid, rebuilt, mode)
    )
    unapplied = remaining - accrued - prepaid - fee
    return Allocation(settled.amount, lines, 0, unapplied, after), schedule


# --- write-off and recovery -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteOff:
    """What a lender writes off, by component; what is still to recover after recoveries."""

    currency: str
    principal: int
    interest: int
    fee: int
    penalty: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty


def write_off(position: LoanPosition) -> WriteOff:
    """All outstanding principal, and the interest, fees and penalty due by ``position.as_of``.

    Interest and fees of instalments not yet due were never earned and are not written off.
    """
    due = [item for item in position.instalments if item.due <= position.as_of]
    return WriteOff(
        currency=position.currency,
        principal=position.outstanding("principal"),
        interest=sum(item.outstanding("interest") for item in due),
        fee=sum(item.outstanding("fee") for item in due),
        penalty=sum(item.outstanding("penalty") for item in position.instalments),
    )


@dataclass(frozen=True, slots=True)
class Recovery:
    """Cash recovered after a write-off: the parts by component, a surplus, and what is left."""

    amount: int
    parts: tuple[tuple[str, int], ...]
    surplus: int
    remaining: WriteOff

    def __post_init__(self) -> None:
        invariant(sum(v for _, v in self.parts) + self.surplus == self.amount, "recovery parts != amount")


def recovery(written_off: WriteOff, amount: int, *, order: Sequence[str] = RECOVERY_ORDER) -> Recovery:
    """Split a recovery over what was written off, principal first by default; pass the previous
    ``Recovery.remaining`` for the next recovery."""
    if not isinstance(written_off, WriteOff):
        raise InvalidInput("written_off must be a WriteOff", code="write_off_invalid")
    amount = _check_amount(amount)
    order = _check_order(order, RECOVERY_ORDER)
    remaining = amount
    parts = []
    left = {component: int(getattr(written_off, component)) for component in RECOVERY_ORDER}
    for component in order:
        take = min(remaining, left[component])
        parts.append((component, take))
        left[component] -= take
        remaining -= take
    rest = WriteOff(written_off.currency, left["principal"], left["interest"], left["fee"], left["penalty"])
    return Recovery(amount, tuple(parts), remaining, rest)


# --- revolving lines --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevolvingStatement:
    """One statement period ``[start, end)`` of a revolving line, in minor units."""

    start: date
    end: date
    opening_balance: int
    draws: int
    repayments: int
    closing_balance: int  # principal at the end of the period, before the interest is charged
    interest: int
    new_balance: int  # closing balance plus interest: what the customer owes after the statement
    minimum_payment: int
    peak_balance: int
    days_over_limit: int


def _daily_weight(day_count: DayCount, day: date) -> tuple[int, int]:
    """One day as a fraction of a year: 1/360, 1/365, or 1/365 or 1/366 (ACT/ACT, by the day's year)."""
    return year_fraction(day_count, day, day + timedelta(days=1))


def _check_events(events: Sequence[tuple[date, int]], start: date, end: date) -> list[tuple[date, int]]:
    if len(events) > REVOLVING_EVENTS_MAX:
        raise InvalidInput(f"at most {REVOLVING_EVENTS_MAX} draws and repayments", code="too_many_events")
    checked = []
    for event in events:
        if not isinstance(event, tuple) or len(event) != 2:
            raise InvalidInput("each event is a (date, amount) pair", code="event_invalid")
        on, amount = event
        _check_date(on, "event date")
        if type(amount) is not int or amount == 0 or abs(amount) > INT64_MAX // 2:
            raise InvalidInput("an event amount is a non-zero int of minor units", code="amount_invalid")
        if not start <= on < end:
            raise InvalidInput(f"event on {on} is outside {start}..{end}", code="event_outside_period")
        checked.append((on, amount))
    return sorted(checked, key=lambda e: e[0])


def revolving_statement(
    draws_and_repayments: Sequence[tuple[date, int]],
    terms: RevolvingLineTerms,
    period: tuple[date, date],
    *,
    opening_balance: int = 0,
) -> RevolvingStatement:
    """Interest on each day's closing balance (draws positive, repayments negative) and the minimum payment.

    Interest = sum over the days of ``balance × annual_rate × (one day by the day count)``, rounded
    half-even once; a credit balance earns nothing. Minimum payment = ``min_payment_rate`` of the
    closing balance plus the interest, at least ``min_payment_floor``, at most the new balance.
    """
    start, end = _check_date(period[0], "period start"), _check_date(period[1], "period end")
    if not 0 < (end - start).days <= STATEMENT_DAYS_MAX:
        raise InvalidInput(f"a statement covers 1..{STATEMENT_DAYS_MAX} days", code="period_invalid")
    if type(opening_balance) is not int or abs(opening_balance) > INT64_MAX // 2:
        raise InvalidInput("opening_balance must be an int of minor units", code="amount_invalid")
    events = _check_events(draws_and_repayments, start, end)
    rate = terms.annual_rate.as_integer_ratio()
    numerator, denominator = 0, 1
    balance, peak, over, cursor = opening_balance, opening_balance, 0, 0
    for offset in range((end - start).days):
        day = start + timedelta(days=offset)
        while cursor < len(events) and events[cursor][0] == day:
            balance += events[cursor][1]
            cursor += 1
        weight = _daily_weight(terms.day_count, day)
        denominator = weight[1]  # the same for every day of one day count
        numerator += max(balance, 0) * weight[0]
        peak, over = max(peak, balance), over + (balance > terms.limit.amount_minor)
    interest = round_half_even(numerator * rate[0], denominator * rate[1])
    draws = sum(a for _, a in events if a > 0)
    new_balance = balance + interest
    share = terms.min_payment_rate.as_integer_ratio()
    minimum = max(
        terms.min_payment_floor.amount_minor, round_half_even(max(balance, 0) * share[0], share[1]) + interest
    )
    return RevolvingStatement(
        start=start,
        end=end,
        opening_balance=opening_balance,
        draws=draws,
        repayments=draws - (balance - opening_balance),
        closing_balance=balance,
        interest=interest,
        new_balance=new_balance,
        minimum_payment=max(0, min(new_balance, minimum)),
        peak_balance=peak,
        days_over_limit=over,
    )
