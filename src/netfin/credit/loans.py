"""Loans on the ledger: contract, disbursement, dues, penalties, repayment, write-off and recovery.

Each loan has one ledger account of its own, the receivable (code 400, flag
``credits_must_not_exceed_debits``: nobody can repay more than was lent and
charged). Income is recognised when it is earned, so the receivable's balance
is always what the customer owes today:

==========================  =========================================  ==========================
event                       debit                                      credit
==========================  =========================================  ==========================
disbursement (loan)         receivable                                 customer's account
BNPL checkout               customer (down payment) · receivable       merchant · merchant · fee
                            (financed − merchant fee) · receivable     income
                            (merchant fee)
an instalment falls due     receivable (interest, fee)                 interest / fee income
penalty accrues             receivable                                 penalty income
repayment                   customer's account                         receivable
early repayment             receivable (accrued interest, prepayment   interest / fee income;
                            fee), then the repayment as above          receivable
write-off                   loan loss                                  receivable
recovery                    customer's account                         recovery income
==========================  =========================================  ==========================

Invariant (tested): the receivable's debits minus credits equal the
position's outstanding principal plus the interest and fees of instalments
due plus penalties, to the minor unit.

Every change of a loan is an event computed from one loan version. The event
row (with its transfers' ids and the new position) is written first; its
``(loan_id, base_version)`` key is unique, so two concurrent changes of one
loan cannot both book. The ledger chain is linked (all or nothing); then the
loan row moves to the new version. A refused chain records the event
``rejected`` and raises; a crash in between is finished by ``recover``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import utc_date
from netfin.core.errors import Conflict, Forbidden, InvalidInput, NotFound, invariant
from netfin.core.ids import format_id
from netfin.core.money import Money
from netfin.credit.booking import (
    ContractBook,
    Planned,
    claim_offer,
    open_offer,
    usable_account,
)
from netfin.credit.origination import Application, loan_terms
from netfin.credit.products import BNPLPlan, LoanTerms, RepaymentMethod, merchant_fee
from netfin.credit.schedule import Schedule, build_bnpl_schedule, build_schedule
from netfin.credit.serialise import (
    position_from_json,
    position_to_json,
    schedule_to_json,
    terms_from_json,
    terms_to_json,
)
from netfin.credit.servicing import (
    Allocation,
    LoanPosition,
    PrepaymentMode,
    accrue_penalty,
    allocate,
    days_past_due,
    delinquency_bucket,
    early_repayment,
    write_off,
)
from netfin.credit.store import credit_applications, credit_loan_events, credit_loans
from netfin.identity.model import Actor, CustomerAccount
from netfin.ledger import (
    Account,
    AccountFlags,
    CreateAccountResult,
)

CODE_LOAN_RECEIVABLE = 400
CODE_LOAN_DISBURSEMENT = 401
CODE_LOAN_INTEREST = 402
CODE_LOAN_FEE = 403
CODE_LOAN_PENALTY = 404
CODE_LOAN_REPAYMENT = 405
CODE_LOAN_WRITE_OFF = 406
CODE_LOAN_RECOVERY = 407
CODE_BNPL_MERCHANT = 408
CODE_BNPL_DOWN_PAYMENT = 409
CODE_BNPL_MERCHANT_FEE = 410
SERVICE_BATCH_MAX = 1_000
REPAYMENT_MINOR_MAX = 10**15


class LoanStatus(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"
    CANCELLED = "cancelled"  # the disbursement was refused: no money moved


@dataclass(frozen=True, slots=True)
class Loan:
    loan_id: str
    application_id: str
    party_id: str
    product: str
    kind: str
    currency: str
    principal_minor: int
    annual_rate: str
    ledger_account_id: int
    settlement_account_id: str
    merchant_account_id: str | None
    terms: LoanTerms | BNPLPlan
    schedule: list[dict[str, Any]]
    position: LoanPosition
    recognised_seq: int  # interest and fees of instalments up to this one are booked
    penalty_booked: int
    status: LoanStatus
    dpd: int
    bucket: str
    version: int

    def owed(self) -> int:
        """What the receivable should hold: outstanding principal, dues recognised, penalties."""
        p = self.position
        recognised = [i for i in p.instalments if i.seq <= self.recognised_seq]
        return (
            p.outstanding("principal")
            + sum(i.outstanding("interest") + i.outstanding("fee") for i in recognised)
            + p.outstanding("penalty")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "application_id": self.application_id,
            "product": self.product,
            "kind": self.kind,
            "currency": self.currency,
            "principal_minor": self.principal_minor,
            "annual_rate": self.annual_rate,
            "settlement_account_id": self.settlement_account_id,
            "status": self.status.value,
            "days_past_due": self.dpd,
            "bucket": self.bucket,
            "as_of": self.position.as_of.isoformat(),
            "owed_minor": self.owed(),
            "next_payment_minor": _next_payment(self.position),
            "schedule": self.schedule,
            "position": position_to_json(self.position)["instalments"],
        }


def _next_payment(p: LoanPosition) -> int:
    for item in p.instalments:
        owed = item.scheduled_outstanding + item.outstanding("penalty")
        if owed > 0:
            return owed
    return 0


class LoanService(ContractBook):
    table, key, subject_kind, action = credit_loans, "loan_id", "loan", "credit.loan"

    # -- contract and disbursement -------------------------------------------

    def accept(
        self,
        actor: Actor,
        application_id: str,
        *,
        party_id: int,
        settlement_account_id: str,
        merchant_account_id: str | None = None,
        down_payment_minor: int = 0,
    ) -> Loan:
        """The customer accepts an approved offer: the contract is made and the money moves."""
        app = open_offer(self.engine, application_id, party_id, self.clock.now_ns())
        product = self.profile.product(app["product"])
        settlement = self._account(settlement_account_id, app["currency"], "settlement")
        if settlement.party_id != party_id:
            raise Forbidden("the settlement account is not the applicant's", code="account_not_owned")
        start = utc_date(self.clock.now_ns())
        amount = Money(int(app["amount_minor"]), app["currency"])
        terms: LoanTerms | BNPLPlan
        if product.kind == "bnpl":
            offer = app["offer"] or {}
            merchant_account_id = merchant_account_id or offer.get("merchant_account_id")
            down_payment_minor = down_payment_minor or int(offer.get("down_payment_minor") or 0)
            if merchant_account_id is None:
                raise InvalidInput(
                    "a BNPL checkout pays a merchant account", code="merchant_account_required"
                )
            self._account(merchant_account_id, app["currency"], "merchant")
            down = Money(down_payment_minor, app["currency"]) if down_payment_minor else None
            terms = BNPLPlan(
                price=amount,
                instalments=int(app["term"]),
                down_payment=down,
                merchant_fee_rate=product.merchant_fee_rate,
            )
            schedule = build_bnpl_schedule(terms, start)
        else:
            rate = app["price"]["annual_rate"]
            from decimal import Decimal

            terms = loan_terms(
                product, amount, int(app["term"]), RepaymentMethod(app["method"]), Decimal(rate), start
            )
            schedule = build_schedule(terms)
        return self._open(actor, app, product.kind, terms, schedule, settlement, merchant_account_id, start)

    def _open(
        self,
        actor: Actor,
        app: dict[str, Any],
        kind: str,
        terms: LoanTerms | BNPLPlan,
        schedule: Schedule,
        settlement: CustomerAccount,
        merchant_account_id: str | None,
        start: date,
    ) -> Loan:
        now = self.clock.now_ns()
        claim_offer(self.engine, app["application_id"], now)
        receivable = self._receivable(schedule.currency)
        position = LoanPosition.from_schedule(schedule, as_of=start)
        loan_id = format_id(self.ids.new_id())
        principal = schedule.principal
        row = {
            "loan_id": loan_id,
            "application_id": app["application_id"],
            "party_id": app["party_id"],
            "product": app["product"],
            "kind": kind,
            "currency": schedule.currency,
            "principal_minor": principal,
            "annual_rate": str(position.annual_rate),
            "ledger_account_id": format_id(receivable),
            "settlement_account_id": settlement.account_id,
            "merchant_account_id": merchant_account_id,
            "terms": terms_to_json(terms),
            "schedule": schedule_to_json(schedule),
            "position": self._state(position, 0, 0),
            "status": LoanStatus.ACTIVE.value,
            "dpd": 0,
            "bucket": "current",
            "serviced_on": start.isoformat(),
            "version": 0,
            "created_ns": now,
            "updated_ns": now,
        }
        with self.engine.begin() as connection:
            connection.execute(sa.insert(credit_loans), [row])
            connection.execute(
                sa.update(credit_applications)
                .where(credit_applications.c.application_id == app["application_id"])
                .values(loan_id=loan_id)
            )
        loan = self.get(loan_id)
        plan = self._disbursement(loan, settlement, merchant_account_id)
        try:
            return self._commit(actor, loan, "disbursement", plan, loan, {"principal_minor": principal})
        except Conflict:
            with self.engine.begin() as connection:  # no money moved: the contract is void
                connection.execute(
                    sa.update(credit_loans)
                    .where(credit_loans.c.loan_id == loan_id)
                    .values(status=LoanStatus.CANCELLED.value, updated_ns=self.clock.now_ns())
                )
            raise

    def _receivable(self, currency: str) -> int:
        receivable = self.ids.new_id()
        flags = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags.HISTORY
        [created] = self.ledger.create_accounts(
            [Account(receivable, currency, CODE_LOAN_RECEIVABLE, flags=flags)]
        )
        invariant(created is CreateAccountResult.OK, f"a fresh loan account was refused: {created}")
        return receivable

    def _disbursement(
        self, loan: Loan, settlement: CustomerAccount, merchant_id: str | None
    ) -> list[Planned]:
        r = loan.ledger_account_id
        if not isinstance(loan.terms, BNPLPlan):
            return [Planned(r, settlement.ledger_account_id, loan.principal_minor, CODE_LOAN_DISBURSEMENT)]
        invariant(merchant_id is not None, "a BNPL loan pays a merchant")
        merchant = self.identity.get_account(str(merchant_id)).ledger_account_id
        fee = merchant_fee(loan.terms)
        plan = []
        if loan.terms.down_payment_minor:
            plan.append(
                Planned(
                    settlement.ledger_account_id,
                    merchant,
                    loan.terms.down_payment_minor,
                    CODE_BNPL_DOWN_PAYMENT,
                )
            )
        plan.append(Planned(r, merchant, loan.terms.financed_minor - fee, CODE_BNPL_MERCHANT))
        if fee:
            plan.append(Planned(r, self._bank("fee_income", loan.currency), fee, CODE_BNPL_MERCHANT_FEE))
        return plan

    # -- servicing ---------------------------------------------------------------

    def service(self, actor: Actor, loan_id: str, as_of: date | None = None) -> Loan:
        """Book the dues and penalties to ``as_of`` (today): interest and fees of instalments fallen due."""
        loan = self.get(loan_id)
        if loan.status is not LoanStatus.ACTIVE:
            return loan
        after, plan = self._accrue(loan, as_of or utc_date(self.clock.now_ns()))
        if not plan and after == loan:
            return loan
        return self._commit(actor, loan, "accrual", plan, after, {"as_of": after.position.as_of.isoformat()})

    def service_due(
        self, actor: Actor, as_of: date | None = None, *, limit: int = SERVICE_BATCH_MAX
    ) -> dict[str, int]:
        """Service every active loan not yet serviced to ``as_of``; returns counts by bucket."""
        day = as_of or utc_date(self.clock.now_ns())
        with self.engine.connect() as connection:
            ids = (
                connection.execute(
                    sa.select(credit_loans.c.loan_id)
                    .where(
                        credit_loans.c.status == LoanStatus.ACTIVE.value,
                        credit_loans.c.serviced_on < day.isoformat(),
                    )
                    .limit(min(limit, SERVICE_BATCH_MAX))
                )
                .scalars()
                .all()
            )
        counts: dict[str, int] = {}
        for loan_id in ids:
            try:
                loan = self.service(actor, loan_id, day)
            except Conflict:
                continue  # another process changed it meanwhile; the next round takes it
            counts[loan.bucket] = counts.get(loan.bucket, 0) + 1
        return counts

    def _accrue(self, loan: Loan, as_of: date) -> tuple[Loan, list[Planned]]:
        if as_of < loan.position.as_of:
            raise InvalidInput(
                f"the loan is serviced to {loan.position.as_of} already", code="as_of_in_the_past"
            )
        position = accrue_penalty(loan.position, as_of)
        r, ccy, plan = loan.ledger_account_id, loan.currency, []
        due = [i for i in position.instalments if i.due <= as_of and i.seq > loan.recognised_seq]
        interest = sum(i.interest for i in due)
        fees = sum(i.fee for i in due)
        penalty = position.outstanding("penalty") + sum(i.penalty_paid for i in position.instalments)
        new_penalty = penalty - loan.penalty_booked
        if interest:
            plan.append(Planned(r, self._bank("interest_income", ccy), interest, CODE_LOAN_INTEREST))
        if fees:
            plan.append(Planned(r, self._bank("fee_income", ccy), fees, CODE_LOAN_FEE))
        if new_penalty:
            plan.append(Planned(r, self._bank("penalty_income", ccy), new_penalty, CODE_LOAN_PENALTY))
        recognised = max([loan.recognised_seq, *(i.seq for i in due)])
        dpd = days_past_due(position, as_of)
        after = replace(
            loan,
            position=position,
            recognised_seq=recognised,
            penalty_booked=penalty,
            dpd=dpd,
            bucket=delinquency_bucket(dpd),
        )
        return after, plan

    # -- repayment ---------------------------------------------------------------

    def repay(
        self,
        actor: Actor,
        loan_id: str,
        amount_minor: int,
        *,
        party_id: int,
        from_account_id: str | None = None,
        mode: PrepaymentMode = "shorten_term",
    ) -> tuple[Loan, Allocation]:
        """Pay ``amount_minor`` from the customer's account: what is due first, the rest prepays principal."""
        if type(amount_minor) is not int or not 0 < amount_minor <= REPAYMENT_MINOR_MAX:
            raise InvalidInput("a repayment is a positive integer of minor units", code="amount_invalid")
        loan = self.get_for(loan_id, party_id)
        if loan.status is not LoanStatus.ACTIVE:
            raise Conflict(f"the loan is {loan.status.value}", code="loan_not_active")
        source = self._account(from_account_id or loan.settlement_account_id, loan.currency, "repayment")
        if source.party_id != party_id:
            raise Forbidden("the repayment account is not the borrower's", code="account_not_owned")
        accrued, plan = self._accrue(loan, utc_date(self.clock.now_ns()))
        as_of = accrued.position.as_of
        product = self.profile.product(loan.product)
        order, strategy = product.allocation_order, product.allocation_strategy
        allocation = allocate(accrued.position, amount_minor, as_of=as_of, order=order, strategy=strategy)
        if allocation.early_repayment:
            allocation, _ = early_repayment(
                accrued.position,
                amount_minor,
                as_of=as_of,
                mode=mode,
                prepayment_fee_rate=product.prepayment_fee_rate,
                order=order,
                strategy=strategy,
            )
        parts = allocation.by_component()
        r, ccy = loan.ledger_account_id, loan.currency
        if parts.get("accrued_interest"):
            plan.append(
                Planned(r, self._bank("interest_income", ccy), parts["accrued_interest"], CODE_LOAN_INTEREST)
            )
        if parts.get("prepayment_fee"):
            plan.append(Planned(r, self._bank("fee_income", ccy), parts["prepayment_fee"], CODE_LOAN_FEE))
        applied = amount_minor - allocation.unapplied
        if applied <= 0:
            raise Conflict("nothing is owed on this loan", code="loan_nothing_owed")
        plan.append(Planned(source.ledger_account_id, r, applied, CODE_LOAN_REPAYMENT))
        after = replace(accrued, position=allocation.position)
        after = replace(after, recognised_seq=self._recognised_after(accrued, allocation.position))
        dpd = days_past_due(after.position, as_of)
        status = (
            LoanStatus.CLOSED
            if after.owed() == 0 and _next_payment(after.position) == 0
            else LoanStatus.ACTIVE
        )
        after = replace(after, dpd=dpd, bucket=delinquency_bucket(dpd), status=status)
        detail = {
            "amount_minor": applied,
            "unapplied_minor": allocation.unapplied,
            "parts": parts,
            "from_account_id": source.account_id,
        }
        return self._commit(actor, loan, "repayment", plan, after, detail), allocation

    @staticmethod
    def _recognised_after(before: Loan, position: LoanPosition) -> int:
        """Rebuilt instalments keep their numbers; those not yet due stay unrecognised."""
        due = [i.seq for i in position.instalments if i.due <= position.as_of]
        return max([0, *due]) if due else before.recognised_seq

    # -- write-off and recovery ---------------------------------------------------

    def write_off(self, actor: Actor, loan_id: str, *, reason: str) -> Loan:
        """Write off what is owed (a credit decision: staff only, audited with its reason)."""
        if not reason or len(reason) > 200:
            raise InvalidInput("a write-off needs a reason of 1..200 characters", code="reason_invalid")
        loan = self.get(loan_id)
        if loan.status is not LoanStatus.ACTIVE:
            raise Conflict(f"the loan is {loan.status.value}", code="loan_not_active")
        accrued, plan = self._accrue(loan, utc_date(self.clock.now_ns()))
        amounts = write_off(accrued.position)
        invariant(amounts.total == accrued.owed(), "a write-off takes exactly what the receivable holds")
        if amounts.total:
            plan.append(
                Planned(
                    self._bank("loan_loss", loan.currency),
                    loan.ledger_account_id,
                    amounts.total,
                    CODE_LOAN_WRITE_OFF,
                )
            )
        cleared = tuple(
            replace(
                i,
                principal_paid=i.principal,
                interest_paid=i.interest if i.due <= accrued.position.as_of else i.interest_paid,
                fee_paid=i.fee if i.due <= accrued.position.as_of else i.fee_paid,
                penalty_paid=i.penalty,
            )
            for i in accrued.position.instalments
        )
        after = replace(
            accrued, position=replace(accrued.position, instalments=cleared), status=LoanStatus.WRITTEN_OFF
        )
        detail = {
            "reason": reason,
            "principal": amounts.principal,
            "interest": amounts.interest,
            "fee": amounts.fee,
            "penalty": amounts.penalty,
            "total": amounts.total,
        }
        return self._commit(actor, loan, "write_off", plan, after, detail)

    def recover(self, actor: Actor, loan_id: str, amount_minor: int, *, from_account_id: str) -> Loan:
        """Cash collected after a write-off: customer (or collector) -> recovery income."""
        if type(amount_minor) is not int or not 0 < amount_minor <= REPAYMENT_MINOR_MAX:
            raise InvalidInput("a recovery is a positive integer of minor units", code="amount_invalid")
        loan = self.get(loan_id)
        if loan.status is not LoanStatus.WRITTEN_OFF:
            raise Conflict("only a written-off loan is recovered", code="loan_not_written_off")
        source = self._account(from_account_id, loan.currency, "recovery")
        plan = [
            Planned(
                source.ledger_account_id,
                self._bank("recovery_income", loan.currency),
                amount_minor,
                CODE_LOAN_RECOVERY,
            )
        ]
        return self._commit(actor, loan, "recovery", plan, loan, {"amount_minor": amount_minor})

    # -- reads ---------------------------------------------------------------------

    def get(self, loan_id: str) -> Loan:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(credit_loans).where(credit_loans.c.loan_id == loan_id)).first()
        if row is None:
            raise NotFound("no such loan", code="loan_not_found")
        return _loan(row)

    def get_for(self, loan_id: str, party_id: int) -> Loan:
        """The party's own loan (another's is "not found")."""
        loan = self.get(loan_id)
        if loan.party_id != format_id(party_id):
            raise NotFound("no such loan", code="loan_not_found")  # never confirm another's loan exists
        return loan

    def loans_of(self, party_id: int, *, limit: int = 100) -> list[Loan]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_loans)
                .where(credit_loans.c.party_id == format_id(party_id))
                .order_by(credit_loans.c.created_ns.desc())
                .limit(min(limit, 500))
            ).all()
        return [_loan(r) for r in rows]

    def events(self, loan_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_loan_events)
                .where(credit_loan_events.c.loan_id == loan_id)
                .order_by(credit_loan_events.c.base_version)
            ).all()
        return [dict(r._mapping) for r in rows]

    def book_totals(self) -> dict[str, dict[str, int]]:
        """Loans and what is owed by status and bucket (the portfolio's arrears report)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_loans.c.status, credit_loans.c.bucket, sa.func.count()).group_by(
                    credit_loans.c.status, credit_loans.c.bucket
                )
            ).all()
        totals: dict[str, dict[str, int]] = {}
        for status, bucket, count in rows:
            totals.setdefault(str(status), {})[str(bucket)] = int(count)
        return totals

    # -- internals -----------------------------------------------------------------

    def _account(self, account_id: str, currency: str, role: str) -> CustomerAccount:
        return usable_account(self.identity, account_id, currency, role)

    def _bank(self, purpose: str, currency: str) -> int:
        return self.identity.bank_account(currency, purpose)

    @staticmethod
    def _state(position: LoanPosition, recognised_seq: int, penalty_booked: int) -> dict[str, Any]:
        return {
            **position_to_json(position),
            "recognised_seq": recognised_seq,
            "penalty_booked": penalty_booked,
            "next_payment_minor": _next_payment(position),
        }

    def _commit(
        self,
        actor: Actor,
        before: Loan,
        kind: str,
        plan: Sequence[Planned],
        after: Loan,
        detail: dict[str, Any],
    ) -> Loan:
        """Record the event, book its chain, move the loan to ``after`` (see the module docstring)."""
        state = self._state(after.position, after.recognised_seq, after.penalty_booked)
        values = {
            "position": state,
            "status": after.status.value,
            "dpd": after.dpd,
            "bucket": after.bucket,
            "serviced_on": state["as_of"],
        }
        reason = self.book_event(
            actor, (before.loan_id, before.version, before.currency), kind, plan, detail, values
        )
        if reason is not None:
            raise Conflict(f"the ledger refused the {kind}: {reason}", code=f"loan_{kind}_refused")
        return self.get(before.loan_id)

    def recover_events(self) -> int:
        """Finish events a crash left ``booking``: booked if their chain is in the ledger, else rejected."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_loan_events)
                .where(credit_loan_events.c.status == "booking")
                .limit(SERVICE_BATCH_MAX)
            ).all()
        for row in rows:
            booked = not row.plan or bool(self.ledger.lookup_transfers([int(row.first_transfer_id, 16)]))
            reason = None if booked else "not_booked"
            self.finish_event(row.event_id, row.loan_id, row.base_version, reason, row.detail["after"])
        return len(rows)


def _loan(row: Any) -> Loan:
    terms = terms_from_json(row.terms)
    state = row.position
    return Loan(
        loan_id=row.loan_id,
        application_id=row.application_id,
        party_id=row.party_id,
        product=row.product,
        kind=row.kind,
        currency=row.currency,
        principal_minor=int(row.principal_minor),
        annual_rate=row.annual_rate,
        ledger_account_id=int(row.ledger_account_id, 16),
        settlement_account_id=row.settlement_account_id,
        merchant_account_id=row.merchant_account_id,
        terms=terms,
        schedule=list(row.schedule),
        position=position_from_json(terms, state),
        recognised_seq=int(state["recognised_seq"]),
        penalty_booked=int(state["penalty_booked"]),
        status=LoanStatus(row.status),
        dpd=int(row.dpd),
        bucket=row.bucket,
        version=int(row.version),
    )


__all__ = ["Application", "Loan", "LoanService", "LoanStatus"]
