"""Servicing: penalty accrual, allocation orders, early repayment, arrears, write-off, revolving lines."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netfin.core.errors import InvalidInput
from netfin.core.money import Money
from netfin.credit.products import (
    BNPLPlan,
    DayCount,
    Fee,
    FeeTiming,
    LoanTerms,
    RepaymentMethod,
    RevolvingLineTerms,
)
from netfin.credit.schedule import build_bnpl_schedule, build_schedule, level_payment
from netfin.credit.servicing import (
    COMPONENTS,
    LoanPosition,
    accrue_penalty,
    allocate,
    days_past_due,
    delinquency_bucket,
    early_repayment,
    recovery,
    revolving_statement,
    write_off,
)

ANNUITY, EQUAL, BULLET = RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.BULLET
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = date(2026, 1, 15)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def position(method: RepaymentMethod = ANNUITY, term: int = 12, **kw: object) -> LoanPosition:
    """CNY 10,000.00 at 12 % from 15 January 2026, null calendar (due on the 15th), ACT/360,
    penalty 18 % after 3 days of grace."""
    options: dict[str, object] = {"day_count": DayCount.ACT_360, "calendar": "null",
                                  "penalty_rate": Decimal("0.18"), "grace_days": 3, **kw}  # fmt: skip
    terms = LoanTerms(cny(1_000_000), Decimal("0.12"), term, method, START, **options)  # type: ignore[arg-type]
    return LoanPosition.from_schedule(build_schedule(terms))


# --- penalty ----------------------------------------------------------------------------------------


def test_no_penalty_within_grace_then_from_the_due_date() -> None:
    loan = position()
    first = loan.instalments[0]
    assert first.due == date(2026, 2, 15) and first.principal + first.interest == 88_849
    assert accrue_penalty(loan, date(2026, 2, 18)).instalments[0].penalty == 0  # 3 days: within grace
    # 4 days overdue: penalty from the due date, 88,849 × 18 % × 4 / 360 = 177.70 -> 178
    assert accrue_penalty(loan, date(2026, 2, 19)).instalments[0].penalty == 178


def test_penalty_is_idempotent_for_the_same_day() -> None:
    once = accrue_penalty(position(), date(2026, 3, 20))
    assert accrue_penalty(once, date(2026, 3, 20)) == once
    # 33 days on instalment 1 (88,849), 5 days on instalment 2
    assert [i.penalty for i in once.instalments[:3]] == [1_466, 222, 0]


def test_penalty_runs_on_from_the_last_accrual() -> None:
    stepped = accrue_penalty(accrue_penalty(position(), date(2026, 3, 1)), date(2026, 3, 20))
    direct = accrue_penalty(position(), date(2026, 3, 20))
    assert abs(stepped.instalments[0].penalty - direct.instalments[0].penalty) <= 1  # one rounding per step
    with pytest.raises(InvalidInput, match="as_of_in_the_past"):
        accrue_penalty(stepped, date(2026, 3, 19))


def test_penalty_excludes_fees_and_follows_partial_payments() -> None:
    loan = position(fees=(Fee("service", cny(1_000), timing=FeeTiming.EACH),))
    paid = allocate(loan, 50_000, as_of=date(2026, 2, 17)).position  # within grace: no penalty yet
    later = accrue_penalty(paid, date(2026, 2, 25))
    base = paid.instalments[0].overdue_base
    assert base == 88_849 - (50_000 - 1_000)  # the fee came first: 49,000 went to interest and principal
    assert later.instalments[0].penalty == 199  # 39,849 × 18 % × 10 / 360 = 199.25


def test_no_penalty_rate_no_penalty() -> None:
    loan = position(penalty_rate=Decimal(0))
    assert all(i.penalty == 0 for i in accrue_penalty(loan, date(2027, 6, 1)).instalments)


# --- arrears ----------------------------------------------------------------------------------------


def test_days_past_due_counts_from_the_oldest_unpaid_instalment() -> None:
    loan = position()
    assert days_past_due(loan, date(2026, 2, 15)) == 0
    assert days_past_due(loan, date(2026, 2, 16)) == 1
    assert days_past_due(loan, date(2026, 4, 20)) == 64
    paid = allocate(loan, 88_849, as_of=date(2026, 2, 15)).position
    assert days_past_due(paid, date(2026, 4, 20)) == 36  # from 15 March


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [(0, "current"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (61, "M3+"), (400, "M3+")],
)
def test_delinquency_buckets(dpd: int, bucket: str) -> None:
    assert delinquency_bucket(dpd) == bucket


def test_delinquency_bucket_thresholds_are_configurable() -> None:
    assert delinquency_bucket(20, m1_max=15, m2_max=45) == "M2"
    assert delinquency_bucket(46, m1_max=15, m2_max=45) == "M3+"
    with pytest.raises(InvalidInput, match="bucket_bounds_invalid"):
        delinquency_bucket(5, m1_max=60, m2_max=30)
    with pytest.raises(InvalidInput, match="dpd_invalid"):
        delinquency_bucket(-1)


# --- allocation -------------------------------------------------------------------------------------

TWO_OVERDUE = date(2026, 3, 20)  # instalments 1 and 2 overdue, penalties 1,466 and 222


def test_vertical_settles_the_oldest_instalment_first() -> None:
    allocation = allocate(position(), 100_000, as_of=TWO_OVERDUE)
    lines = [(line.seq, line.component, line.amount) for line in allocation.lines]
    assert lines == [
        (1, "penalty", 1_466), (1, "interest", 10_333), (1, "principal", 78_516),
        (2, "penalty", 222), (2, "interest", 8_601), (2, "principal", 862),
    ]  # fmt: skip
    assert allocation.early_repayment == 0
    assert allocation.by_component() == {"penalty": 1_688, "interest": 18_934, "principal": 79_378}


def test_horizontal_pays_each_component_across_instalments() -> None:
    allocation = allocate(position(), 100_000, as_of=TWO_OVERDUE, strategy="horizontal")
    lines = [(line.seq, line.component, line.amount) for line in allocation.lines]
    assert lines[:4] == [
        (1, "penalty", 1_466),
        (2, "penalty", 222),
        (1, "interest", 10_333),
        (2, "interest", 8_601),
    ]
    assert lines[4:] == [(1, "principal", 78_516), (2, "principal", 862)]


def test_a_custom_order_and_the_overpayment() -> None:
    allocation = allocate(
        position(), 200_000, as_of=TWO_OVERDUE, order=("principal", "interest", "penalty", "fee")
    )
    assert [line.component for line in allocation.lines[:3]] == ["principal", "interest", "penalty"]
    assert allocation.early_repayment == 200_000 - 2 * 88_849 - 1_688
    assert days_past_due(allocation.position, TWO_OVERDUE) == 0


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"amount": -1}, "amount_invalid"),
        ({"amount": 1.5}, "amount_invalid"),
        ({"order": ("fee", "interest", "principal")}, "order_invalid"),
        ({"order": ("fee", "fee", "interest", "principal")}, "order_invalid"),
        ({"strategy": "diagonal"}, "strategy_invalid"),
    ],
)
def test_allocate_rejects_bad_input(kwargs: dict[str, object], code: str) -> None:
    args: dict[str, object] = {"amount": 1_000, "as_of": TWO_OVERDUE, **kwargs}
    with pytest.raises(InvalidInput) as raised:
        allocate(position(), **args)  # type: ignore[arg-type]
    assert raised.value.code == code


def test_bnpl_positions_allocate_without_penalty() -> None:
    plan = BNPLPlan(cny(100_000), 4, interval_days=14, calendar="null")
    loan = LoanPosition.from_schedule(build_bnpl_schedule(plan, date(2026, 3, 2)), as_of=date(2026, 3, 2))
    allocation = allocate(loan, 30_000, as_of=date(2026, 4, 20))
    assert [(line.seq, line.amount) for line in allocation.lines] == [(1, 25_000), (2, 5_000)]
    with pytest.raises(InvalidInput, match="position_invalid"):
        LoanPosition.from_schedule(build_bnpl_schedule(plan, date(2026, 3, 2)))


@st.composite
def positions(draw: st.DrawFn) -> LoanPosition:
    fees = draw(st.sampled_from([(), (Fee("service", cny(500), timing=FeeTiming.EACH),)]))
    terms = LoanTerms(
        principal=cny(draw(st.integers(1_000, 10**9))),
        annual_rate=Decimal(draw(st.integers(0, 3_600))).scaleb(-4),
        term_months=draw(st.integers(1, 36)),
        method=draw(st.sampled_from(RepaymentMethod)),
        start=draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))),
        day_count=draw(st.sampled_from(DayCount)),
        calendar=draw(st.sampled_from(["china", "null"])),
        penalty_rate=Decimal(draw(st.integers(0, 2_400))).scaleb(-4),
        grace_days=draw(st.integers(0, 10)),
        fees=fees,
    )
    return LoanPosition.from_schedule(build_schedule(terms))


@given(positions(), st.integers(0, 1_200), st.integers(0, 10**9), st.sampled_from(["vertical", "horizontal"]),
       st.permutations(COMPONENTS))  # fmt: skip
@PROPERTY
def test_allocation_parts_sum_to_the_amount(
    loan: LoanPosition, days: int, amount: int, strategy: str, order: list[str]
) -> None:
    as_of = loan.as_of + timedelta(days=days)
    allocation = allocate(loan, amount, as_of=as_of, order=order, strategy=strategy)  # type: ignore[arg-type]
    assert sum(line.amount for line in allocation.lines) + allocation.early_repayment == amount
    due = accrue_penalty(loan, as_of)
    owed = sum(i.outstanding(c) for i in due.instalments if i.due <= as_of for c in COMPONENTS)
    assert allocation.early_repayment == max(0, amount - owed)


# --- early repayment --------------------------------------------------------------------------------

PREPAY_DAY = date(2026, 3, 5)  # instalment 1 (15 February) paid on time; 18 days into period 2


def paid_first(method: RepaymentMethod = ANNUITY, **kw: object) -> LoanPosition:
    loan = position(method, **kw)
    first = loan.instalments[0]
    return allocate(loan, first.principal + first.interest + first.fee, as_of=first.due).position


def test_shorten_term_keeps_the_level_payment() -> None:
    loan = paid_first()
    allocation, schedule = early_repayment(loan, 300_000, as_of=PREPAY_DAY)
    balance = 1_000_000 - 78_516
    accrued = 5_529  # 921,484 × 12 % × 18 / 360 = 5,528.90
    assert allocation.by_component() == {"accrued_interest": accrued, "prepaid_principal": 300_000 - accrued}
    assert schedule.principal == balance - (300_000 - accrued)
    assert all(i.total == 88_849 for i in schedule.instalments[:-1])
    assert len(schedule.instalments) < 11 and schedule.instalments[0].seq == 2
    assert schedule.instalments[0].due == date(2026, 3, 15)
    assert allocation.position.outstanding("principal") == schedule.principal
    assert allocation.position.instalments[1].period_start == PREPAY_DAY


def test_reduce_instalment_keeps_the_dates() -> None:
    allocation, schedule = early_repayment(paid_first(), 300_000, as_of=PREPAY_DAY, mode="reduce_instalment")
    assert len(schedule.instalments) == 11
    new_level = level_payment(schedule.principal, Decimal("0.12"), 11)
    assert all(i.total == new_level for i in schedule.instalments[:-1]) and new_level < 88_849
    assert allocation.position.level == new_level


def test_equal_principal_shorten_keeps_the_principal_part() -> None:
    allocation, schedule = early_repayment(paid_first(EQUAL), 250_000, as_of=PREPAY_DAY)
    assert all(i.principal == 83_333 for i in schedule.instalments[:-1])
    assert schedule.instalments[-1].principal <= 83_333
    assert allocation.position.level == 83_333


def test_prepayment_fee_is_charged_on_the_principal_prepaid() -> None:
    allocation, _ = early_repayment(
        paid_first(), 300_000, as_of=PREPAY_DAY, prepayment_fee_rate=Decimal("0.02")
    )
    parts = allocation.by_component()
    assert parts["prepayment_fee"] == round(parts["prepaid_principal"] * Decimal("0.02"))
    assert sum(parts.values()) + allocation.unapplied == 300_000
    assert allocation.unapplied <= 1


def test_full_payoff_returns_the_excess_as_unapplied() -> None:
    allocation, schedule = early_repayment(paid_first(BULLET), 2_000_000, as_of=PREPAY_DAY)
    assert schedule.instalments == ()
    assert allocation.position.outstanding("principal") == 0
    accrued = 6_000  # bullet: 1,000,000 × 12 % × 18 / 360 since the first instalment was paid
    assert allocation.unapplied == 2_000_000 - 1_000_000 - accrued


def test_a_prepayment_must_cover_the_accrued_interest() -> None:
    with pytest.raises(InvalidInput, match="prepayment_below_accrued_interest"):
        early_repayment(paid_first(), 5_529, as_of=PREPAY_DAY)
    with pytest.raises(InvalidInput, match="prepayment_mode_invalid"):
        early_repayment(paid_first(), 100_000, as_of=PREPAY_DAY, mode="skip")  # type: ignore[arg-type]


def test_a_payment_that_only_settles_arrears_changes_no_schedule() -> None:
    allocation, schedule = early_repayment(position(), 50_000, as_of=TWO_OVERDUE)
    assert allocation.unapplied == 0 and schedule.principal == sum(
        i.principal for i in position().instalments[2:]
    )


@given(positions(), st.integers(0, 1_200), st.integers(0, 2 * 10**9),
       st.sampled_from(["shorten_term", "reduce_instalment"]), st.integers(0, 300))  # fmt: skip
@PROPERTY
def test_early_repayment_parts_sum_and_the_rest_amortises(
    loan: LoanPosition, days: int, amount: int, mode: str, fee_bp: int
) -> None:
    as_of = loan.as_of + timedelta(days=days)
    try:
        allocation, schedule = early_repayment(
            loan,
            amount,
            as_of=as_of,
            mode=mode,
            prepayment_fee_rate=Decimal(fee_bp).scaleb(-4),  # type: ignore[arg-type]
        )
    except InvalidInput as refused:
        assert refused.code == "prepayment_below_accrued_interest"
        return
    assert sum(line.amount for line in allocation.lines) + allocation.unapplied == amount
    assert allocation.early_repayment == 0
    future = [i for i in allocation.position.instalments if i.due > as_of]
    assert (
        schedule.principal
        == sum(i.principal for i in future)
        == allocation.position.outstanding("principal")
        - sum(i.outstanding("principal") for i in allocation.position.instalments if i.due <= as_of)
    )


# --- write-off and recovery -------------------------------------------------------------------------


def test_write_off_takes_all_principal_and_what_was_due() -> None:
    loan = accrue_penalty(position(), TWO_OVERDUE)
    written = write_off(loan)
    assert (written.principal, written.interest, written.fee, written.penalty) == (
        1_000_000,
        18_934,
        0,
        1_688,
    )
    assert written.total == 1_020_622 and written.currency == "CNY"


def test_recoveries_go_to_principal_first_and_chain() -> None:
    written = write_off(accrue_penalty(position(), TWO_OVERDUE))
    first = recovery(written, 600_000)
    assert first.parts == (("principal", 600_000), ("interest", 0), ("fee", 0), ("penalty", 0))
    second = recovery(first.remaining, 500_000)
    assert dict(second.parts) == {"principal": 400_000, "interest": 18_934, "fee": 0, "penalty": 1_688}
    assert second.surplus == 500_000 - 420_622 and second.remaining.total == 0


def test_recovery_order_is_configurable() -> None:
    written = write_off(accrue_penalty(position(), TWO_OVERDUE))
    split = recovery(written, 2_000, order=("penalty", "interest", "fee", "principal"))
    assert dict(split.parts) == {"penalty": 1_688, "interest": 312, "fee": 0, "principal": 0}
    with pytest.raises(InvalidInput, match="order_invalid"):
        recovery(written, 1, order=("principal",))


# --- revolving lines --------------------------------------------------------------------------------


def line(**kw: object) -> RevolvingLineTerms:
    options: dict[str, object] = {"limit": cny(1_000_000), "annual_rate": Decimal("0.18"),
                                  "min_payment_rate": Decimal("0.10"), "min_payment_floor": cny(10_000),
                                  "limit_floor": cny(0), "limit_ceiling": cny(5_000_000), **kw}  # fmt: skip
    return RevolvingLineTerms(**options)  # type: ignore[arg-type]


MARCH = (date(2026, 3, 1), date(2026, 4, 1))


def test_statement_interest_on_daily_balances() -> None:
    events = [(date(2026, 3, 15), -100_000), (date(2026, 3, 1), 300_000)]
    statement = revolving_statement(events, line(), MARCH)
    # 14 days at 300,000 and 17 days at 200,000: 7,600,000 balance-days × 18 % / 360 = 3,800
    assert (statement.interest, statement.closing_balance, statement.new_balance) == (3_800, 200_000, 203_800)
    assert statement.minimum_payment == 20_000 + 3_800
    assert (statement.draws, statement.repayments, statement.peak_balance) == (300_000, 100_000, 300_000)


def test_statement_floor_cap_credit_balance_and_over_limit() -> None:
    small = revolving_statement([(date(2026, 3, 31), 5_000)], line(), MARCH)
    assert small.interest == 2  # one day: 5,000 × 18 % / 360 = 2.5, half-even to 2
    assert small.minimum_payment == 5_002  # the floor of 10,000 is capped at the new balance
    credit = revolving_statement([(date(2026, 3, 10), -50_000)], line(), MARCH, opening_balance=20_000)
    assert credit.interest == 90  # 9 days at 20,000; the credit balance afterwards earns nothing
    assert (credit.new_balance, credit.minimum_payment) == (-29_910, 0)
    over = revolving_statement([(date(2026, 3, 20), 1_500_000)], line(), MARCH)
    assert over.days_over_limit == 12


def test_statement_act_act_weighs_a_leap_year() -> None:
    terms = line(day_count=DayCount.ACT_ACT, annual_rate=Decimal("0.366"))
    statement = revolving_statement([], terms, (date(2028, 3, 1), date(2028, 3, 2)), opening_balance=100_000)
    assert statement.interest == 100  # 100,000 × 36.6 % / 366


@pytest.mark.parametrize(
    ("events", "period", "code"),
    [
        ([(date(2026, 4, 1), 100)], MARCH, "event_outside_period"),
        ([(date(2026, 3, 2), 0)], MARCH, "amount_invalid"),
        ([(date(2026, 3, 2), 1, 2)], MARCH, "event_invalid"),
        ([], (date(2026, 3, 1), date(2026, 3, 1)), "period_invalid"),
        ([], (date(2026, 1, 1), date(2027, 1, 3)), "period_invalid"),
        ([(date(2026, 3, 2), 1)] * 10_001, MARCH, "too_many_events"),
    ],
)
def test_statement_rejects_bad_input(
    events: list[tuple[date, int]], period: tuple[date, date], code: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        revolving_statement(events, line(), period)
    assert raised.value.code == code
