"""Loans through origination and the ledger, on SQLite and PostgreSQL.

Each test applies, accepts, services and repays real loans on a fresh bank
and checks the ledger to the minor unit: the loan's receivable always holds
what the customer owes, and the ledger still verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict
from netfin.core.money import Money
from netfin.credit.loans import Loan, LoanService, LoanStatus
from netfin.credit.origination import Application, ApplicationStatus, Decision
from netfin.credit.pricing import EsgEvidence
from netfin.credit.products import RepaymentMethod
from netfin.identity.model import Actor, PartyKind

OPERATOR = Actor("operator", "operator-1")
DAY_NS = 86_400 * 10**9


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    try:
        yield opened
        assert opened.ledger.verify().ok
    finally:
        opened.close()


def _customer(bank: Bank, phone: str, *, kyc: int = 2, funds: int = 0) -> tuple[int, str]:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name="Li Lei", phone=phone)
    for evidence in ("remote_id_check", "bank_card", "in_person_check")[: kyc - 1]:
        bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=evidence, reference="ref-1")
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    if funds:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds)
    return party.party_id, account.account_id


def _apply(bank: Bank, party: int, product: str = "personal_instalment", **kw: object) -> object:
    fields: dict[str, object] = {
        "amount": Money(1_200_000, "CNY"),
        "term": 12,
        "monthly_income": Money(1_500_000, "CNY"),
    }
    fields.update(kw)
    return bank.origination.apply(
        Actor("customer", str(party)), Application(party_id=party, product=product, **fields)
    )  # type: ignore[arg-type]


def _owed_by_ledger(bank: Bank, loan: Loan) -> int:
    [account] = bank.ledger.lookup_accounts([loan.ledger_account_id])
    return account.debits_posted - account.credits_posted


def _balance(bank: Bank, account_id: str) -> int:
    [account] = bank.ledger.lookup_accounts([bank.identity.get_account(account_id).ledger_account_id])
    return account.credits_posted - account.debits_posted


def _bank_balance(bank: Bank, purpose: str) -> int:
    [account] = bank.ledger.lookup_accounts([bank.identity.bank_account("CNY", purpose)])
    return account.credits_posted - account.debits_posted


def test_an_instalment_loan_from_application_to_first_repayment(bank: Bank, clock: ManualClock) -> None:
    party, account = _customer(bank, "+8613800000001")
    outcome = _apply(bank, party, method=RepaymentMethod.ANNUITY)
    assert outcome.decision is Decision.APPROVE and outcome.offer is not None  # type: ignore[attr-defined]
    loan = bank.loans.accept(
        Actor("customer", str(party)),
        outcome.application_id,
        party_id=party,  # type: ignore[attr-defined]
        settlement_account_id=account,
    )
    assert _balance(bank, account) == 1_200_000 and _owed_by_ledger(bank, loan) == loan.owed() == 1_200_000
    first = loan.position.instalments[0]
    clock.set(clock.now_ns() + (first.due - date(2026, 1, 1)).days * DAY_NS)
    serviced = bank.loans.service(OPERATOR, loan.loan_id)
    assert _owed_by_ledger(bank, serviced) == serviced.owed() == 1_200_000 + first.interest + first.fee
    assert _bank_balance(bank, "interest_income") == first.interest
    bank.identity.deposit_cash(OPERATOR, account, first.fee)  # the arrangement fee on top of the loan
    paid, allocation = bank.loans.repay(
        Actor("customer", str(party)),
        loan.loan_id,
        first.principal + first.interest + first.fee,
        party_id=party,
    )
    assert allocation.early_repayment == 0 and paid.bucket == "current" and paid.status is LoanStatus.ACTIVE
    assert _owed_by_ledger(bank, paid) == paid.owed() == 1_200_000 - first.principal


def test_late_payment_accrues_penalty_then_write_off_and_recovery(bank: Bank, clock: ManualClock) -> None:
    party, account = _customer(bank, "+8613800000002")
    outcome = _apply(bank, party)
    loan = bank.loans.accept(OPERATOR, outcome.application_id, party_id=party, settlement_account_id=account)  # type: ignore[attr-defined]
    clock.advance(seconds=80 * 86_400)
    late = bank.loans.service(OPERATOR, loan.loan_id)
    assert late.bucket == "M2" and late.dpd > 30 and late.position.outstanding("penalty") > 0
    assert _owed_by_ledger(bank, late) == late.owed()
    assert _bank_balance(bank, "penalty_income") == late.position.outstanding("penalty")
    written = bank.loans.write_off(OPERATOR, loan.loan_id, reason="uncollectable after 80 days")
    assert written.status is LoanStatus.WRITTEN_OFF and _owed_by_ledger(bank, written) == 0
    assert -_bank_balance(bank, "loan_loss") == late.owed()
    bank.loans.recover(OPERATOR, loan.loan_id, 50_000, from_account_id=account)
    assert _bank_balance(bank, "recovery_income") == 50_000


def test_bnpl_pays_the_merchant_less_its_fee_and_charges_no_interest(bank: Bank) -> None:
    party, account = _customer(bank, "+8613800000003", funds=20_000)
    _, shop = _customer(bank, "+8613800000004")
    outcome = _apply(bank, party, "checkout_bnpl", amount=Money(120_000, "CNY"), term=6)
    loan = bank.loans.accept(
        OPERATOR,
        outcome.application_id,
        party_id=party,  # type: ignore[attr-defined]
        settlement_account_id=account,
        merchant_account_id=shop,
        down_payment_minor=20_000,
    )
    assert _balance(bank, shop) == 120_000 - 3_000  # 2.5 % merchant fee
    assert _bank_balance(bank, "fee_income") == 3_000 and _balance(bank, account) == 0
    assert loan.owed() == _owed_by_ledger(bank, loan) == 100_000
    assert [i.interest for i in loan.position.instalments] == [0] * 6
    assert sum(i.principal for i in loan.position.instalments) == 100_000


def test_a_refused_disbursement_moves_nothing_and_voids_the_contract(bank: Bank) -> None:
    party, account = _customer(bank, "+8613800000005")  # no money for the down payment
    _, shop = _customer(bank, "+8613800000006")
    outcome = _apply(bank, party, "checkout_bnpl", amount=Money(120_000, "CNY"), term=3)
    with pytest.raises(Conflict, match="refused"):
        bank.loans.accept(
            OPERATOR,
            outcome.application_id,
            party_id=party,  # type: ignore[attr-defined]
            settlement_account_id=account,
            merchant_account_id=shop,
            down_payment_minor=20_000,
        )
    assert _balance(bank, shop) == 0
    [loan] = bank.loans.loans_of(party)
    assert loan.status.value == "cancelled"


def test_early_repayment_in_full_closes_the_loan(bank: Bank, clock: ManualClock) -> None:
    party, account = _customer(bank, "+8613800000007", funds=100_000)
    outcome = _apply(bank, party, term=6)
    loan = bank.loans.accept(OPERATOR, outcome.application_id, party_id=party, settlement_account_id=account)  # type: ignore[attr-defined]
    clock.advance(seconds=10 * 86_400)
    closed, allocation = bank.loans.repay(OPERATOR, loan.loan_id, 1_290_000, party_id=party)
    assert closed.status is LoanStatus.CLOSED and _owed_by_ledger(bank, closed) == 0
    parts = allocation.by_component()
    assert parts["prepaid_principal"] == 1_200_000 and parts["accrued_interest"] > 0
    assert _balance(bank, account) == 1_300_000 - 1_290_000 + allocation.unapplied


def test_declines_say_why_and_an_offer_is_accepted_once(bank: Bank) -> None:
    party, _ = _customer(bank, "+8613800000008", kyc=1)
    outcome = _apply(bank, party)
    assert outcome.status is ApplicationStatus.DECLINED and "kyc_level_insufficient" in outcome.reasons  # type: ignore[attr-defined]
    rich, rich_account = _customer(bank, "+8613800000009")
    too_much = _apply(bank, rich, amount=Money(9_000_000, "CNY"))
    assert "amount_above_kyc_limit" in too_much.reasons  # type: ignore[attr-defined]
    ok = _apply(bank, rich)
    bank.loans.accept(OPERATOR, ok.application_id, party_id=rich, settlement_account_id=rich_account)  # type: ignore[attr-defined]
    with pytest.raises(Conflict):
        bank.loans.accept(OPERATOR, ok.application_id, party_id=rich, settlement_account_id=rich_account)  # type: ignore[attr-defined]


def test_green_evidence_lowers_the_rate_and_the_reason_shows_it(bank: Bank) -> None:
    party, _ = _customer(bank, "+8613800000010", kyc=3)
    plain = _apply(bank, party, "green_sme_instalment", amount=Money(2_000_000, "CNY"))
    green = _apply(
        bank,
        party,
        "green_sme_instalment",
        amount=Money(2_000_000, "CNY"),
        esg=EsgEvidence(score=Decimal(90), source="carbon account"),
    )
    assert green.price.annual_rate == plain.price.annual_rate - Decimal("0.0040")  # type: ignore[attr-defined]
    assert [r.code for r in green.price.reasons][-1] == "green_discount"  # type: ignore[attr-defined]


def test_a_crash_between_the_ledger_and_the_loan_is_finished_by_recovery(
    bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    party, account = _customer(bank, "+8613800000011", funds=100_000)
    outcome = _apply(bank, party)
    loan = bank.loans.accept(OPERATOR, outcome.application_id, party_id=party, settlement_account_id=account)  # type: ignore[attr-defined]
    finish = LoanService.finish_event

    def power_cut(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(LoanService, "finish_event", power_cut)
    with pytest.raises(RuntimeError):
        bank.loans.repay(OPERATOR, loan.loan_id, 50_000, party_id=party)
    monkeypatch.setattr(LoanService, "finish_event", finish)
    stale = bank.loans.get(loan.loan_id)
    assert _owed_by_ledger(bank, stale) == stale.owed() - 50_000  # the money moved, the loan not yet
    with pytest.raises(Conflict):  # nothing else may change the loan meanwhile
        bank.loans.repay(OPERATOR, loan.loan_id, 1_000, party_id=party)
    assert bank.loans.recover_events() == 1
    fixed = bank.loans.get(loan.loan_id)
    assert _owed_by_ledger(bank, fixed) == fixed.owed() == 1_150_000
    assert [e["status"] for e in bank.loans.events(loan.loan_id)] == ["booked", "booked"]
