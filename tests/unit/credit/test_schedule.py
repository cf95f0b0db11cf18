"""Schedules: golden values checked by hand and by an independent formula, invariants by hypothesis,
and the column-wise batch path against the scalar one."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from netfin.core.errors import InvalidInput
from netfin.core.money import Money
from netfin.credit import schedule as schedule_module
from netfin.credit.products import (
    CALENDARS,
    BNPLPlan,
    DayCount,
    Fee,
    FeeTiming,
    LoanTerms,
    RepaymentMethod,
)
from netfin.credit.schedule import (
    LoanBook,
    Schedule,
    build_bnpl_schedule,
    build_schedule,
    build_schedules_batch,
    calendar_for,
    day_counter,
    due_dates,
    level_payment,
    month_grid,
    to_ql,
    year_fraction,
)

ANNUITY, EQUAL, BULLET = RepaymentMethod.ANNUITY, RepaymentMethod.EQUAL_PRINCIPAL, RepaymentMethod.BULLET
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def loan(principal: int = 1_000_000, rate: str = "0.12", term: int = 12, method: RepaymentMethod = ANNUITY,
         start: date = date(2026, 1, 15), **kw: object) -> LoanTerms:  # fmt: skip
    return LoanTerms(cny(principal), Decimal(rate), term, method, start, **kw)  # type: ignore[arg-type]


def textbook_payment(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """P i / (1 - (1 + i)^-n), written out independently of the module, to the cent."""
    with localcontext() as context:
        context.prec = 34
        i = annual_rate / 12
        return (principal * i / (1 - (1 + i) ** -months)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


# --- golden values ----------------------------------------------------------------------------------


def test_level_payment_golden_12_months_at_12_percent() -> None:
    assert textbook_payment(Decimal("10000.00"), Decimal("0.12"), 12) == Decimal("888.49")
    assert level_payment(1_000_000, Decimal("0.12"), 12) == 88_849  # CNY 888.49 by hand: 100 / (1 - 1.01^-12)


@pytest.mark.parametrize(
    ("principal", "rate", "months"),
    [("250000.00", "0.049", 360), ("3000.00", "0.2399", 6), ("88888.88", "0.0435", 36), ("1.00", "1", 1)],
)
def test_level_payment_matches_the_textbook_formula(principal: str, rate: str, months: int) -> None:
    expected = textbook_payment(Decimal(principal), Decimal(rate), months)
    assert level_payment(int(Decimal(principal) * 100), Decimal(rate), months) == int(expected * 100)


def test_zero_rate_annuity_is_principal_over_term() -> None:
    assert level_payment(100_000, Decimal(0), 3) == 33_333
    schedule = build_schedule(loan(100_000, "0", 3))
    assert [i.principal for i in schedule.instalments] == [33_333, 33_333, 33_334]
    assert schedule.interest == 0


def test_textbook_annuity_on_the_null_calendar_with_30_360() -> None:
    """Every period is 30/360 = 1/12, so the schedule is the textbook one computed here by hand-rule."""
    schedule = build_schedule(loan(calendar="null", day_count=DayCount.THIRTY_360))
    balance, rows = Decimal("10000.00"), []
    for k in range(12):
        interest = (balance * Decimal("0.01")).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        principal = balance if k == 11 else Decimal("888.49") - interest
        rows.append((int(principal * 100), int(interest * 100)))
        balance -= principal
    assert [(i.principal, i.interest) for i in schedule.instalments] == rows
    assert schedule.instalments[0].interest == 10_000 and schedule.instalments[0].principal == 78_849
    assert [i.total for i in schedule.instalments[:11]] == [88_849] * 11
    assert schedule.instalments[-1].total == 88_847
    assert [i.due for i in schedule.instalments[:2]] == [date(2026, 2, 15), date(2026, 3, 15)]


def test_interest_rounds_half_even() -> None:
    # A bullet month at 12 % on 30/360 charges exactly 1 % of the balance: 2.5 -> 2 and 3.5 -> 4.
    for principal, interest in ((250, 2), (350, 4), (150, 2)):
        schedule = build_schedule(
            loan(principal, term=1, method=BULLET, calendar="null", day_count=DayCount.THIRTY_360)
        )
        assert schedule.instalments[0].interest == interest


def test_equal_principal_puts_the_remainder_on_the_last() -> None:
    schedule = build_schedule(loan(method=EQUAL, calendar="null", day_count=DayCount.THIRTY_360))
    assert [i.principal for i in schedule.instalments] == [83_333] * 11 + [83_337]
    assert schedule.instalments[0].interest == 10_000
    assert schedule.instalments[1].interest == 9_167  # 916,667 × 1 % = 9,166.67


def test_bullet_pays_interest_then_principal() -> None:
    schedule = build_schedule(loan(method=BULLET, term=3, day_count=DayCount.ACT_365F, calendar="null"))
    assert [i.principal for i in schedule.instalments] == [0, 0, 1_000_000]
    # 31, 28 and 31 days at 12 % ACT/365F on CNY 10,000.00
    assert [i.interest for i in schedule.instalments] == [10_192, 9_205, 10_192]


def test_fees_upfront_and_each() -> None:
    fees = (Fee("arrangement", cny(2_000)), Fee("service", rate=Decimal("0.003"), timing=FeeTiming.EACH))
    schedule = build_schedule(loan(term=3, fees=fees))
    assert [i.fee for i in schedule.instalments] == [5_000, 3_000, 3_000]
    assert all(i.total == i.principal + i.interest + i.fee for i in schedule.instalments)


# --- dates ------------------------------------------------------------------------------------------


def test_national_day_moves_the_due_date_to_the_next_business_day() -> None:
    dues = due_dates(date(2026, 9, 1), 2, "china", None)
    assert dues == (date(2026, 10, 8), date(2026, 11, 2))  # 1..7 October are holidays; 1 Nov is a Sunday
    assert due_dates(date(2026, 9, 1), 2, "null", None) == (date(2026, 10, 1), date(2026, 11, 1))


def test_a_month_end_start_stays_on_month_ends() -> None:
    dues = due_dates(date(2026, 1, 31), 4, "null", None)
    assert dues == (date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31))
    assert due_dates(date(2026, 2, 28), 2, "null", None) == (date(2026, 3, 31), date(2026, 4, 30))
    assert due_dates(date(2026, 1, 30), 2, "null", None) == (date(2026, 2, 28), date(2026, 3, 30))


def test_payment_day_is_clamped_month_by_month() -> None:
    dues = due_dates(date(2026, 1, 10), 4, "null", 30)
    assert dues == (date(2026, 2, 28), date(2026, 3, 30), date(2026, 4, 30), date(2026, 5, 30))
    assert due_dates(date(2026, 3, 10), 2, "null", 31) == (date(2026, 4, 30), date(2026, 5, 31))


def test_payment_day_skips_a_first_period_shorter_than_15_days() -> None:
    assert due_dates(date(2026, 1, 20), 1, "null", 5) == (date(2026, 2, 5),)  # 16 days
    assert due_dates(date(2026, 1, 25), 1, "null", 5) == (date(2026, 3, 5),)  # 11 days would be too short


def test_bnpl_pay_in_four_every_14_days() -> None:
    plan = BNPLPlan(cny(100_000), 4, interval_days=14, calendar="null")
    schedule = build_bnpl_schedule(plan, date(2026, 3, 2))
    assert [i.due for i in schedule.instalments] == [
        date(2026, 3, 16) + timedelta(days=14 * k) for k in range(4)
    ]
    assert [i.principal for i in schedule.instalments] == [25_000] * 4
    assert schedule.interest == 0 and schedule.fees == 0


def test_bnpl_monthly_with_down_payment_puts_the_remainder_last() -> None:
    plan = BNPLPlan(cny(129_900), 3, down_payment=cny(29_899), merchant_fee_rate=Decimal("0.02"))
    schedule = build_bnpl_schedule(plan, date(2026, 5, 20))
    assert [i.principal for i in schedule.instalments] == [33_333, 33_333, 33_335]
    assert schedule.principal == plan.financed_minor
    assert schedule.instalments[-1].closing_balance == 0


def test_bnpl_rejects_wrong_types() -> None:
    with pytest.raises(InvalidInput, match="plan_invalid"):
        build_bnpl_schedule(loan(), date(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="terms_invalid"):
        build_schedule(BNPLPlan(cny(1_000), 2))  # type: ignore[arg-type]


def test_calendar_names() -> None:
    assert calendar_for("china").name() == "China inter bank market"
    assert calendar_for("china_sse").name() == "Shanghai stock exchange"
    assert calendar_for("target").name() == "TARGET"
    with pytest.raises(InvalidInput, match="calendar_unknown"):
        calendar_for("moon")


def test_act_act_splits_a_period_at_the_new_year() -> None:
    numerator, denominator = year_fraction(DayCount.ACT_ACT, date(2027, 12, 15), date(2028, 1, 15))
    assert Fraction(numerator, denominator) == Fraction(17, 365) + Fraction(14, 366)


@given(
    st.sampled_from(list(DayCount)),
    st.dates(date(1990, 1, 1), date(2100, 12, 31)),
    st.integers(0, 800),
)
@PROPERTY
def test_year_fraction_is_quantlibs_exactly(day_count: DayCount, begin: date, days: int) -> None:
    end = begin + timedelta(days=days)
    numerator, denominator = year_fraction(day_count, begin, end)
    expected = day_counter(day_count).yearFraction(to_ql(begin), to_ql(end))
    assert abs(numerator / denominator - expected) < 1e-12


@given(
    st.dates(date(1990, 1, 1), date(2100, 12, 31)),
    st.integers(1, 40),
    st.sampled_from(CALENDARS),
    st.none() | st.integers(1, 31),
)
@PROPERTY
def test_a_grid_prefix_is_the_schedule_of_the_shorter_term(start: date, months: int, calendar: str,
                                                           payment_day: int | None) -> None:  # fmt: skip
    """Grids are shared by every shorter term: QuantLib built for exactly ``months`` gives the same dates."""
    assert month_grid(start, calendar, payment_day, months).dues == due_dates(
        start, months, calendar, payment_day
    )


# --- invariants -------------------------------------------------------------------------------------

fees = st.lists(
    st.builds(Fee, st.just("f"), st.none() | st.integers(0, 10_000).map(cny),
              st.integers(0, 500).map(lambda r: Decimal(r).scaleb(-4)), st.sampled_from(FeeTiming)),
    max_size=2,
).map(tuple)  # fmt: skip


@st.composite
def loan_terms(draw: st.DrawFn, term_max: int = 60, principal_max: int = 10**12) -> LoanTerms:
    return LoanTerms(
        principal=cny(draw(st.integers(1, principal_max))),
        annual_rate=Decimal(draw(st.integers(0, 10**6))).scaleb(-6),
        term_months=draw(st.integers(1, term_max)),
        method=draw(st.sampled_from(RepaymentMethod)),
        start=draw(st.dates(date(2000, 1, 1), date(2049, 12, 31))),
        day_count=draw(st.sampled_from(DayCount)),
        calendar=draw(st.sampled_from(CALENDARS)),
        payment_day=draw(st.none() | st.integers(1, 31)),
        fees=draw(fees),
    )


def check_invariants(schedule: Schedule, terms: LoanTerms) -> None:
    items = schedule.instalments
    assert len(items) == terms.term_months
    assert sum(i.principal for i in items) == terms.principal.amount_minor
    assert all(min(i.principal, i.interest, i.fee, i.total, i.closing_balance) >= 0 for i in items)
    assert items[-1].closing_balance == 0
    assert items[0].opening_balance == terms.principal.amount_minor
    assert all(a.closing_balance == b.opening_balance for a, b in pairwise(items))
    assert all(i.closing_balance == i.opening_balance - i.principal for i in items)
    dues = [terms.start] + [i.due for i in items]
    assert all(a < b for a, b in pairwise(dues))
    calendar = calendar_for(terms.calendar)
    assert all(calendar.isBusinessDay(to_ql(i.due)) for i in items)


@given(loan_terms())
@PROPERTY
def test_schedule_invariants(terms: LoanTerms) -> None:
    check_invariants(build_schedule(terms), terms)


def day_count_bound(schedule: Schedule, terms: LoanTerms) -> Fraction:
    """Σ (|interest_k - balance_k × r/12| + 1/2) (1 + r/12)^(n-1-k): the day-count effect plus rounding,
    compounded to the last instalment."""
    monthly = Fraction(terms.annual_rate) / 12
    n = len(schedule.instalments)
    return sum(
        (
            (abs(i.interest - i.opening_balance * monthly) + Fraction(1, 2)) * (1 + monthly) ** (n - 1 - k)
            for k, i in enumerate(schedule.instalments)
        ),
        Fraction(0),
    )


@given(loan_terms(term_max=48).filter(lambda t: t.method is ANNUITY))
@PROPERTY
def test_annuity_totals_are_level_but_for_the_last(terms: LoanTerms) -> None:
    schedule = build_schedule(terms)
    level = level_payment(terms.principal.amount_minor, terms.annual_rate, terms.term_months)
    items = schedule.instalments
    assume(all(i.principal == level - i.interest for i in items[:-1]))  # no period clamped at 0
    assert all(i.total - i.fee == level for i in items[:-1])
    assert abs(items[-1].total - items[-1].fee - level) <= day_count_bound(schedule, terms)


@given(
    st.integers(1, 10**9),
    st.integers(0, 10**4),
    st.integers(1, 36),
    st.dates(date(2000, 1, 1), date(2049, 12, 31)),
)
@PROPERTY
def test_regular_30_360_annuity_differs_only_by_rounding(
    principal: int, rate_bp: int, term: int, start: date
) -> None:
    assume(start.day <= 27)  # the 28th of February is a month end: its loan falls due on month ends
    terms = loan(principal, str(Decimal(rate_bp).scaleb(-4)), term, start=start, calendar="null",
                 day_count=DayCount.THIRTY_360)  # fmt: skip
    items = build_schedule(terms).instalments
    level = level_payment(principal, terms.annual_rate, term)
    growth = float(1 + terms.annual_rate / 12) ** term
    assert abs(items[-1].total - level) <= term * growth + 1


# --- the batch path ---------------------------------------------------------------------------------


@given(st.lists(loan_terms(), min_size=1, max_size=25), st.integers(1, 30))
@PROPERTY
def test_batch_equals_scalar(loans: list[LoanTerms], chunk: int) -> None:
    batch = build_schedules_batch(loans, chunk_loans=chunk)
    assert len(batch) == len(loans)
    assert [batch.schedule(i) for i in range(len(loans))] == [build_schedule(t) for t in loans]


def test_batch_falls_back_to_the_scalar_path_where_int64_could_overflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = loan(10**15, "0.9999999999", 360, day_count=DayCount.ACT_ACT, payment_day=31)
    small = loan(1_000_000, "0.1", 12)
    scalar = []
    original = schedule_module._fill_scalar
    monkeypatch.setattr(
        schedule_module, "_fill_scalar", lambda b, i, o: (scalar.append(i), original(b, i, o))
    )
    batch = build_schedules_batch([small, big, small])
    assert scalar == [1]  # 10**15 × 9,999,999,999 × 366 days is far beyond 2**63
    assert [batch.schedule(i) for i in range(3)] == [build_schedule(t) for t in (small, big, small)]


def test_batch_columns() -> None:
    loans = [loan(term=3), loan(term=2, method=BULLET)]
    batch = build_schedules_batch(loans)
    assert batch.offsets.tolist() == [0, 3, 5]
    assert batch.seq.tolist() == [1, 2, 3, 1, 2]
    assert batch.due.dtype == np.dtype("datetime64[D]")
    assert batch.principal[3:].tolist() == [0, 1_000_000]
    assert batch.principal.dtype == np.int64


def test_book_from_columns_round_trips_to_terms() -> None:
    book = LoanBook.from_columns(
        principal_minor=[500_000, 7_000_000], annual_rate_units=[1234, 0], rate_scale=4, term_months=[6, 24],
        method=[0, 1], start_days=[20_000, 20_100], day_count=[3, 2], calendar=[0, 3], payment_day=[0, 10],
        upfront_fee_minor=[100, 0], instalment_fee_minor=[0, 50], currency="CNY",
    )  # fmt: skip
    terms = book.terms_at(0)
    assert terms.annual_rate == Decimal("0.1234") and terms.start == date(2024, 10, 4)
    assert book.terms_at(1).payment_day == 10 and book.terms_at(1).calendar == "null"
    batch = build_schedules_batch(book)
    assert [batch.schedule(i) for i in range(2)] == [build_schedule(book.terms_at(i)) for i in range(2)]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("principal_minor", [0], "batch_out_of_range"),
        ("term_months", [361], "batch_out_of_range"),
        ("annual_rate_units", [10_001], "batch_out_of_range"),
        ("method", [3], "batch_out_of_range"),
        ("payment_day", [32], "batch_out_of_range"),
        ("start_days", [10**6], "batch_out_of_range"),
        ("principal_minor", [1.5], "batch_invalid"),
        ("term_months", [12, 12], "batch_invalid"),
        ("currency", "XXX", "currency_unknown"),
    ],
)
def test_book_rejects_bad_columns(column: str, value: object, code: str) -> None:
    columns: dict[str, object] = dict(
        principal_minor=[100], annual_rate_units=[100], rate_scale=4, term_months=[12], method=[0],
        start_days=[20_000], day_count=[0], calendar=[0], payment_day=[0], upfront_fee_minor=[0],
        instalment_fee_minor=[0], currency="CNY",
    )  # fmt: skip
    columns[column] = value
    with pytest.raises(InvalidInput) as raised:
        LoanBook.from_columns(**columns)
    assert raised.value.code == code


def test_book_rejects_missing_or_unknown_columns_and_wrong_dtypes() -> None:
    with pytest.raises(InvalidInput, match="batch_invalid"):
        LoanBook.from_columns(principal_minor=[100], currency="CNY")
    book = build_schedules_batch([loan()]).book
    with pytest.raises(InvalidInput, match="batch_invalid"):
        LoanBook(
            **{
                **{n: getattr(book, n) for n in book.__slots__},
                "term_months": book.term_months.astype(np.int32),
            }
        )


def test_batch_rejects_bad_batches() -> None:
    with pytest.raises(InvalidInput, match="batch_size_invalid"):
        build_schedules_batch([])
    with pytest.raises(InvalidInput, match="currency_mismatch"):
        build_schedules_batch([loan(), LoanTerms(Money(100, "USD"), Decimal(0), 2, BULLET, date(2026, 1, 1))])
    with pytest.raises(InvalidInput, match="batch_size_invalid"):
        build_schedules_batch([loan()], chunk_loans=0)
    with pytest.raises(InvalidInput, match="batch_index_invalid"):
        build_schedules_batch([loan()]).schedule(1)
