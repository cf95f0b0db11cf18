"""Domestic payment use cases: initiate under an authorised consent, read, resume.

The flow of one payment (DESIGN.md §4) in three durable steps:

1. one platform transaction consumes the consent (compare-and-set AUTH -> COND,
   so a consent pays at most once even under concurrent requests) and writes
   the order in status PDNG with the ledger transfer id it will use;
2. ``ledger.create_transfers`` books the money (idempotent by transfer id);
3. one platform transaction records the outcome (ACSC, ACSP or RJCT) and
   appends the event to the outbox in the same commit.

A crash between the steps leaves a PDNG order; ``resume_pending`` repeats
steps 2 and 3 for it, and because the ledger transfer id is fixed in step 1
the money moves at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import sqlalchemy as sa

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, InvalidInput, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.identity.consents import Consent, Consents
from netfin.identity.model import Actor, CustomerAccount
from netfin.identity.service import (
    AuditSink,
    AuditWait,
    Identity,
    submit_change,
    submitted_together,
    wait_or_defer,
)
from netfin.ledger import CreateTransferResult, Ledger, Transfer
from netfin.payments import store
from netfin.payments.model import DomesticInitiation, DomesticPayment, PaymentStatus
from netfin.storage.reads import point_reads

CODE_DOMESTIC_PAYMENT = 200
RESUME_BATCH_MAX = 500
_DONE = (CreateTransferResult.OK, CreateTransferResult.EXISTS)

# Called inside step 3's transaction so that the event commits with the outcome.
EventEmitter = Callable[[sa.Connection, DomesticPayment], None]
# The same event as (sql, params) of an ``INSERT ... SELECT`` that step 3 completes with its
# own WHERE and runs in its one statement on PostgreSQL (``netfin.notifications.event_statement``).
EventStatement = Callable[[DomesticPayment], tuple[str, dict[str, Any]]]
# The risk decision before the money moves: None lets the payment through, a reason code rejects it.
# The customer has already authorised the payment's consent with a passkey, so a step-up or a review
# asks nothing more of them (a review still joins the analysts' queue).
RiskScreen = Callable[[DomesticPayment], str | None]


class FinalWrite(Protocol):
    """A caller's own write that commits in step 3's one statement (PostgreSQL), built from
    the finished order (the API's idempotency completion, ``Idempotency.riding_completion``).
    ``statement(done)``: an ``UPDATE … WHERE …`` that step 3 extends with ``AND`` the order
    moved, and its parameters (names that step 3 does not use), or None to write nothing;
    ``committed()``: called once the statement committed having written it."""

    def statement(self, done: DomesticPayment) -> tuple[str, dict[str, Any]] | None: ...

    def committed(self) -> None: ...


class Unresolved:
    """``initiate_domestic``'s default: the caller has not looked the creditor up."""


UNRESOLVED = Unresolved()


class Payments:
    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        identity: Identity,
        consents: Consents,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
        emit: EventEmitter | None = None,
        emit_statement: EventStatement | None = None,
        risk: RiskScreen | None = None,
    ) -> None:
        self.engine = engine
        # PostgreSQL: steps 1 and 3 are one autocommit statement each on the point-read pool
        # (no SQLAlchemy checkout, pre-ping or BEGIN/COMMIT round trips).
        self._fast = point_reads(engine)
        self.emit_statement = emit_statement
        self.risk = risk
        self.ledger = ledger
        self.identity = identity
        self.consents = consents
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.emit = emit

    def initiate_domestic(
        self,
        actor: Actor,
        *,
        consent: Consent,
        debtor: CustomerAccount,
        initiation: DomesticInitiation,
        creditor: CustomerAccount | Unresolved | None = UNRESOLVED,
        on_order: Callable[[], None] | None = None,
        final_write: FinalWrite | None = None,
    ) -> DomesticPayment:
        """Pay under ``consent`` (already checked usable by the caller) from ``debtor``.
        ``creditor``: what ``resolve_creditor(initiation)`` gives, when the caller read it
        already (with the consent, in one round trip); otherwise it is read here.
        ``on_order``: called once the order exists (the consent is used), before the payment
        is screened and booked. ``final_write``: see ``FinalWrite``."""
        if initiation.currency != debtor.currency:
            raise InvalidInput(
                f"the debtor account holds {debtor.currency}, the payment is in {initiation.currency}",
                code="currency_mismatch",
            )
        if isinstance(creditor, Unresolved):
            creditor = self.resolve_creditor(initiation)
        if creditor is not None and creditor.account_id == debtor.account_id:
            raise InvalidInput("debtor and creditor accounts must differ", code="accounts_must_be_different")
        if creditor is not None and creditor.currency != initiation.currency:
            raise InvalidInput("the creditor account holds another currency", code="currency_mismatch")
        now = self.clock.now_ns()
        payment = DomesticPayment(
            payment_id="dp-" + format_id(self.ids.new_id()),
            consent_id=consent.consent_id,
            client_id=consent.client_id,
            party_id=debtor.party_id,
            debtor_account_id=debtor.account_id,
            initiation=initiation,
            transfer_id=self.ids.new_id(),
            internal_creditor_account_id=None if creditor is None else creditor.account_id,
            status=PaymentStatus.PENDING,
            status_reason=None,
            created_ns=now,
            status_updated_ns=now,
        )
        self._insert_order(consent, payment)
        # The order's audit entry commits while the payment is screened and booked; it is
        # waited for before the caller hears the outcome, whatever the outcome (here, or at
        # the end of the caller's answer_after_audit block). The caller's own entry
        # (``on_order``) goes to the writer with it, as one append.
        created: AuditWait | None = None
        try:
            with submitted_together(self.audit):
                created = submit_change(
                    self.audit, Actor(actor.kind, actor.id, consent.consent_id, actor.interaction_id),
                    "payment.create", "payment", payment.payment_id,
                    {"amount_minor": initiation.amount_minor, "currency": initiation.currency},
                )  # fmt: skip
                if on_order is not None:
                    on_order()
            refused = None if self.risk is None else self.risk(payment)
            if refused is not None:
                return self._finish(payment, PaymentStatus.REJECTED, refused, final_write)
            return self._book(payment, debtor, creditor, final_write)
        finally:
            if created is not None:
                wait_or_defer(created)

    def _insert_order(self, consent: Consent, payment: DomesticPayment) -> None:
        """Use the consent and store the pending order, in one transaction."""
        if self._fast is not None:
            consume_sql, params = self.consents.consume_statement(consent)
            params.update(store.payment_values(payment))
            # Not repeated after a lost connection: the consent may have been used by it.
            if self._fast.one(f"WITH consumed AS ({consume_sql}) {store.INSERT_IF_CONSUMED_SQL}", params,
                              retry=False) is None:  # fmt: skip
                raise Conflict("the consent has already been used", code="consent_consumed")
        else:
            with self.engine.begin() as connection:
                self.consents.consume(connection, consent)
                connection.execute(sa.insert(store.domestic_payments), [store.payment_values(payment)])

    def resolve_creditor(self, initiation: DomesticInitiation) -> CustomerAccount | None:
        """The creditor's account here, or None when it is held at another bank."""
        iban = self.creditor_iban(initiation)
        return None if iban is None else self.identity.find_account_by_iban(iban)

    def creditor_iban(self, initiation: DomesticInitiation) -> str | None:
        """The IBAN under which the creditor's account would be held here, or None when the
        creditor's identification names another bank; InvalidInput for an unsupported scheme."""
        scheme = initiation.creditor.scheme_name
        identification = initiation.creditor.identification.replace(" ", "").upper()
        if scheme.endswith("IBAN"):
            return identification
        if scheme.endswith("SortCodeAccountNumber"):
            bank = self.identity.bank
            if (
                len(identification) == 14
                and identification.isdigit()
                and identification[:6] == bank.sort_code
            ):
                from schwifty import IBAN

                iban = IBAN.generate(
                    bank.country, bank_code=bank.bank_code + bank.sort_code, account_code=identification[6:]
                )
                return str(iban.compact)
            return None
        raise InvalidInput(
            f"creditor SchemeName {scheme!r} is not supported", code="creditor_scheme_unsupported"
        )

    def _book(
        self,
        payment: DomesticPayment,
        debtor: CustomerAccount,
        creditor: CustomerAccount | None = None,
        final_write: FinalWrite | None = None,
    ) -> DomesticPayment:
        """Steps 2 and 3: move the money, then record the outcome with its event.
        ``creditor``: the internal creditor's account when the caller has it at hand."""
        i = payment.initiation
        if payment.internal_creditor_account_id is None:
            credit_id = self.identity.bank_account(i.currency, "clearing")
            success = PaymentStatus.SETTLEMENT_IN_PROCESS
        else:
            if creditor is None or creditor.account_id != payment.internal_creditor_account_id:
                creditor = self.identity.get_account(payment.internal_creditor_account_id)
            credit_id = creditor.ledger_account_id
            success = PaymentStatus.SETTLEMENT_COMPLETED
        [result] = self.ledger.create_transfers(
            [
                Transfer(
                    payment.transfer_id, debtor.ledger_account_id, credit_id, i.amount_minor, i.currency,
                    CODE_DOMESTIC_PAYMENT,
                )
            ]
        )  # fmt: skip
        if result in _DONE:
            status, reason = success, None
        else:
            status, reason = PaymentStatus.REJECTED, result.value
        return self._finish(payment, status, reason, final_write)

    def _finish(
        self,
        payment: DomesticPayment,
        status: PaymentStatus,
        reason: str | None,
        final_write: FinalWrite | None = None,
    ) -> DomesticPayment:
        now = self.clock.now_ns()
        done = replace(payment, status=status, status_reason=reason, status_updated_ns=now)
        if self._fast is not None and (self.emit is None or self.emit_statement is not None):
            changed = self._finish_in_one_statement(done, final_write)
        else:
            with self.engine.begin() as connection:
                changed = connection.execute(
                    sa.update(store.domestic_payments)
                    .where(
                        store.domestic_payments.c.payment_id == payment.payment_id,
                        store.domestic_payments.c.status == PaymentStatus.PENDING.value,
                    )
                    .values(status=status.value, status_reason=reason, status_updated_ns=now)
                ).rowcount
                if changed == 1 and self.emit is not None:
                    self.emit(connection, done)
        if changed != 1:  # another resumer finished it first; report what is recorded
            return self.get(payment.payment_id)
        # Committed before the caller hears the outcome: here, or at the end of its
        # answer_after_audit block (while the request's idempotency record is completed).
        wait_or_defer(
            submit_change(
                self.audit, Actor.system(), "payment.status", "payment", payment.payment_id,
                {"status": status.value, "reason": reason},
            )
        )  # fmt: skip
        return done

    def _finish_in_one_statement(self, done: DomesticPayment, final_write: FinalWrite | None) -> int:
        """Step 3 on PostgreSQL: move the order out of pending and write its event and the
        caller's final write, in one statement; 1 when this call moved it, 0 when another
        finisher had (and then neither the event nor the final write is written)."""
        if self._fast is None:  # pragma: no cover - only called with the pool
            raise InvalidInput("no point-read pool", code="payments_store_unavailable")
        params: dict[str, Any] = {
            "payment_id": done.payment_id, "pending": PaymentStatus.PENDING.value,
            "status": done.status.value, "status_reason": done.status_reason,
            "status_updated_ns": done.status_updated_ns,
        }  # fmt: skip
        sql = f"WITH moved AS ({store.FINISH_SQL})"
        if self.emit_statement is not None:
            event_sql, event_params = self.emit_statement(done)
            params.update(event_params)
            sql += f", event AS ({event_sql} WHERE EXISTS (SELECT 1 FROM moved) RETURNING 1)"
        extra = None if final_write is None else final_write.statement(done)
        if extra is None:
            sql += " SELECT count(*), 0 FROM moved"
        else:
            params.update(extra[1])
            sql += (
                f", final AS ({extra[0]} AND EXISTS (SELECT 1 FROM moved) RETURNING 1) "
                "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM final)"
            )
        # Safe to repeat after a lost connection: the order is then no longer pending.
        row = self._fast.one(sql, params)
        if row is None:  # pragma: no cover - an aggregate always answers one row
            return 0
        if final_write is not None and row[1]:
            final_write.committed()
        return int(row[0])

    def get(self, payment_id: str) -> DomesticPayment:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(store.domestic_payments).where(store.domestic_payments.c.payment_id == payment_id)
            ).first()
        if row is None:
            raise NotFound("no such payment", code="payment_not_found")
        return store.payment_from_row(row)

    def get_for_client(self, client_id: str, payment_id: str) -> DomesticPayment:
        payment = self.get(payment_id)
        if payment.client_id != client_id:
            raise NotFound("no such payment", code="payment_not_found")
        return payment

    def by_transfer_ids(self, transfer_ids: list[int]) -> dict[int, DomesticPayment]:
        """Payment orders behind ledger transfers (for transaction details)."""
        if not transfer_ids:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.domestic_payments).where(
                    store.domestic_payments.c.transfer_id.in_([t.to_bytes(16, "big") for t in transfer_ids])
                )
            )
            payments = [store.payment_from_row(r) for r in rows]
        return {p.transfer_id: p for p in payments}

    def resume_pending(self, *, older_than_s: int = 30) -> int:
        """Finish orders left in PDNG by a crash between the steps. Returns how many."""
        cutoff = self.clock.now_ns() - older_than_s * 1_000_000_000
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.domestic_payments)
                .where(
                    store.domestic_payments.c.status == PaymentStatus.PENDING.value,
                    store.domestic_payments.c.created_ns <= cutoff,
                )
                .order_by(store.domestic_payments.c.created_ns)
                .limit(RESUME_BATCH_MAX)
            )
            pending = [store.payment_from_row(r) for r in rows]
        for payment in pending:
            self._book(payment, self.identity.get_account(payment.debtor_account_id))
        return len(pending)
