"""Payment-order use cases: submit, confirm with a passkey, settle, refund, expire, resume.

The flow of a batch of orders (one order is a batch of one), in three
durable steps, like the domestic payments of the open-banking API:

1. one platform transaction writes each order with the outcome of screening
   (``authorised``, ``step_up`` or ``rejected``), the transitions that led
   there, and the first id of the ledger chain it will use;
2. one ``ledger.create_transfers`` call books the linked chain of every
   authorised order (the money and the limits it uses; each chain settles or
   fails whole, independently of the others);
3. one platform transaction records each outcome (``settled`` or
   ``rejected`` with the reason) with its outbox event.

A crash between the steps leaves orders ``authorised``; ``resume`` rebuilds
their chains from the stored first id (the ledger treats a repeat as
``exists``), so money moves at most once.

Idempotency: an order is keyed by (payer party, idempotency key); the same
key with the same request returns the stored order, with another request
``idempotency_key_reused``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import Conflict, InvalidInput, LimitExceeded, NetfinError, NotFound, invariant
from netfin.core.ids import IdSource, format_id
from netfin.core.limits import BATCH_EVENTS_MAX
from netfin.identity.credentials import Credentials
from netfin.identity.model import AccountStatus, Actor, CustomerAccount, validate_iban
from netfin.identity.service import AuditSink, Identity, audit_change, audit_changes
from netfin.ledger import CreateTransferResult, Ledger
from netfin.payments.orders import store
from netfin.payments.orders.history import ENDPOINTS_MAX, HistoryQuery
from netfin.payments.orders.history import search as search_history
from netfin.payments.orders.model import (
    ORDER_TTL_S_DEFAULT,
    TERMINAL,
    Endpoint,
    EndpointKind,
    OrderEvent,
    OrderKind,
    OrderRequest,
    OrderStatus,
    PaymentOrder,
    RiskAction,
    RiskDecision,
    ScaPolicy,
    check_idempotency_key,
    check_transition,
    sca_binding,
)
from netfin.payments.wallets.model import (
    CHAIN_MAX,
    Leg,
    LegRole,
    Wallet,
    WalletStatus,
    payment_legs,
    reserve_ids,
)
from netfin.payments.wallets.service import Wallets
from netfin.storage.bulk import insert_rows

BATCH_MAX = 10_000
RESUME_BATCH_MAX = 500
BILLERS_MAX = 10_000
_OK = (CreateTransferResult.OK, CreateTransferResult.EXISTS)
_EXEMPT_WHEN_PRE_AUTHORISED = frozenset({"amount_above_threshold", "new_payee"})
_BILLER_CATEGORIES = frozenset({"government", "hospital", "school", "utility", "other"})

# Ledger refusals, by the chain event that failed, as the reason a customer reads.
_REFUSALS = {
    (LegRole.MONEY, CreateTransferResult.EXCEEDS_CREDITS): "insufficient_funds",
    (LegRole.PAYER_DAILY, CreateTransferResult.EXCEEDS_CREDITS): "wallet_daily_limit_exceeded",
    (LegRole.PAYER_ANNUAL, CreateTransferResult.EXCEEDS_CREDITS): "wallet_annual_limit_exceeded",
    (LegRole.PAYEE_HEADROOM, CreateTransferResult.EXCEEDS_CREDITS): "payee_wallet_balance_limit_exceeded",
    (LegRole.PAYER_HEADROOM, CreateTransferResult.OVERFLOWS_CREDITS_POSTED): "wallet_limit_overflow",
}

PAYMENT_SETTLED = "payment.settled"
PAYMENT_REJECTED = "payment.rejected"
PAYMENT_STEP_UP = "payment.step_up"
PAYMENT_EXPIRED = "payment.expired"


class RiskHook(Protocol):
    """The risk decision a payment waits for before the money moves."""

    def decide(self, order: PaymentOrder) -> RiskDecision: ...


class AllowAll:
    """The decision while no risk engine is configured."""

    def decide(self, order: PaymentOrder) -> RiskDecision:
        return RiskDecision(RiskAction.ALLOW)


@dataclass(frozen=True, slots=True)
class Biller:
    biller_id: str
    name: str
    category: str
    account_id: str
    reference_pattern: str
    active: bool


@dataclass(slots=True)
class _Resolved:
    """An endpoint resolved to the ledger account it books to."""

    ledger_account: int
    currency: str
    party_id: int | None
    wallet: Wallet | None


@dataclass(frozen=True, slots=True)
class Submission:
    """One order as a caller submits it: who acts, for which payer party, under which key."""

    actor: Actor
    party_id: int
    request: OrderRequest
    idempotency_key: str
    pre_authorised_by: str | None = None


@dataclass(slots=True)
class _Fresh:
    index: int
    order: PaymentOrder
    resolved: dict[str, _Resolved]
    submission: Submission

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.order, self.resolved, self.submission))


@dataclass(slots=True)
class _Pending:
    order: PaymentOrder
    legs: list[Leg]
    next_seq: int = 0  # the order's next transition number, when known (0: look it up)


class PaymentOrders:
    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        identity: Identity,
        wallets: Wallets,
        credentials: Credentials | None,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
        risk: RiskHook | None = None,
        sca: ScaPolicy | None = None,
        order_ttl_s: int = ORDER_TTL_S_DEFAULT,
        on_event: Callable[[sa.Connection, str, PaymentOrder], None] | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.identity = identity
        self.wallets = wallets
        self.credentials = credentials
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.risk: RiskHook = risk or AllowAll()
        self.sca = sca or ScaPolicy()
        self.order_ttl_ns = order_ttl_s * NS_PER_SECOND
        self.on_event = on_event

    # Submitting ------------------------------------------------------------

    def submit(
        self,
        actor: Actor,
        party_id: int,
        request: OrderRequest,
        *,
        idempotency_key: str,
        pre_authorised_by: str | None = None,
    ) -> PaymentOrder:
        """Screen, and where nothing more is needed settle, one order; raise on a refusal.

        ``pre_authorised_by`` names a standing authorisation (a device
        mandate, ``"mandate:md-..."``) that stands in for the payer's passkey:
        the amount and new-payee reasons for SCA are exempt and the exemption
        is audited; a risk decision asking for step-up then rejects the order
        (``risk_step_up_unavailable``), since nobody is there to confirm.
        """
        [result] = self.submit_many(
            actor, party_id, [(request, idempotency_key)], pre_authorised_by=pre_authorised_by
        )
        if isinstance(result, NetfinError):
            raise result
        return result

    def submit_many(
        self,
        actor: Actor,
        party_id: int,
        items: Sequence[tuple[OrderRequest, str]],
        *,
        pre_authorised_by: str | None = None,
    ) -> list[PaymentOrder | NetfinError]:
        """Submit up to ``BATCH_MAX`` orders of one payer party; one result per item, in order.

        An item refused before it becomes an order (bad input, not the
        payer's account, over the per-payment limit, a reused idempotency
        key) is returned as the error; the others are orders in their
        resulting status.
        """
        return self.submit_mixed(
            [Submission(actor, party_id, request, key, pre_authorised_by) for request, key in items]
        )

    def submit_mixed(self, submissions: Sequence[Submission]) -> list[PaymentOrder | NetfinError]:
        """Submit up to ``BATCH_MAX`` orders of any payers and actors in one batch (see ``submit_many``).

        ``OrderGateway`` uses it to book the orders of concurrent callers
        together: one transaction per step and one ledger call for all.
        """
        if len(submissions) > BATCH_MAX:
            raise LimitExceeded(f"at most {BATCH_MAX} orders per batch", code="batch_too_large")
        results: list[PaymentOrder | NetfinError | None] = [None] * len(submissions)
        existing = self._existing_pairs(
            [(s.party_id, s.idempotency_key) for s in submissions if isinstance(s.idempotency_key, str)]
        )
        fresh: list[_Fresh] = []
        seen: set[tuple[int, str]] = set()
        endpoints = self._resolver([s.request for s in submissions])
        now = self.clock.now_ns()
        for index, sub in enumerate(submissions):
            try:
                key = check_idempotency_key(sub.idempotency_key)
                fingerprint = _fingerprint(sub.request)
                found = existing.get((sub.party_id, key))
                if found is not None:
                    if found.fingerprint != fingerprint:
                        raise Conflict(
                            "the idempotency key was used for another order", code="idempotency_key_reused"
                        )
                    results[index] = found
                    continue
                if (sub.party_id, key) in seen:
                    raise Conflict(
                        "the idempotency key appears twice in the batch", code="idempotency_key_reused"
                    )
                seen.add((sub.party_id, key))
                sub.request.check()
                resolved = endpoints(sub.request, sub.party_id)
                order = self._new_order(sub.request, sub.party_id, key, fingerprint, resolved, now)
                fresh.append(_Fresh(index, order, resolved, sub))
            except NetfinError as error:
                results[index] = error
        screened, pending = self._screen_and_record(fresh)
        for index, order in screened.items():
            results[index] = order
        for index, order in self._settle(pending).items():
            results[index] = order
        return [r for r in results if r is not None]

    def _new_order(
        self,
        request: OrderRequest,
        party_id: int,
        key: str,
        fingerprint: str,
        resolved: dict[str, _Resolved],
        now: int,
    ) -> PaymentOrder:
        return PaymentOrder(
            order_id="po-" + format_id(self.ids.new_id()),
            kind=request.kind,
            status=OrderStatus.CREATED,
            payer_party_id=party_id,
            payer=request.payer,
            payee=request.payee,
            amount_minor=request.amount_minor,
            currency=request.currency,
            reference=request.reference,
            payee_reference=request.payee_reference,
            payee_name=request.payee_name,
            original_order_id=request.original_order_id,
            refunded_minor=0,
            idempotency_key=key,
            fingerprint=fingerprint,
            first_transfer_id=reserve_ids(self.ids.new_id()),
            chain_length=0,
            sca_required=False,
            sca_reasons=(),
            risk_action="",
            status_reason=None,
            created_ns=now,
            updated_ns=now,
            expires_ns=now + self.order_ttl_ns,
        )

    def _screen_and_record(self, fresh: list[_Fresh]) -> tuple[dict[int, PaymentOrder], dict[int, _Pending]]:
        """Step 1: screening decides each order's status; all are written in one transaction."""
        if not fresh:
            return {}, {}
        known = self._known_payees([f.order for f in fresh])
        limits: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        pending: dict[int, _Pending] = {}
        by_index: dict[int, PaymentOrder] = {}
        for index, order, resolved, sub in fresh:
            own = resolved["payer"].party_id == resolved["payee"].party_id
            order = self._decide(
                order, (order.payer.key, order.payee.key) in known, sub.pre_authorised_by, own=own
            )
            legs = self._legs(order, resolved, limits)
            order = replace(order, chain_length=len(legs))
            trail = [OrderStatus.CREATED, OrderStatus.SCREENED, order.status]
            why = order.status_reason
            rows.append(store.order_values(order))
            events.extend(_trail_rows(order.order_id, trail, sub.actor, why, order.created_ns))
            by_index[index] = order
            if order.status is OrderStatus.AUTHORISED:
                pending[index] = _Pending(order, legs, len(trail) + 1)
        with self.engine.begin() as connection:
            insert_rows(connection, store.payment_orders, rows)
            insert_rows(connection, store.payment_order_events, events)
            self._emit_many(
                connection,
                [
                    (PAYMENT_STEP_UP if o.status is OrderStatus.STEP_UP else PAYMENT_REJECTED, o)
                    for o in by_index.values()
                    if o.status in (OrderStatus.STEP_UP, OrderStatus.REJECTED)
                ],
            )
        subs = {f.index: f.submission for f in fresh}
        self.audit.record_many(
            [
                _audit_entry(subs[i].actor, "payment_order.create", o.order_id, {
                    "kind": o.kind.value, "amount_minor": o.amount_minor, "currency": o.currency,
                    "status": o.status.value, "sca": ",".join(o.sca_reasons),
                    "exemption": subs[i].pre_authorised_by,
                })
                for i, o in by_index.items()
            ]
        )  # fmt: skip
        return by_index, pending

    def _decide(
        self, order: PaymentOrder, payee_known: bool, pre_authorised_by: str | None, *, own: bool
    ) -> PaymentOrder:
        """Screening: the risk decision and the SCA policy give the order's next status.

        A move between two accounts or wallets of the same party needs no
        SCA (as PSD2 RTS art. 15 exempts it) unless the risk decision asks.
        """
        decision = self.risk.decide(order)
        reasons = self.sca.reasons(_as_request(order), payee_known=payee_known, risk=decision)
        if own:
            reasons = tuple(r for r in reasons if r == "risk_step_up")
        if pre_authorised_by is not None:
            reasons = tuple(r for r in reasons if r not in _EXEMPT_WHEN_PRE_AUTHORISED)
        if decision.action is RiskAction.REJECT:
            sanctions = [r for r in decision.reasons if r.startswith("sanctions_")]
            status, why = OrderStatus.REJECTED, sanctions[0] if sanctions else "risk_rejected"
        elif reasons and pre_authorised_by is not None:
            status, why = OrderStatus.REJECTED, "risk_step_up_unavailable"
        elif reasons:
            status, why = OrderStatus.STEP_UP, None
        else:
            status, why = OrderStatus.AUTHORISED, None
        return replace(
            order,
            status=status,
            status_reason=why,
            sca_required=bool(reasons),
            sca_reasons=reasons,
            risk_action=decision.action.value,
        )

    # Settling --------------------------------------------------------------

    def _settle(self, pending: dict[int, _Pending]) -> dict[int, PaymentOrder]:
        """Steps 2 and 3 for authorised orders: one ledger call, then one transaction of outcomes."""
        if not pending:
            return {}
        outcomes: dict[int, tuple[OrderStatus, str | None]] = {}
        for part in _ledger_batches(pending):
            results = iter(
                self.ledger.create_transfers([leg.transfer for p in part.values() for leg in p.legs])
            )
            for index, p in part.items():
                outcomes[index] = _outcome([(leg.role, next(results)) for leg in p.legs])
        return self._record_outcomes(pending, outcomes)

    @staticmethod
    def _still_authorised(connection: sa.Connection, ids: list[str]) -> set[str]:
        """Which of these orders are still ``authorised``, locked on PostgreSQL until commit."""
        t = store.payment_orders
        owned: set[str] = set()
        for start in range(0, len(ids), 500):
            query = sa.select(t.c.order_id).where(
                t.c.order_id.in_(ids[start : start + 500]), t.c.status == OrderStatus.AUTHORISED.value
            )
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            owned.update(connection.execute(query).scalars())
        return owned

    def _record_outcomes(
        self, pending: dict[int, _Pending], outcomes: dict[int, tuple[OrderStatus, str | None]]
    ) -> dict[int, PaymentOrder]:
        """Step 3: every outcome, its transition and its event in one transaction.

        Only orders still ``authorised`` are recorded (a concurrent resumer
        may have finished some); the rows are locked first on PostgreSQL,
        and SQLite's write transactions are serial already.
        """
        now = self.clock.now_ns()
        done: dict[int, PaymentOrder] = {}
        t = store.payment_orders
        ids = [p.order.order_id for p in pending.values()]
        with self.engine.begin() as connection:
            owned = self._still_authorised(connection, ids)
            updates, events = [], []
            for index, p in pending.items():
                if p.order.order_id not in owned:
                    continue  # another resumer recorded it first
                status, reason = outcomes[index]
                done[index] = replace(p.order, status=status, status_reason=reason, updated_ns=now)
                updates.append({"oid": p.order.order_id, "st": status.value, "rs": reason, "at": now})
                seq = p.next_seq or self._next_seq(connection, p.order.order_id)
                events.append(
                    {
                        "order_id": p.order.order_id,
                        "seq": seq,
                        "from_status": OrderStatus.AUTHORISED.value,
                        "to_status": status.value,
                        "actor": "system:netfin",
                        "reason": reason,
                        "at_ns": now,
                    }
                )
            if updates:
                connection.execute(
                    sa.update(t)
                    .where(t.c.order_id == sa.bindparam("oid"), t.c.status == OrderStatus.AUTHORISED.value)
                    .values(
                        status=sa.bindparam("st"),
                        status_reason=sa.bindparam("rs"),
                        updated_ns=sa.bindparam("at"),
                    ),
                    updates,
                )
                insert_rows(connection, store.payment_order_events, events)
                self._emit_many(
                    connection,
                    [
                        (PAYMENT_SETTLED if o.status is OrderStatus.SETTLED else PAYMENT_REJECTED, o)
                        for o in done.values()
                    ],
                )
        audit_changes(
            self.audit,
            Actor.system(),
            "payment_order.status",
            "payment_order",
            [(o.order_id, {"status": o.status.value, "reason": o.status_reason}) for o in done.values()],
        )
        for index, p in pending.items():
            if index not in done:
                done[index] = self.get(p.order.order_id)
        return done

    def _legs(self, order: PaymentOrder, resolved: dict[str, _Resolved], limits: dict[str, int]) -> list[Leg]:
        payer, payee = resolved["payer"], resolved["payee"]
        currency = order.currency
        if currency not in limits:
            limits[currency] = self.identity.bank_account(currency, "limits")
        link_to = order.first_transfer_id
        if order.original_order_id is not None:  # a refund's transfers point at the original's
            link_to = self.get(order.original_order_id).first_transfer_id
        same_family = (
            payer.wallet is not None
            and payee.wallet is not None
            and payer.wallet.root_id == payee.wallet.root_id
        )
        legs = payment_legs(
            first_id=order.first_transfer_id,
            amount=order.amount_minor,
            currency=currency,
            debit_account=payer.ledger_account,
            credit_account=payee.ledger_account,
            limits_account=limits[currency],
            payer=None if payer.wallet is None else payer.wallet.accounts,
            payee=None if payee.wallet is None else payee.wallet.accounts,
            same_family=same_family,
            user_data_128=link_to,
        )
        invariant(len(legs) <= CHAIN_MAX, "a chain never outgrows its reserved ids")
        return legs

    # Strong customer authentication -------------------------------------------

    def begin_confirmation(self, party_id: int, order_id: str) -> dict[str, Any]:
        """WebAuthn options whose challenge is bound to this order's amount and payee."""
        order = self.get_for_party(party_id, order_id)
        if order.status is not OrderStatus.STEP_UP:
            raise Conflict("the order does not wait for confirmation", code="order_not_awaiting_confirmation")
        if self.credentials is None:
            raise Conflict("passkeys are not configured", code="passkeys_unavailable")
        return self.credentials.begin_confirmation(party_id, sca_binding(order))

    def confirm(
        self, actor: Actor, party_id: int, order_id: str, credential_json: str | dict[str, Any]
    ) -> PaymentOrder:
        """A fresh passkey assertion over this order authorises it; then the money moves."""
        order = self.get_for_party(party_id, order_id)
        if order.status is not OrderStatus.STEP_UP:
            if order.status in (OrderStatus.AUTHORISED, OrderStatus.SETTLED):
                return order  # a repeated confirmation reports the outcome
            raise Conflict("the order does not wait for confirmation", code="order_not_awaiting_confirmation")
        if self.clock.now_ns() >= order.expires_ns:
            self.expire_due()
            raise Conflict("the order has expired", code="order_expired")
        if self.credentials is None:
            raise Conflict("passkeys are not configured", code="passkeys_unavailable")
        self.credentials.finish_confirmation(credential_json, party_id, sca_binding(order))
        order = self._transition(actor, order, OrderStatus.STEP_UP, OrderStatus.AUTHORISED, "sca_confirmed")
        resolved = self._resolver([_as_request(order)])(_as_request(order), party_id)
        legs = self._legs(order, resolved, {})
        return self._settle({0: _Pending(order, legs)})[0]

    def _transition(
        self, actor: Actor, order: PaymentOrder, source: OrderStatus, target: OrderStatus, reason: str | None
    ) -> PaymentOrder:
        check_transition(source, target)
        now = self.clock.now_ns()
        t = store.payment_orders
        with self.engine.begin() as connection:
            changed = connection.execute(
                sa.update(t)
                .where(t.c.order_id == order.order_id, t.c.status == source.value)
                .values(status=target.value, updated_ns=now, status_reason=reason)
            ).rowcount
            if changed != 1:
                raise Conflict("the order changed meanwhile", code="order_changed")
            self._append_event(connection, order.order_id, source, target, _actor_text(actor), reason, now)
        audit_change(
            self.audit,
            actor,
            "payment_order.status",
            "payment_order",
            order.order_id,
            {"from": source.value, "to": target.value, "reason": reason},
        )
        return replace(order, status=target, status_reason=reason, updated_ns=now)

    # Refunds and returns ---------------------------------------------------

    def refund(
        self,
        actor: Actor,
        party_id: int,
        original_order_id: str,
        amount_minor: int,
        *,
        idempotency_key: str,
        kind: OrderKind = OrderKind.REFUND,
        reference: str = "",
    ) -> PaymentOrder:
        """Pay back (part of) a settled order, as a new order from its payee to its payer.

        ``party_id`` must hold the original payee. The refunded total never
        passes the original amount: the claim on it is a compare-and-set
        made before the money moves and released if the refund fails.
        """
        original = self.get(original_order_id)
        if original.status is not OrderStatus.SETTLED:
            raise Conflict("only a settled order can be refunded", code="order_not_settled")
        if original.payee.kind not in (EndpointKind.WALLET, EndpointKind.ACCOUNT):
            raise InvalidInput("this payee cannot refund here", code="refund_payee_unsupported")
        request = OrderRequest(
            kind,
            original.payee,
            original.payer,
            amount_minor,
            original.currency,
            reference=reference or f"refund of {original.order_id}",
            original_order_id=original.order_id,
        )
        request.check()
        existing = self._existing(party_id, [idempotency_key])
        if idempotency_key in existing:
            return self.submit(actor, party_id, request, idempotency_key=idempotency_key)
        t = store.payment_orders
        with self.engine.begin() as connection:
            claimed = connection.execute(
                sa.update(t)
                .where(
                    t.c.order_id == original.order_id, t.c.refunded_minor + amount_minor <= t.c.amount_minor
                )
                .values(refunded_minor=t.c.refunded_minor + amount_minor)
            ).rowcount
        if claimed != 1:
            raise Conflict("the refunds would exceed the original amount", code="refund_exceeds_original")
        try:
            order = self.submit(actor, party_id, request, idempotency_key=idempotency_key)
        except BaseException:
            self._release_refund(original.order_id, amount_minor)
            raise
        if order.status is OrderStatus.REJECTED:
            self._release_refund(original.order_id, amount_minor)
        elif (
            kind is OrderKind.RETURN
            and order.status is OrderStatus.SETTLED
            and amount_minor == original.amount_minor
        ):
            self._transition(actor, original, OrderStatus.SETTLED, OrderStatus.RETURNED, "returned")
        return order

    def _release_refund(self, order_id: str, amount_minor: int) -> None:
        t = store.payment_orders
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(t)
                .where(t.c.order_id == order_id)
                .values(refunded_minor=t.c.refunded_minor - amount_minor)
            )

    # Expiry and recovery -----------------------------------------------------

    def expire_due(self, limit: int = RESUME_BATCH_MAX) -> int:
        """Orders still waiting (created, screened, step_up) past their expiry become ``expired``."""
        now = self.clock.now_ns()
        t = store.payment_orders
        waiting = [OrderStatus.CREATED.value, OrderStatus.SCREENED.value, OrderStatus.STEP_UP.value]
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(t).where(t.c.status.in_(waiting), t.c.expires_ns <= now).limit(limit)
            ).all()
        count = 0
        for row in rows:
            order = store.order_from_row(row)
            try:
                expired = self._transition(
                    Actor.system(), order, order.status, OrderStatus.EXPIRED, "expired"
                )
            except Conflict:
                continue
            with self.engine.begin() as connection:
                self._emit(connection, PAYMENT_EXPIRED, expired)
            count += 1
        return count

    def resume(self, *, older_than_s: int = 30) -> int:
        """Finish authorised orders a crash left between the ledger and the outcome."""
        cutoff = self.clock.now_ns() - older_than_s * NS_PER_SECOND
        t = store.payment_orders
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(t)
                .where(t.c.status == OrderStatus.AUTHORISED.value, t.c.updated_ns <= cutoff)
                .order_by(t.c.updated_ns)
                .limit(RESUME_BATCH_MAX)
            ).all()
        orders = [store.order_from_row(r) for r in rows]
        pending: dict[int, _Pending] = {}
        for index, order in enumerate(orders):
            request = _as_request(order)
            resolved = self._resolver([request])(request, order.payer_party_id)
            pending[index] = _Pending(order, self._legs(order, resolved, {}))
        self._settle(pending)
        return len(orders)

    # Reading ---------------------------------------------------------------

    def get(self, order_id: str) -> PaymentOrder:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(store.payment_orders).where(store.payment_orders.c.order_id == order_id)
            ).first()
        if row is None:
            raise NotFound("no such payment order", code="order_not_found")
        return store.order_from_row(row)

    def get_for_party(self, party_id: int, order_id: str) -> PaymentOrder:
        """An order the party paid or received; anyone else's is reported as absent."""
        order = self.get(order_id)
        if order.payer_party_id != party_id and self._party_of(order.payee) != party_id:
            raise NotFound("no such payment order", code="order_not_found")
        return order

    def history(self, party_id: int, query: HistoryQuery) -> list[PaymentOrder]:
        """One page of the orders the party paid or received (into any of its accounts or wallets)."""
        accounts = self.identity.accounts_of(party_id)
        endpoints = [Endpoint(EndpointKind.ACCOUNT, a.account_id) for a in accounts]
        endpoints += [Endpoint(EndpointKind.WALLET, w.wallet_id) for w in self.wallets.of_party(party_id)]
        return search_history(self.engine, party_id, endpoints[:ENDPOINTS_MAX], query)

    def events(self, order_id: str) -> list[OrderEvent]:
        t = store.payment_order_events
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(t).where(t.c.order_id == order_id).order_by(t.c.seq)).all()
        return [
            OrderEvent(
                r.order_id,
                r.seq,
                None if r.from_status is None else OrderStatus(r.from_status),
                OrderStatus(r.to_status),
                r.actor,
                r.reason,
                r.at_ns,
            )
            for r in rows
        ]

    def outbox(self, *, after_seq: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """Payment events after a consumer's cursor, oldest first."""
        if not 1 <= limit <= 5_000:
            raise InvalidInput("limit is 1..5000", code="limit_invalid")
        t = store.payment_outbox
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(t).where(t.c.seq > after_seq).order_by(t.c.seq).limit(limit)
            ).all()
        return [
            {
                "seq": r.seq,
                "event_id": format_id(int.from_bytes(r.event_id, "big")),
                "type": r.event_type,
                "order_id": r.order_id,
                "payload": r.payload,
                "created_ns": r.created_ns,
            }
            for r in rows
        ]

    # Billers ---------------------------------------------------------------

    def register_biller(
        self, actor: Actor, *, name: str, category: str, account_id: str, reference_pattern: str
    ) -> Biller:
        """A public-service payee (government fees, hospital, school, utility) paid by reference."""
        if category not in _BILLER_CATEGORIES:
            raise InvalidInput(
                f"category is one of {sorted(_BILLER_CATEGORIES)}", code="biller_category_invalid"
            )
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 140:
            raise InvalidInput("a biller's name is 1..140 characters", code="biller_name_invalid")
        try:
            if len(reference_pattern) > 200:
                raise re.error("too long")
            re.compile(reference_pattern)
        except (re.error, TypeError):
            raise InvalidInput(
                "the reference pattern is not a valid regular expression",
                code="biller_reference_pattern_invalid",
            ) from None
        account = self.identity.get_account(account_id)
        biller = Biller(
            "b-" + format_id(self.ids.new_id()),
            name.strip(),
            category,
            account.account_id,
            reference_pattern,
            True,
        )
        with self.engine.begin() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(store.billers)).scalar_one()
            if count >= BILLERS_MAX:
                raise LimitExceeded(f"at most {BILLERS_MAX} billers", code="billers_too_many")
            connection.execute(
                sa.insert(store.billers),
                [
                    {
                        "biller_id": biller.biller_id,
                        "name": biller.name,
                        "category": category,
                        "account_id": account.account_id,
                        "reference_pattern": reference_pattern,
                        "active": True,
                        "created_ns": self.clock.now_ns(),
                    }
                ],
            )
        audit_change(
            self.audit,
            actor,
            "biller.register",
            "biller",
            biller.biller_id,
            {"name": biller.name, "category": category},
        )
        return biller

    def billers(self) -> list[Biller]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(store.billers).order_by(store.billers.c.name)).all()
        return [
            Biller(r.biller_id, r.name, r.category, r.account_id, r.reference_pattern, bool(r.active))
            for r in rows
        ]

    # Internals -----------------------------------------------------------

    def _existing_pairs(self, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], PaymentOrder]:
        """Orders already stored under these (payer party, idempotency key) pairs."""
        wanted = set(pairs)
        keys = sorted({key for _, key in wanted})
        parties = sorted({store.b16(party) for party, _ in wanted})
        t = store.payment_orders
        found: dict[tuple[int, str], PaymentOrder] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    sa.select(t).where(
                        t.c.idempotency_key.in_(keys[start : start + 500]), t.c.payer_party_id.in_(parties)
                    )
                )
                for r in rows:
                    order = store.order_from_row(r)
                    if (order.payer_party_id, order.idempotency_key) in wanted:
                        found[(order.payer_party_id, order.idempotency_key)] = order
        return found

    def _existing(self, party_id: int, keys: list[str]) -> dict[str, PaymentOrder]:
        if not keys:
            return {}
        t = store.payment_orders
        found: dict[str, PaymentOrder] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    sa.select(t).where(
                        t.c.payer_party_id == store.b16(party_id),
                        t.c.idempotency_key.in_(keys[start : start + 500]),
                    )
                )
                for r in rows:
                    found[r.idempotency_key] = store.order_from_row(r)
        return found

    def _known_payees(self, orders: list[PaymentOrder]) -> set[tuple[str, str]]:
        """(payer, payee) pairs with a settled order already (a known payee needs no SCA).

        One query per chunk of payers and payees (not one per payer), so a
        batch of many payers costs a few round trips.
        """
        t = store.payment_orders
        pairs = {(o.payer.key, o.payee.key) for o in orders}
        payer_ids = sorted({o.payer.id for o in orders})
        payee_ids = sorted({o.payee.id for o in orders})
        known: set[tuple[str, str]] = set()
        with self.engine.connect() as connection:
            for i in range(0, len(payer_ids), 200):
                for j in range(0, len(payee_ids), 500):
                    rows = connection.execute(
                        sa.select(t.c.payer_kind, t.c.payer_id, t.c.payee_kind, t.c.payee_id)
                        .distinct()
                        .where(
                            t.c.payer_id.in_(payer_ids[i : i + 200]),
                            t.c.payee_id.in_(payee_ids[j : j + 500]),
                            t.c.status == OrderStatus.SETTLED.value,
                        )
                    )
                    for r in rows:
                        known.add((f"{r.payer_kind}:{r.payer_id}", f"{r.payee_kind}:{r.payee_id}"))
        return known & pairs

    def _resolver(self, requests: list[OrderRequest]) -> Callable[[OrderRequest, int], dict[str, _Resolved]]:
        """Load every wallet, account and biller the batch names once; resolve per request."""
        wallet_ids = [e.id for r in requests for e in (r.payer, r.payee) if e.kind is EndpointKind.WALLET]
        account_ids = [e.id for r in requests for e in (r.payer, r.payee) if e.kind is EndpointKind.ACCOUNT]
        biller_ids = [r.payee.id for r in requests if r.payee.kind is EndpointKind.BILLER]
        wallets = self.wallets.get_many(list(set(wallet_ids))) if wallet_ids else {}
        billers: dict[str, Biller] = {}
        if biller_ids:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    sa.select(store.billers).where(store.billers.c.biller_id.in_(set(biller_ids)))
                )
                billers = {
                    r.biller_id: Biller(
                        r.biller_id, r.name, r.category, r.account_id, r.reference_pattern, bool(r.active)
                    )
                    for r in rows
                }
            account_ids.extend(b.account_id for b in billers.values())
        accounts = (
            {a.account_id: a for a in self.identity.get_accounts(list(set(account_ids)))}
            if account_ids
            else {}
        )
        clearing: dict[str, int] = {}

        def endpoint(e: Endpoint, request: OrderRequest, *, paying: bool) -> _Resolved:
            if e.kind is EndpointKind.WALLET:
                wallet = wallets.get(e.id)
                if wallet is None:
                    raise NotFound("no such wallet", code="payer_not_found" if paying else "payee_not_found")
                if wallet.status is not WalletStatus.ACTIVE:
                    raise Conflict("the wallet is not active", code="wallet_not_active")
                return _Resolved(wallet.accounts.balance, wallet.currency, wallet.party_id, wallet)
            if e.kind is EndpointKind.ACCOUNT:
                return _account(accounts.get(e.id), paying)
            if e.kind is EndpointKind.BILLER:
                biller = billers.get(e.id)
                if biller is None or not biller.active:
                    raise NotFound("no such biller", code="payee_not_found")
                if not re.fullmatch(biller.reference_pattern, request.payee_reference):
                    raise InvalidInput(
                        f"the reference does not match {biller.name}'s format", code="bill_reference_invalid"
                    )
                return _account(accounts.get(biller.account_id), False)
            validate_iban(e.id)
            if request.currency not in clearing:
                clearing[request.currency] = self.identity.bank_account(request.currency, "clearing")
            return _Resolved(clearing[request.currency], request.currency, None, None)

        def resolve(request: OrderRequest, party_id: int) -> dict[str, _Resolved]:
            payer = endpoint(request.payer, request, paying=True)
            if payer.party_id != party_id:
                raise NotFound("no such payer", code="payer_not_found")
            payee = endpoint(request.payee, request, paying=False)
            for side in (payer, payee):
                if side.currency != request.currency:
                    raise InvalidInput(
                        f"an account in {side.currency} cannot pay or receive {request.currency}",
                        code="currency_mismatch",
                    )
            if payer.wallet is not None and request.amount_minor > payer.wallet.per_payment_limit:
                raise LimitExceeded(
                    "the amount is above the wallet's per-payment limit",
                    code="wallet_per_payment_limit_exceeded",
                )
            return {"payer": payer, "payee": payee}

        return resolve

    def _party_of(self, e: Endpoint) -> int | None:
        try:
            if e.kind is EndpointKind.WALLET:
                return self.wallets.get(e.id).party_id
            if e.kind is EndpointKind.ACCOUNT:
                return self.identity.get_account(e.id).party_id
        except NotFound:
            return None
        return None

    def _append_event(
        self,
        connection: sa.Connection,
        order_id: str,
        source: OrderStatus | None,
        target: OrderStatus,
        actor: str,
        reason: str | None,
        now: int,
    ) -> None:
        t = store.payment_order_events
        seq = self._next_seq(connection, order_id) - 1
        connection.execute(
            sa.insert(t),
            [
                {
                    "order_id": order_id,
                    "seq": seq + 1,
                    "from_status": None if source is None else source.value,
                    "to_status": target.value,
                    "actor": actor[:80],
                    "reason": reason,
                    "at_ns": now,
                }
            ],
        )

    @staticmethod
    def _next_seq(connection: sa.Connection, order_id: str) -> int:
        t = store.payment_order_events
        last = connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(t.c.seq), 0)).where(t.c.order_id == order_id)
        ).scalar_one()
        return int(last) + 1

    def _emit_many(self, connection: sa.Connection, events: list[tuple[str, PaymentOrder]]) -> None:
        if not events:
            return
        now = self.clock.now_ns()
        insert_rows(
            connection,
            store.payment_outbox,
            [
                {
                    "event_id": store.b16(self.ids.new_id()),
                    "event_type": event_type,
                    "order_id": order.order_id,
                    "payload": _event_payload(order),
                    "created_ns": now,
                }
                for event_type, order in events
            ],
        )
        if self.on_event is not None:
            for event_type, order in events:
                self.on_event(connection, event_type, order)

    def _emit(self, connection: sa.Connection, event_type: str, order: PaymentOrder) -> None:
        self._emit_many(connection, [(event_type, order)])


def _event_payload(order: PaymentOrder) -> dict[str, Any]:
    return {
        "kind": order.kind.value,
        "status": order.status.value,
        "amount_minor": order.amount_minor,
        "currency": order.currency,
        "payer": order.payer.key,
        "payee": order.payee.key,
        "payer_party": format_id(order.payer_party_id),
        "reason": order.status_reason,
        "original_order_id": order.original_order_id,
    }


def _audit_entry(actor: Actor, action: str, order_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "actor_kind": actor.kind, "actor_id": actor.id, "action": action, "outcome": "succeeded",
        "subject_kind": "payment_order", "subject_id": order_id, "consent_id": actor.consent_id,
        "interaction_id": actor.interaction_id, "detail": detail,
    }  # fmt: skip


def _ledger_batches(pending: dict[int, _Pending]) -> list[dict[int, _Pending]]:
    """Split whole chains into ledger calls of at most ``BATCH_EVENTS_MAX`` events."""
    parts: list[dict[int, _Pending]] = [{}]
    events = 0
    for index, p in pending.items():
        if events + len(p.legs) > BATCH_EVENTS_MAX:
            parts.append({})
            events = 0
        parts[-1][index] = p
        events += len(p.legs)
    return parts


def _account(account: CustomerAccount | None, paying: bool) -> _Resolved:
    if account is None:
        raise NotFound("no such account", code="payer_not_found" if paying else "payee_not_found")
    if account.status is not AccountStatus.ENABLED:
        raise Conflict("the account is not enabled", code="account_not_enabled")
    return _Resolved(account.ledger_account_id, account.currency, account.party_id, None)


def _outcome(chain: list[tuple[LegRole, CreateTransferResult]]) -> tuple[OrderStatus, str | None]:
    if all(result in _OK for _, result in chain):
        return OrderStatus.SETTLED, None
    for role, result in chain:
        if result not in _OK and result is not CreateTransferResult.LINKED_EVENT_FAILED:
            return OrderStatus.REJECTED, _REFUSALS.get((role, result), result.value)
    return OrderStatus.REJECTED, CreateTransferResult.LINKED_EVENT_FAILED.value


def _trail_rows(
    order_id: str, trail: list[OrderStatus], actor: Actor, reason: str | None, now: int
) -> list[dict[str, Any]]:
    rows = []
    previous: OrderStatus | None = None
    for seq, status in enumerate(trail, start=1):
        if previous is not None:
            check_transition(previous, status)
        rows.append(
            {
                "order_id": order_id,
                "seq": seq,
                "from_status": None if previous is None else previous.value,
                "to_status": status.value,
                "actor": _actor_text(actor),
                "reason": reason if status in TERMINAL else None,
                "at_ns": now,
            }
        )
        previous = status
    return rows


def _actor_text(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"[:80]


def _as_request(order: PaymentOrder) -> OrderRequest:
    return OrderRequest(
        order.kind,
        order.payer,
        order.payee,
        order.amount_minor,
        order.currency,
        order.reference,
        order.payee_reference,
        order.original_order_id,
        order.payee_name,
    )


def _fingerprint(request: OrderRequest) -> str:
    body = orjson.dumps(
        [
            request.kind.value,
            request.payer.key,
            request.payee.key,
            request.amount_minor,
            request.currency,
            request.reference,
            request.payee_reference,
            request.original_order_id,
            # appended only when given, so fingerprints of orders without a name stay as they were
            *([request.payee_name] if request.payee_name else []),
        ]
    )
    return hashlib.sha256(body).hexdigest()


__all__ = ["AllowAll", "Biller", "PaymentOrders", "RiskHook"]
