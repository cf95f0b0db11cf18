"""``/v1/credit``: applications and offers, loans and lines for customers; BNPL at a partner's checkout.

Customers apply, accept offers, see their loans and lines and repay them in
their own session; a party only ever sees its own applications, loans and
lines (another's are "not found"). A partner (a TPP with the ``payments``
scope) asks for a BNPL decision at its checkout under the customer's
authorised account-access consent: the decision and the offer come back at
once; the customer accepts in the bank's own session, and the merchant is
paid by the ledger in the same chain that opens the loan. Staff read the
book; a risk analyst writes a loan off, with a reason. Every step is audited
by the services.

Amounts in requests are decimal strings with their currency (never floats);
amounts in responses are integer minor units in fields named ``*_minor``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import Field
from starlette.responses import Response

from netfin.api import deps
from netfin.api.deps import BankDep, Customer, Principal
from netfin.api.v1.render import json_response
from netfin.api.v1.schemas import AmountText, Currency, Strict
from netfin.core.errors import Forbidden, NotFound
from netfin.core.ids import format_id
from netfin.core.money import Money
from netfin.credit.origination import Application
from netfin.credit.pricing import EsgEvidence
from netfin.credit.products import RepaymentMethod
from netfin.identity.consents import ConsentKind
from netfin.identity.consents.model import require_usable
from netfin.identity.model import Actor, Role
from netfin.openbanking.service import TppAccess
from netfin.payments import parse_amount

router = APIRouter(prefix="/v1/credit", tags=["credit"])
Partner = Annotated[TppAccess, Depends(deps.tpp("payments"))]
Staff = Annotated[Principal, Depends(deps.session(Role.OPERATOR, Role.RISK_ANALYST, Role.AUDITOR))]
Analyst = Annotated[Principal, Depends(deps.session(Role.RISK_ANALYST))]
IdPath = Annotated[str, PathParam(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
AccountId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


class EsgIn(Strict):
    score: Annotated[Decimal | None, Field(ge=0, le=100)] = None
    carbon_intensity: Annotated[Decimal | None, Field(ge=0, le=10**9)] = None
    sector_benchmark: Annotated[Decimal | None, Field(gt=0, le=10**9)] = None
    source: Annotated[str, Field(max_length=80)] = ""


class ApplicationIn(Strict):
    product: Annotated[str, Field(min_length=1, max_length=40)]
    amount: AmountText
    currency: Currency
    term: Annotated[int, Field(ge=1, le=360)]
    method: Literal["annuity", "equal_principal", "bullet"] | None = None
    monthly_income: AmountText | None = None
    other_debt_payments: AmountText | None = None
    esg: EsgIn | None = None


class AcceptIn(Strict):
    settlement_account_id: AccountId


class MoneyIn(Strict):
    amount: AmountText
    currency: Currency


class RepaymentIn(MoneyIn):
    from_account_id: AccountId | None = None
    mode: Literal["shorten_term", "reduce_instalment"] = "shorten_term"


class BnplOfferIn(Strict):
    consent_id: Annotated[str, Field(min_length=1, max_length=128)]
    price: AmountText
    currency: Currency
    instalments: Annotated[int, Field(ge=2, le=24)]
    merchant_account_id: AccountId
    down_payment: AmountText | None = None
    product: Annotated[str, Field(min_length=1, max_length=40)] = "checkout_bnpl"


class WriteOffIn(Strict):
    reason: Annotated[str, Field(min_length=3, max_length=200)]


def _actor(principal: Principal) -> Actor:
    return Actor(principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def _money(text: str | None, currency: str) -> Money | None:
    return None if text is None else Money(parse_amount(text, currency), currency)


def _required(text: str, currency: str) -> Money:
    return Money(parse_amount(text, currency), currency)


def _esg(body: EsgIn | None) -> EsgEvidence | None:
    if body is None:
        return None
    return EsgEvidence(body.score, body.carbon_intensity, body.sector_benchmark, body.source)


@router.post("/applications", status_code=201)
def apply(body: ApplicationIn, principal: Customer, bank: BankDep) -> Response:
    """Apply for a product; the decision, its reasons and (if approved) the offer come back at once."""
    amount = _required(body.amount, body.currency)
    application = Application(
        party_id=principal.party_id,
        product=body.product,
        amount=amount,
        term=body.term,
        monthly_income=_money(body.monthly_income, body.currency),
        method=None if body.method is None else RepaymentMethod(body.method),
        other_debt_payments=_money(body.other_debt_payments, body.currency),
        esg=_esg(body.esg),
    )
    outcome = bank.origination.apply(_actor(principal), application)
    return json_response(201, outcome.to_json())


@router.get("/applications/{application_id}")
def get_application(application_id: IdPath, principal: Customer, bank: BankDep) -> Response:
    return json_response(200, _application_json(bank, application_id, principal.party_id))


def _application_json(bank: BankDep, application_id: str, party_id: int) -> dict[str, Any]:
    row = bank.origination.get(application_id)
    if row["party_id"] != format_id(party_id):
        raise NotFound("no such credit application", code="credit_application_not_found")
    keys = (
        "application_id",
        "product",
        "kind",
        "channel",
        "amount_minor",
        "currency",
        "term",
        "method",
        "status",
        "grade",
        "points",
        "reasons",
        "price",
        "offer",
        "loan_id",
    )
    return {k: row[k] for k in keys}


@router.post("/applications/{application_id}/accept", status_code=201)
def accept(application_id: IdPath, body: AcceptIn, principal: Customer, bank: BankDep) -> Response:
    """Accept an approved offer: the contract is made and the money moves (a line: its limit opens)."""
    kind = bank.origination.get(application_id)["kind"]
    actor = _actor(principal)
    if kind == "revolving":
        line = bank.credit_lines.open(
            actor,
            application_id,
            party_id=principal.party_id,
            settlement_account_id=body.settlement_account_id,
        )
        return json_response(201, line.as_dict())
    loan = bank.loans.accept(
        actor, application_id, party_id=principal.party_id, settlement_account_id=body.settlement_account_id
    )
    return json_response(201, loan.as_dict())


@router.get("/loans")
def list_loans(principal: Customer, bank: BankDep) -> Response:
    loans = bank.loans.loans_of(principal.party_id)
    return json_response(200, {"loans": [_summary(loan.as_dict()) for loan in loans]})


def _summary(loan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in loan.items() if k not in ("schedule", "position")}


@router.get("/loans/{loan_id}")
def get_loan(loan_id: IdPath, principal: Customer, bank: BankDep) -> Response:
    """The loan with its schedule and what is paid of each instalment."""
    return json_response(200, bank.loans.get_for(loan_id, principal.party_id).as_dict())


@router.post("/loans/{loan_id}/repayments", status_code=201)
def repay_loan(loan_id: IdPath, body: RepaymentIn, principal: Customer, bank: BankDep) -> Response:
    amount = parse_amount(body.amount, body.currency)
    loan, allocation = bank.loans.repay(
        _actor(principal),
        loan_id,
        amount,
        party_id=principal.party_id,
        from_account_id=body.from_account_id,
        mode=body.mode,
    )
    parts = allocation.by_component()
    return json_response(
        201,
        {
            "loan": _summary(loan.as_dict()),
            "allocation_minor": parts,
            "unapplied_minor": allocation.unapplied,
        },
    )


@router.get("/lines")
def list_lines(principal: Customer, bank: BankDep) -> Response:
    return json_response(
        200, {"lines": [line.as_dict() for line in bank.credit_lines.lines_of(principal.party_id)]}
    )


@router.post("/lines/{line_id}/draws", status_code=201)
def draw(line_id: IdPath, body: MoneyIn, principal: Customer, bank: BankDep) -> Response:
    amount = parse_amount(body.amount, body.currency)
    line = bank.credit_lines.draw(_actor(principal), line_id, amount, party_id=principal.party_id)
    return json_response(201, line.as_dict())


@router.post("/lines/{line_id}/repayments", status_code=201)
def repay_line(line_id: IdPath, body: RepaymentIn, principal: Customer, bank: BankDep) -> Response:
    amount = parse_amount(body.amount, body.currency)
    line = bank.credit_lines.repay(
        _actor(principal), line_id, amount, party_id=principal.party_id, from_account_id=body.from_account_id
    )
    return json_response(201, line.as_dict())


@router.post("/bnpl/offers", status_code=201)
def bnpl_offer(body: BnplOfferIn, access: Partner, bank: BankDep) -> Response:
    """A partner's checkout asks whether its customer may pay later; the customer accepts at the bank."""
    consent = bank.consents.get(body.consent_id)
    require_usable(
        consent, client_id=access.client_id, kind=ConsentKind.ACCOUNT_ACCESS, now_ns=bank.clock.now_ns()
    )
    if consent.party_id is None:
        raise Forbidden("the consent is not authorised by a customer", code="consent_not_authorised")
    price = _required(body.price, body.currency)
    application = Application(
        party_id=consent.party_id,
        product=body.product,
        amount=price,
        term=body.instalments,
        monthly_income=None,
        channel="partner",
        client_id=access.client_id,
        merchant_account_id=body.merchant_account_id,
        down_payment=_money(body.down_payment, body.currency),
    )
    actor = Actor("tpp", access.client_id, consent.consent_id, access.interaction_id)
    outcome = bank.origination.apply(actor, application)
    # The partner learns the decision and the offer; the score and the reasons are the customer's.
    public = {k: v for k, v in outcome.to_json().items() if k not in ("points", "grade", "reasons", "price")}
    return json_response(201, public)


@router.get("/book")
def book(principal: Staff, bank: BankDep) -> Response:
    """Loans by status and delinquency bucket (the arrears report)."""
    return json_response(200, {"loans": bank.loans.book_totals()})


@router.post("/loans/{loan_id}/write-off", status_code=201)
def write_off(loan_id: IdPath, body: WriteOffIn, principal: Analyst, bank: BankDep) -> Response:
    loan = bank.loans.write_off(_actor(principal), loan_id, reason=body.reason)
    return json_response(201, _summary(loan.as_dict()))
