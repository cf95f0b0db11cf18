"""Loan, BNPL and revolving-line terms: validation codes, fees, the merchant's fee."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

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
    merchant_fee,
    merchant_settlement,
    round_half_even,
)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def terms(**changes: object) -> LoanTerms:
    base = LoanTerms(cny(1_000_000), Decimal("0.12"), 12, RepaymentMethod.ANNUITY, date(2026, 1, 15))
    return replace(base, **changes)


def test_defaults_are_the_chinese_bank_conventions() -> None:
    loan = terms()
    assert (loan.day_count, loan.calendar, loan.payment_day, loan.grace_days) == (
        DayCount.ACT_360,
        "china",
        None,
        0,
    )
    assert loan.currency == "CNY"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"principal": cny(0)}, "amount_out_of_range"),
        ({"principal": cny(-5)}, "amount_out_of_range"),
        ({"principal": 100}, "amount_not_money"),
        ({"annual_rate": Decimal("-0.01")}, "rate_out_of_range"),
        ({"annual_rate": Decimal("1.0001")}, "rate_out_of_range"),
        ({"annual_rate": 0.12}, "rate_not_decimal"),
        ({"annual_rate": Decimal("NaN")}, "rate_not_decimal"),
        ({"annual_rate": Decimal("0.12345678901")}, "rate_too_precise"),
        ({"term_months": 0}, "term_months_out_of_range"),
        ({"term_months": 361}, "term_months_out_of_range"),
        ({"term_months": True}, "term_months_out_of_range"),
        ({"method": "annuity"}, "method_invalid"),
        ({"start": datetime(2026, 1, 15, 9)}, "date_invalid"),
        ({"start": date(1900, 1, 1)}, "date_out_of_range"),
        ({"day_count": "act_360"}, "day_count_invalid"),
        ({"calendar": "mars"}, "calendar_unknown"),
        ({"payment_day": 32}, "payment_day_out_of_range"),
        ({"payment_day": 0}, "payment_day_out_of_range"),
        ({"penalty_rate": Decimal(2)}, "rate_out_of_range"),
        ({"grace_days": 91}, "grace_days_out_of_range"),
        ({"fees": [Fee("x")]}, "fees_invalid"),
        ({"fees": tuple(Fee(f"f{i}") for i in range(9))}, "fees_invalid"),
        ({"fees": (Fee("x", Money(100, "USD")),)}, "currency_mismatch"),
    ],
)
def test_loan_terms_reject_bad_input(changes: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        terms(**changes)
    assert raised.value.code == code


def test_rates_accept_the_bounds() -> None:
    assert terms(annual_rate=Decimal(0)).annual_rate == 0
    assert terms(annual_rate=Decimal(1)).annual_rate == 1
    assert terms(annual_rate=Decimal("0.1234567890")).annual_rate == Decimal("0.123456789")


def test_fees_fixed_plus_rate_half_even() -> None:
    fees = (
        Fee("arrangement", cny(5_000)),
        Fee("service", rate=Decimal("0.0025"), timing=FeeTiming.EACH),
        Fee("insurance", cny(100), rate=Decimal("0.00005"), timing=FeeTiming.EACH),
    )
    loan = terms(principal=cny(1_230_000), fees=fees)
    # 1,230,000 × 0.0025 = 3075; 1,230,000 × 0.00005 = 61.5 -> 62 (half-even), + 100
    assert loan.fee_amounts() == (5_000, 3_075 + 162)


def test_fee_rejects_bad_codes_and_rates() -> None:
    for bad in ("", "x" * 33):
        with pytest.raises(InvalidInput, match="fee_code_invalid"):
            Fee(bad)
    with pytest.raises(InvalidInput, match="rate_out_of_range"):
        Fee("f", rate=Decimal("1.5"))
    with pytest.raises(InvalidInput, match="fee_timing_invalid"):
        Fee("f", timing="each")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (-7, 2, -4), (1, 3, 0), (2, 3, 1), (0, 7, 0), (25, 10, 2)],
)
def test_round_half_even(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_even(numerator, denominator) == expected


def test_bnpl_plan_financed_amount_and_merchant_fee() -> None:
    plan = BNPLPlan(
        cny(129_900), 4, down_payment=cny(29_900), merchant_fee_rate=Decimal("0.035"), interval_days=14
    )
    assert plan.financed_minor == 100_000
    assert merchant_fee(plan) == 4_546  # 129,900 × 0.035 = 4,546.5 -> 4,546 (half-even)
    assert merchant_settlement(plan) == 129_900 - 4_546


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"instalments": 1}, "instalments_out_of_range"),
        ({"instalments": 25}, "instalments_out_of_range"),
        ({"down_payment": cny(50_000)}, "down_payment_too_large"),
        ({"down_payment": Money(100, "USD")}, "currency_mismatch"),
        ({"merchant_fee_rate": Decimal(1)}, "rate_out_of_range"),
        ({"interval_days": 7}, "interval_days_out_of_range"),
        ({"calendar": "nyse"}, "calendar_unknown"),
    ],
)
def test_bnpl_plan_rejects_bad_input(changes: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        replace(BNPLPlan(cny(50_000), 3), **changes)
    assert raised.value.code == code


def revolving(**changes: object) -> RevolvingLineTerms:
    base = RevolvingLineTerms(
        limit=cny(2_000_000),
        annual_rate=Decimal("0.18"),
        min_payment_rate=Decimal("0.10"),
        min_payment_floor=cny(10_000),
        limit_floor=cny(500_000),
        limit_ceiling=cny(5_000_000),
    )
    return replace(base, **changes)


def test_revolving_limit_stays_in_its_band() -> None:
    line = revolving()
    assert line.clamp_limit(9_000_000) == cny(5_000_000)
    assert line.clamp_limit(100) == cny(500_000)
    assert line.with_limit(cny(3_000_000)).limit == cny(3_000_000)
    with pytest.raises(InvalidInput, match="limit_out_of_band"):
        line.with_limit(cny(6_000_000))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"day_count": DayCount.THIRTY_360}, "day_count_unsupported"),
        ({"min_payment_floor": Money(1, "USD")}, "currency_mismatch"),
        ({"limit_floor": cny(3_000_000)}, "limit_out_of_band"),
        ({"min_payment_rate": Decimal("1.1")}, "rate_out_of_range"),
    ],
)
def test_revolving_terms_reject_bad_input(changes: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        revolving(**changes)
    assert raised.value.code == code
