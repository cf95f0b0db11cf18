"""Loan terms and positions to JSON and back, exactly (ints stay ints, rates stay decimal strings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from netfin.core.errors import InvalidInput
from netfin.core.money import Money
from netfin.credit.products import BNPLPlan, DayCount, Fee, FeeTiming, LoanTerms, RepaymentMethod
from netfin.credit.schedule import Schedule
from netfin.credit.servicing import InstalmentPosition, LoanPosition


def _money(m: Money | None) -> list[Any] | None:
    return None if m is None else [m.amount_minor, m.currency]


def _unmoney(v: Any) -> Money | None:
    return None if v is None else Money(int(v[0]), str(v[1]))


def terms_to_json(terms: LoanTerms | BNPLPlan) -> dict[str, Any]:
    if isinstance(terms, BNPLPlan):
        return {
            "kind": "bnpl",
            "price": _money(terms.price),
            "instalments": terms.instalments,
            "down_payment": _money(terms.down_payment),
            "merchant_fee_rate": str(terms.merchant_fee_rate),
            "interval_days": terms.interval_days,
            "calendar": terms.calendar,
        }
    return {
        "kind": "loan",
        "principal": _money(terms.principal),
        "annual_rate": str(terms.annual_rate),
        "term_months": terms.term_months,
        "method": terms.method.value,
        "start": terms.start.isoformat(),
        "day_count": terms.day_count.value,
        "calendar": terms.calendar,
        "payment_day": terms.payment_day,
        "fees": [
            {"code": f.code, "amount": _money(f.amount), "rate": str(f.rate), "timing": f.timing.value}
            for f in terms.fees
        ],
        "penalty_rate": str(terms.penalty_rate),
        "grace_days": terms.grace_days,
    }


def terms_from_json(d: dict[str, Any]) -> LoanTerms | BNPLPlan:
    if d.get("kind") == "bnpl":
        price = _unmoney(d["price"])
        if price is None:
            raise InvalidInput("stored BNPL terms lack a price", code="terms_invalid")
        return BNPLPlan(
            price=price,
            instalments=int(d["instalments"]),
            down_payment=_unmoney(d["down_payment"]),
            merchant_fee_rate=Decimal(d["merchant_fee_rate"]),
            interval_days=d["interval_days"],
            calendar=d["calendar"],
        )
    principal = _unmoney(d["principal"])
    if principal is None:
        raise InvalidInput("stored loan terms lack a principal", code="terms_invalid")
    return LoanTerms(
        principal=principal,
        annual_rate=Decimal(d["annual_rate"]),
        term_months=int(d["term_months"]),
        method=RepaymentMethod(d["method"]),
        start=date.fromisoformat(d["start"]),
        day_count=DayCount(d["day_count"]),
        calendar=d["calendar"],
        payment_day=d["payment_day"],
        fees=tuple(
            Fee(
                code=f["code"],
                amount=_unmoney(f["amount"]),
                rate=Decimal(f["rate"]),
                timing=FeeTiming(f["timing"]),
            )
            for f in d["fees"]
        ),
        penalty_rate=Decimal(d["penalty_rate"]),
        grace_days=int(d["grace_days"]),
    )


_INSTALMENT_INTS = (
    "seq",
    "principal",
    "interest",
    "fee",
    "penalty",
    "principal_paid",
    "interest_paid",
    "fee_paid",
    "penalty_paid",
)


def position_to_json(p: LoanPosition) -> dict[str, Any]:
    return {
        "as_of": p.as_of.isoformat(),
        "level": p.level,
        "instalments": [
            {
                **{k: getattr(i, k) for k in _INSTALMENT_INTS},
                "due": i.due.isoformat(),
                "period_start": i.period_start.isoformat(),
                "penalty_accrued_to": None
                if i.penalty_accrued_to is None
                else i.penalty_accrued_to.isoformat(),
            }
            for i in p.instalments
        ],
    }


def position_from_json(terms: LoanTerms | BNPLPlan, d: dict[str, Any]) -> LoanPosition:
    items = tuple(
        InstalmentPosition(
            **{k: int(i[k]) for k in _INSTALMENT_INTS},
            due=date.fromisoformat(i["due"]),
            period_start=date.fromisoformat(i["period_start"]),
            penalty_accrued_to=None
            if i["penalty_accrued_to"] is None
            else date.fromisoformat(i["penalty_accrued_to"]),
        )
        for i in d["instalments"]
    )
    return LoanPosition(terms, date.fromisoformat(d["as_of"]), items, int(d["level"]))


def schedule_to_json(schedule: Schedule) -> list[dict[str, Any]]:
    return [
        {
            "seq": i.seq,
            "due": i.due.isoformat(),
            "principal": i.principal,
            "interest": i.interest,
            "fee": i.fee,
            "total": i.total,
            "opening_balance": i.opening_balance,
            "closing_balance": i.closing_balance,
        }
        for i in schedule.instalments
    ]
