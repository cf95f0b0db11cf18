"""Execution of an FX quote: every leg of the route in ONE linked ledger chain.

Purpose: move the money a ``Quote`` promises, exactly, from the debtor's
account in the source currency to the creditor's account in the target
currency, through the bank's FX position accounts (``fx_position``, one per
currency). For each leg ``i`` converting ``source_amount_minor`` (fee
included) of currency ``c_i`` into ``target_amount_minor`` of ``c_(i+1)``:

- ``payer_i -> fx_position[c_i]``: the converted principal
  (``source_amount_minor - fee_minor``), code ``CODE_FX_CONVERSION_IN``;
- ``payer_i -> fx_position[c_i]``: the fee (``fee_minor``, only when non-zero),
  code ``CODE_FX_FEE``;
- ``fx_position[c_(i+1)] -> payee_i``: the leg's output, code
  ``CODE_FX_CONVERSION_OUT``;

where ``payer_0`` is the debtor, ``payee_(n-1)`` the creditor, and every
intermediate hop is the bank's ``clearing`` account of that currency, which
receives one leg's output and pays the next leg's input in the same chain and
so nets to zero. The fee stays inside the position account of the leg's
source currency (the bank has no separate fee account); it is booked as a
transfer of its own with its own code so that revenue reports can tell fees
from principal without recomputing the quote.

Invariants:
- The chain is linked: every leg settles or none does; a refusal of the
  ledger (``exceeds_credits`` and the like) moves nothing and the execution
  is recorded ``rejected`` with the ledger's reason.
- The amounts booked are the quote's, never recomputed: ``legs_to_execute``
  re-checks the quote's arithmetic and refuses it after expiry
  (``fx_quote_expired``).
- A quote is executed at most once: its id is the primary key of
  ``fx_executions`` (``fx_quote_used``). The row, with the transfer ids and
  the whole plan, is committed before the ledger is called, so a retry
  (``recover``) submits the same transfers and can never book twice.

Public names: ``FxExecution``, ``ExecutionRecord``, ``ExecutionStatus``,
``FxQuoteUsed``, ``CODE_FX_CONVERSION_IN``, ``CODE_FX_CONVERSION_OUT``,
``CODE_FX_FEE``, ``RECOVER_BATCH_MAX``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, Forbidden, InvalidInput, NotFound, invariant
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import AccountStatus, Actor, CustomerAccount
from netfin.identity.service import AuditSink, Identity
from netfin.ledger import CreateTransferResult, Ledger, Transfer, TransferFlags
from netfin.payments.fx.model import ROUTE_LEGS_MAX, Quote, QuoteLeg, legs_to_execute
from netfin.payments.fx.store import b16, fx_executions, i16

# Chart of transfer codes for FX execution (the 300s belong to FX).
CODE_FX_CONVERSION_IN = 301
CODE_FX_CONVERSION_OUT = 302
CODE_FX_FEE = 303
# At most three transfers per leg (principal in, fee, output).
CHAIN_LENGTH_MAX = 3 * ROUTE_LEGS_MAX
# Executions ``recover`` finishes per call; call it again while it returns this many.
RECOVER_BATCH_MAX = 1000

_R = CreateTransferResult


class FxQuoteUsed(Conflict):
    """A quote moves money once; a second execution of the same quote is refused."""

    code = "fx_quote_used"


class ExecutionStatus(enum.StrEnum):
    BOOKING = "booking"  # recorded, the chain not yet confirmed by the ledger
    EXECUTED = "executed"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class PlannedTransfer:
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    code: int
    leg_index: int


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """What became of one quote: the ledger transfers that carry it and their fate."""

    quote_id: int
    status: ExecutionStatus
    transfer_ids: tuple[int, ...]
    reason: str | None
    debtor_account_id: str
    creditor_account_id: str
    source_currency: str
    source_amount_minor: int
    target_currency: str
    target_amount_minor: int
    created_ns: int
    updated_ns: int


class FxExecution:
    """Executes quotes on the ledger; see the module docstring for the booking scheme."""

    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        identity: Identity,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.identity = identity
        self.audit = audit
        self.clock = clock
        self.ids = ids

    def execute(
        self,
        actor: Actor,
        quote: Quote,
        *,
        party_id: int,
        debtor_account_id: str,
        creditor_account_id: str,
    ) -> ExecutionRecord:
        """Book ``quote`` from the party's ``debtor_account_id`` to ``creditor_account_id``.

        Raises ``fx_quote_expired`` after the quote's expiry, ``fx_quote_used``
        when it was executed before, and the account checks' rejections. A
        refusal by the ledger is not raised: the record says ``rejected``.
        """
        # A used quote says so even after its expiry; the unique key still decides races.
        if self._exists(quote.quote_id):
            raise FxQuoteUsed(f"quote {format_id(quote.quote_id)} was already executed")
        legs = legs_to_execute(quote, self.clock.now_ns())
        debtor = self._usable_account(debtor_account_id, quote.source_currency, "debtor")
        creditor = self._usable_account(creditor_account_id, quote.target_currency, "creditor")
        if debtor.party_id != party_id:
            raise Forbidden("the debtor account is not the party's", code="account_not_owned")
        plan = self._plan(legs, debtor, creditor)
        invariant(len(plan) <= CHAIN_LENGTH_MAX, "an FX chain has at most three transfers per leg")
        now_ns = self.clock.now_ns()
        first_id = self.ids.new_id()
        values = {
            "quote_id": b16(quote.quote_id),
            "status": ExecutionStatus.BOOKING.value,
            "actor": f"{actor.kind}:{actor.id}"[:80],
            "party_id": b16(party_id),
            "debtor_account_id": debtor.account_id,
            "creditor_account_id": creditor.account_id,
            "source_currency": quote.source_currency,
            "source_amount_minor": quote.source_amount_minor,
            "target_currency": quote.target_currency,
            "target_amount_minor": quote.target_amount_minor,
            "fee_legs": sum(1 for leg in legs if leg.fee_minor > 0),
            "first_transfer_id": b16(first_id),
            "chain_length": len(plan),
            "plan": [_plan_json(p) for p in plan],
            "reason": None,
            "created_ns": now_ns,
            "updated_ns": now_ns,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(fx_executions), [values])
        except sa.exc.IntegrityError:
            raise FxQuoteUsed(f"quote {format_id(quote.quote_id)} was already executed") from None
        record = self._book(quote.quote_id, first_id, plan)
        self._audit(actor, record)
        return record

    def get(self, quote_id: int) -> ExecutionRecord:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(fx_executions).where(fx_executions.c.quote_id == b16(quote_id))
            ).first()
        if row is None:
            raise NotFound("no execution of this quote", code="fx_execution_not_found")
        return _record_from_row(row)

    def recover(self, actor: Actor | None = None) -> list[ExecutionRecord]:
        """Finish executions left ``booking`` by a crash: the same transfers are
        submitted again (or found booked); returns the records it finished.

        A quote that was recorded before its expiry is honoured even if the
        process died before booking it: the decision to execute was taken in time.
        """
        actor = actor or Actor.system("fx-recovery")
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(fx_executions)
                .where(fx_executions.c.status == ExecutionStatus.BOOKING.value)
                .order_by(fx_executions.c.created_ns)
                .limit(RECOVER_BATCH_MAX)
            ).all()
        finished = []
        for row in rows:
            plan = [_plan_from_json(item) for item in row.plan]
            record = self._book(i16(row.quote_id), i16(row.first_transfer_id), plan)
            self._audit(actor, record)
            finished.append(record)
        return finished

    # -- internals ------------------------------------------------------------

    def _exists(self, quote_id: int) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(fx_executions.c.status).where(fx_executions.c.quote_id == b16(quote_id))
            ).first()
        return found is not None

    def _usable_account(self, account_id: str, currency: str, role: str) -> CustomerAccount:
        account = self.identity.get_account(account_id)
        if account.status is not AccountStatus.ENABLED:
            raise Conflict(f"the {role} account is not enabled", code="account_not_enabled")
        if account.currency != currency:
            raise InvalidInput(
                f"the {role} account holds {account.currency}, the quote needs {currency}",
                code="fx_account_currency_mismatch",
            )
        return account

    def _plan(
        self, legs: Sequence[QuoteLeg], debtor: CustomerAccount, creditor: CustomerAccount
    ) -> list[PlannedTransfer]:
        plan: list[PlannedTransfer] = []
        payer = debtor.ledger_account_id
        last = len(legs) - 1
        for index, leg in enumerate(legs):
            source_position = self.identity.bank_account(leg.source_currency, "fx_position")
            target_position = self.identity.bank_account(leg.target_currency, "fx_position")
            payee = (
                creditor.ledger_account_id
                if index == last
                else self.identity.bank_account(leg.target_currency, "clearing")
            )
            principal_minor = leg.source_amount_minor - leg.fee_minor
            invariant(principal_minor > 0 and leg.target_amount_minor > 0, "a quoted leg moves money")
            plan.append(
                PlannedTransfer(
                    payer, source_position, principal_minor, leg.source_currency, CODE_FX_CONVERSION_IN, index
                )
            )
            if leg.fee_minor > 0:
                plan.append(
                    PlannedTransfer(
                        payer, source_position, leg.fee_minor, leg.source_currency, CODE_FX_FEE, index
                    )
                )
            plan.append(
                PlannedTransfer(
                    target_position,
                    payee,
                    leg.target_amount_minor,
                    leg.target_currency,
                    CODE_FX_CONVERSION_OUT,
                    index,
                )
            )
            payer = payee
        return plan

    def _book(self, quote_id: int, first_id: int, plan: Sequence[PlannedTransfer]) -> ExecutionRecord:
        """Submit the chain with its fixed ids and record the outcome (idempotent)."""
        last = len(plan) - 1
        transfers = [
            Transfer(
                first_id + k,
                p.debit_account_id,
                p.credit_account_id,
                p.amount_minor,
                p.currency,
                p.code,
                flags=TransferFlags.NONE if k == last else TransferFlags.LINKED,
                user_data_128=quote_id,
                user_data_32=p.leg_index,
            )
            for k, p in enumerate(plan)
        ]
        status, reason = ExecutionStatus.EXECUTED, None
        if not self.ledger.lookup_transfers([first_id]):
            results = self.ledger.create_transfers(transfers)
            if any(r is not _R.OK for r in results):
                # A concurrent retry may have booked the same chain first: then
                # our copy failed with ``exists`` and the money moved once.
                if not self.ledger.lookup_transfers([first_id]):
                    status, reason = ExecutionStatus.REJECTED, _first_cause(results)
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(fx_executions)
                .where(
                    fx_executions.c.quote_id == b16(quote_id),
                    fx_executions.c.status == ExecutionStatus.BOOKING.value,
                )
                .values(status=status.value, reason=reason, updated_ns=self.clock.now_ns())
            )
            row = connection.execute(
                sa.select(fx_executions).where(fx_executions.c.quote_id == b16(quote_id))
            ).one()
        return _record_from_row(row)

    def _audit(self, actor: Actor, record: ExecutionRecord) -> None:
        executed = record.status is ExecutionStatus.EXECUTED
        self.audit.record(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action="fx.execute",
            outcome="succeeded" if executed else "failed",
            subject_kind="fx_quote",
            subject_id=format_id(record.quote_id),
            consent_id=actor.consent_id,
            interaction_id=actor.interaction_id,
            reason=record.reason,
            detail={
                "debtor_account_id": record.debtor_account_id,
                "creditor_account_id": record.creditor_account_id,
                "source_currency": record.source_currency,
                "source_amount_minor": record.source_amount_minor,
                "target_currency": record.target_currency,
                "target_amount_minor": record.target_amount_minor,
                "first_transfer_id": format_id(record.transfer_ids[0]),
                "transfers": len(record.transfer_ids),
            },
        )


def _first_cause(results: Sequence[CreateTransferResult]) -> str:
    """The result that broke the chain (the others say ``linked_event_failed``)."""
    for result in results:
        if result not in (_R.OK, _R.LINKED_EVENT_FAILED):
            return result.value
    return _R.LINKED_EVENT_FAILED.value


def _plan_json(p: PlannedTransfer) -> list[Any]:
    return [
        format_id(p.debit_account_id),
        format_id(p.credit_account_id),
        p.amount_minor,
        p.currency,
        p.code,
        p.leg_index,
    ]


def _plan_from_json(item: Sequence[Any]) -> PlannedTransfer:
    debit, credit, amount_minor, currency, code, leg_index = item
    return PlannedTransfer(
        int(debit, 16), int(credit, 16), int(amount_minor), str(currency), int(code), int(leg_index)
    )


def _record_from_row(row: sa.Row[Any]) -> ExecutionRecord:
    first_id = i16(row.first_transfer_id)
    return ExecutionRecord(
        quote_id=i16(row.quote_id),
        status=ExecutionStatus(row.status),
        transfer_ids=tuple(first_id + k for k in range(row.chain_length)),
        reason=row.reason,
        debtor_account_id=row.debtor_account_id,
        creditor_account_id=row.creditor_account_id,
        source_currency=row.source_currency,
        source_amount_minor=row.source_amount_minor,
        target_currency=row.target_currency,
        target_amount_minor=row.target_amount_minor,
        created_ns=row.created_ns,
        updated_ns=row.updated_ns,
    )
