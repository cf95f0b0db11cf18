"""Device-mandate use cases: grant, revoke, expire, read, and pay on a device's signed request.

Paying, in three steps:

1. verify the device's Ed25519 signature over ``payment_message`` with the
   key the customer registered at grant;
2. one transaction *claims* the request: a compare-and-set moves
   ``last_counter`` up to the request's counter (a counter not above it is
   ``device_counter_replayed``), then, under the row lock that update holds,
   the mandate's rules are checked and the amount is added to the usage row
   of each periodic limit's current period, each update guarded by
   ``used_minor + amount <= limit``. A refusal after the counter moved still
   burns the counter, so a signed request is decided exactly once and cannot
   be replayed later when it would pass;
3. the payment order is submitted through ``PaymentOrders.submit`` with the
   idempotency key ``<mandate_id>:<counter>``. A rejected or expired order
   gives its usage back (once: the release is a compare-and-set on the
   request's state); a settled one keeps it.

A crash between steps 2 and 3 leaves the request ``reserved``; ``reconcile``
submits it again (the idempotency key makes that at most one order) or
records the outcome of the order it finds.

Invariants:
- counters of one mandate only rise; each counter is decided once;
- for every limit and period, ``used_minor`` is the sum of the reserved and
  settled requests of that period, and never above the limit (a database
  check, too);
- a mandate's endpoints and control parameters never change after grant;
- every change is in the audit log, and so is every refused device request
  for a known mandate.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import (
    Conflict,
    InvalidInput,
    LimitExceeded,
    NetfinError,
    NotFound,
    Unauthenticated,
    invariant,
)
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import AccountStatus, Actor, validate_iban
from netfin.identity.service import AuditSink, Identity, audit_change
from netfin.payments.mandates import store
from netfin.payments.mandates.model import (
    MANDATES_PER_PARTY_MAX,
    DevicePaymentRequest,
    Mandate,
    MandatePayment,
    MandatePaymentState,
    MandateStatus,
    MandateTerms,
    PeriodUsage,
    is_mandate_id,
    new_mandate_id,
)
from netfin.payments.orders import (
    EndpointKind,
    OrderKind,
    OrderRequest,
    OrderStatus,
    PaymentOrder,
    PaymentOrders,
)
from netfin.payments.wallets.model import WalletStatus
from netfin.payments.wallets.service import Wallets

LIST_LIMIT_MAX = 500
EXPIRE_BATCH_MAX = 500
RECONCILE_BATCH_MAX = 500
_SETTLED = frozenset({OrderStatus.SETTLED, OrderStatus.RETURNED})
_RELEASING = frozenset({OrderStatus.REJECTED, OrderStatus.EXPIRED})


class DeviceMandates:
    def __init__(
        self,
        engine: sa.Engine,
        orders: PaymentOrders,
        identity: Identity,
        wallets: Wallets,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
        mandates_per_party_max: int = MANDATES_PER_PARTY_MAX,
    ) -> None:
        self.engine = engine
        self.orders = orders
        self.identity = identity
        self.wallets = wallets
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.mandates_per_party_max = mandates_per_party_max

    # Granting and revoking -------------------------------------------------

    def grant(self, actor: Actor, party_id: int, terms: MandateTerms) -> Mandate:
        """A customer lets a device pay a fixed payee within the terms' limits, until they end."""
        now = self.clock.now_ns()
        valid_from = terms.check(now)
        try:
            Ed25519PublicKey.from_public_bytes(terms.device_public_key)
        except ValueError:
            raise InvalidInput("the device key is not an Ed25519 public key",
                               code="device_public_key_invalid") from None  # fmt: skip
        self._check_endpoints(party_id, terms)
        mandate = Mandate(
            mandate_id=new_mandate_id(self.ids.new_id()), party_id=party_id, payer=terms.payer,
            payee=terms.payee, currency=terms.currency, max_individual_minor=terms.max_individual_minor,
            periodic_limits=terms.periodic_limits, valid_from_ns=valid_from, valid_to_ns=terms.valid_to_ns,
            device_id=terms.device_id, device_public_key=terms.device_public_key, last_counter=0,
            status=MandateStatus.AUTHORISED, client_id=terms.client_id, created_ns=now, updated_ns=now,
        )  # fmt: skip
        m, h = store.mandates, store.mandate_holders
        with self.engine.begin() as connection:
            # The holder row is the party's lock: concurrent grants of one party take turns here.
            store.insert_absent(connection, h, {"party_id": store.b16(party_id), "grants_total": 0})
            connection.execute(
                sa.update(h)
                .where(h.c.party_id == store.b16(party_id))
                .values(grants_total=h.c.grants_total + 1)
            )
            active = connection.execute(
                sa.select(sa.func.count()).select_from(m).where(
                    m.c.party_id == store.b16(party_id), m.c.status == MandateStatus.AUTHORISED.value,
                    m.c.valid_to_ns > now)
            ).scalar_one()  # fmt: skip
            if active >= self.mandates_per_party_max:
                raise LimitExceeded(f"a party holds at most {self.mandates_per_party_max} active mandates",
                                    code="mandates_too_many")  # fmt: skip
            connection.execute(sa.insert(m), [store.mandate_values(mandate)])
            connection.execute(sa.insert(store.mandate_periodic_limits), store.limit_values(mandate))
        audit_change(self.audit, actor, "mandate.grant", "mandate", mandate.mandate_id, {
            "payer": mandate.payer.key, "payee": mandate.payee.key, "currency": mandate.currency,
            "max_individual_minor": mandate.max_individual_minor, "device_id": mandate.device_id,
            "valid_to_ns": mandate.valid_to_ns, "periodic_limits": _limits_text(mandate),
        })  # fmt: skip
        return mandate

    def revoke(self, actor: Actor, party_id: int, mandate_id: str) -> Mandate:
        """The customer withdraws the mandate; revoking one that is no longer active changes nothing."""
        mandate = self.get_for_party(party_id, mandate_id)
        if mandate.status is not MandateStatus.AUTHORISED:
            return mandate
        now = self.clock.now_ns()
        if not self._move(mandate_id, MandateStatus.AUTHORISED, MandateStatus.REVOKED, now):
            return self.get_for_party(party_id, mandate_id)
        audit_change(
            self.audit, actor, "mandate.revoke", "mandate", mandate_id, {"device_id": mandate.device_id}
        )
        return replace(mandate, status=MandateStatus.REVOKED, updated_ns=now)

    def expire_due(self, limit: int = EXPIRE_BATCH_MAX) -> int:
        """Authorised mandates past ``valid_to_ns`` become ``EXPD``; returns how many did."""
        now = self.clock.now_ns()
        m = store.mandates
        with self.engine.connect() as connection:
            due = connection.execute(
                sa.select(m.c.mandate_id)
                .where(m.c.status == MandateStatus.AUTHORISED.value, m.c.valid_to_ns <= now)
                .limit(min(limit, EXPIRE_BATCH_MAX))
            ).scalars().all()  # fmt: skip
        count = 0
        for mandate_id in due:
            if self._move(mandate_id, MandateStatus.AUTHORISED, MandateStatus.EXPIRED, now):
                audit_change(self.audit, Actor.system(), "mandate.expire", "mandate", mandate_id, {})
                count += 1
        return count

    def _move(self, mandate_id: str, source: MandateStatus, target: MandateStatus, now: int) -> bool:
        m = store.mandates
        with self.engine.begin() as connection:
            changed = connection.execute(
                sa.update(m).where(m.c.mandate_id == mandate_id, m.c.status == source.value)
                .values(status=target.value, updated_ns=now)
            ).rowcount  # fmt: skip
        return bool(changed == 1)

    def _check_endpoints(self, party_id: int, terms: MandateTerms) -> None:
        """The payer is the party's own active wallet or enabled account; the payee exists; one currency."""
        for endpoint, paying in ((terms.payer, True), (terms.payee, False)):
            missing = "payer_not_found" if paying else "payee_not_found"
            if endpoint.kind is EndpointKind.EXTERNAL:
                validate_iban(endpoint.id)
                continue
            try:
                if endpoint.kind is EndpointKind.WALLET:
                    wallet = self.wallets.get(endpoint.id)
                    owner, currency, usable = (
                        wallet.party_id,
                        wallet.currency,
                        wallet.status is WalletStatus.ACTIVE,
                    )
                    idle = "wallet_not_active"
                else:
                    account = self.identity.get_account(endpoint.id)
                    owner, currency = account.party_id, account.currency
                    usable, idle = account.status is AccountStatus.ENABLED, "account_not_enabled"
            except NotFound:
                raise NotFound(f"no such {endpoint.kind.value}", code=missing) from None
            if paying and owner != party_id:
                raise NotFound(f"no such {endpoint.kind.value}", code=missing)
            if not usable:
                raise Conflict(f"the {endpoint.kind.value} is not in use", code=idle)
            if currency != terms.currency:
                raise InvalidInput(f"the {endpoint.kind.value} holds {currency}, not {terms.currency}",
                                   code="currency_mismatch")  # fmt: skip

    # Reading ---------------------------------------------------------------

    def get(self, mandate_id: str) -> Mandate:
        """A mandate as its reader sees it (one past its end reads as ``EXPD``)."""
        mandate = self._load(mandate_id)
        return replace(mandate, status=mandate.status_at(self.clock.now_ns()))

    def get_for_party(self, party_id: int, mandate_id: str) -> Mandate:
        """The party's own mandate; anyone else's is reported as absent."""
        mandate = self.get(mandate_id)
        if mandate.party_id != party_id:
            raise NotFound("no such mandate", code="mandate_not_found")
        return mandate

    def list_for_party(self, party_id: int, *, limit: int = 100) -> list[Mandate]:
        """The party's mandates, newest first."""
        if not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(f"limit is 1..{LIST_LIMIT_MAX}", code="limit_invalid")
        now = self.clock.now_ns()
        with self.engine.connect() as connection:
            found = store.load_mandates(connection, store.mandates.c.party_id == store.b16(party_id), limit)
        return [replace(m, status=m.status_at(now)) for m in found]

    def usage_for_party(self, party_id: int, mandate_id: str) -> list[PeriodUsage]:
        """For each periodic limit, its current period and how much of it is used."""
        mandate = self.get_for_party(party_id, mandate_id)
        periods = mandate.periods(self.clock.now_ns())
        u = store.mandate_usage
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(u.c.limit_index, u.c.period_start_ns, u.c.used_minor)
                .where(u.c.mandate_id == mandate_id)
                .where(sa.tuple_(u.c.limit_index, u.c.period_start_ns).in_(
                    [(index, p.start_ns) for index, p in enumerate(periods)]))
            ).all()  # fmt: skip
        used = {(r.limit_index, r.period_start_ns): r.used_minor for r in rows}
        return [
            PeriodUsage(limit, period, used.get((index, period.start_ns), 0))
            for index, (limit, period) in enumerate(zip(mandate.periodic_limits, periods, strict=True))
        ]

    def payments_for_party(self, party_id: int, mandate_id: str, *, limit: int = 100) -> list[MandatePayment]:
        """The device's requests under the mandate that passed the counter check, newest first."""
        self.get_for_party(party_id, mandate_id)
        if not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(f"limit is 1..{LIST_LIMIT_MAX}", code="limit_invalid")
        p = store.mandate_payments
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(p).where(p.c.mandate_id == mandate_id).order_by(p.c.counter.desc()).limit(limit)
            ).all()
        return [store.payment_from_row(r) for r in rows]

    def _load(self, mandate_id: str) -> Mandate:
        if not is_mandate_id(mandate_id):
            raise NotFound("no such mandate", code="mandate_not_found")
        with self.engine.connect() as connection:
            found = store.load_mandates(connection, store.mandates.c.mandate_id == mandate_id, 1)
        if not found:
            raise NotFound("no such mandate", code="mandate_not_found")
        return found[0]

    # Paying ----------------------------------------------------------------

    def pay(self, request: DevicePaymentRequest) -> PaymentOrder:
        """Decide a device's signed request and, if the mandate allows it, make the payment order.

        Refusals, each with its code: ``mandate_not_found``,
        ``device_signature_invalid``, ``device_counter_replayed``,
        ``mandate_revoked``, ``mandate_expired``, ``mandate_not_yet_valid``,
        ``mandate_currency_mismatch``, ``mandate_individual_limit_exceeded``,
        ``mandate_periodic_limit_exceeded``; then any refusal of the order
        itself (which gives the usage back). A rejected order is returned,
        not raised, as ``PaymentOrders.submit`` does.
        """
        request.check()
        mandate = self._load(request.mandate_id)
        actor = _device_actor(mandate)
        if not _signature_valid(mandate.device_public_key, request.signature, request.message()):
            self._audit_refusal(actor, mandate, request.counter, "device_signature_invalid")
            raise Unauthenticated("the device signature is not valid", code="device_signature_invalid")
        refusal = self._claim(mandate, request, self.clock.now_ns())
        if refusal is not None:
            self._audit_refusal(actor, mandate, request.counter, refusal.code)
            raise refusal
        try:
            order = self.orders.submit(
                actor, mandate.party_id, _order_request(mandate, request),
                idempotency_key=_order_key(mandate.mandate_id, request.counter),
                pre_authorised_by=f"mandate:{mandate.mandate_id}",
            )  # fmt: skip
        except NetfinError as error:
            self._finish(mandate, request.counter, None, MandatePaymentState.RELEASED, error.code)
            self._audit_refusal(actor, mandate, request.counter, error.code)
            raise
        self._record_outcome(mandate, request.counter, order)
        audit_change(self.audit, actor, "mandate.payment", "mandate", mandate.mandate_id, {
            "counter": request.counter, "order_id": order.order_id, "status": order.status.value,
            "amount_minor": order.amount_minor, "currency": order.currency, "device_id": mandate.device_id,
        })  # fmt: skip
        return order

    def _claim(self, mandate: Mandate, request: DevicePaymentRequest, now: int) -> NetfinError | None:
        """Step 2: advance the counter, check the rules, count the usage; one transaction."""
        m = store.mandates
        with self.engine.begin() as connection:
            advanced = connection.execute(
                sa.update(m).where(m.c.mandate_id == mandate.mandate_id, m.c.last_counter < request.counter)
                .values(last_counter=request.counter, updated_ns=now)
            ).rowcount  # fmt: skip
            if advanced != 1:
                return Conflict("the counter is not above the last one used", code="device_counter_replayed")
            # The update above holds the mandate's row lock: read it again, as it is now.
            [fresh] = store.load_mandates(connection, m.c.mandate_id == mandate.mandate_id, 1)
            refusal = fresh.refusal(now, request.amount_minor, request.currency)
            if refusal is None:
                refusal = _use_periods(connection, fresh, request.amount_minor, now)
            expired = refusal is not None and refusal.code == "mandate_expired"
            if expired and fresh.status is MandateStatus.AUTHORISED:
                connection.execute(
                    sa.update(m).where(m.c.mandate_id == mandate.mandate_id, m.c.status == fresh.status.value)
                    .values(status=MandateStatus.EXPIRED.value)
                )  # fmt: skip
            state = MandatePaymentState.RESERVED if refusal is None else MandatePaymentState.REFUSED
            reason = None if refusal is None else refusal.code
            connection.execute(sa.insert(store.mandate_payments), [{
                "mandate_id": mandate.mandate_id, "counter": request.counter,
                "amount_minor": request.amount_minor, "currency": request.currency,
                "reference": request.reference, "state": state.value, "reason": reason, "order_id": None,
                "requested_ns": now, "updated_ns": now}])  # fmt: skip
        if expired and fresh.status is MandateStatus.AUTHORISED:
            audit_change(self.audit, Actor.system(), "mandate.expire", "mandate", mandate.mandate_id, {})
        return refusal

    def _record_outcome(self, mandate: Mandate, counter: int, order: PaymentOrder) -> None:
        if order.status in _SETTLED:
            state = MandatePaymentState.SETTLED
        elif order.status in _RELEASING:
            state = MandatePaymentState.RELEASED
        else:  # waiting for a confirmation or for the ledger: the usage stays counted
            state = MandatePaymentState.RESERVED
        self._finish(mandate, counter, order.order_id, state, order.status_reason)

    def _finish(
        self,
        mandate: Mandate,
        counter: int,
        order_id: str | None,
        state: MandatePaymentState,
        reason: str | None,
    ) -> None:
        """Record a request's outcome; a release gives its usage back, once."""
        p, u = store.mandate_payments, store.mandate_usage
        now = self.clock.now_ns()
        key = (p.c.mandate_id == mandate.mandate_id, p.c.counter == counter)
        with self.engine.begin() as connection:
            changed = connection.execute(
                sa.update(p).where(*key, p.c.state == MandatePaymentState.RESERVED.value)
                .values(state=state.value, reason=reason, updated_ns=now,
                        **({} if order_id is None else {"order_id": order_id}))
            ).rowcount  # fmt: skip
            if changed != 1 or state is not MandatePaymentState.RELEASED:
                return
            row = connection.execute(sa.select(p.c.amount_minor, p.c.requested_ns).where(*key)).one()
            for index, period in enumerate(mandate.periods(row.requested_ns)):
                given_back = connection.execute(
                    sa.update(u).where(u.c.mandate_id == mandate.mandate_id, u.c.limit_index == index,
                                       u.c.period_start_ns == period.start_ns,
                                       u.c.used_minor >= row.amount_minor)
                    .values(used_minor=u.c.used_minor - row.amount_minor)
                ).rowcount  # fmt: skip
                invariant(given_back == 1, "a reserved request's usage is counted in its period")

    def reconcile(self, *, older_than_s: int = 30) -> int:
        """Finish requests a crash left ``reserved``, or whose order waited; returns how many were looked at.

        A request without an order is submitted again while its mandate is
        still active (the idempotency key returns the order if it was made);
        one whose mandate ended stays reserved, which over-counts a mandate
        that can no longer pay and so does no harm.
        """
        cutoff = self.clock.now_ns() - older_than_s * NS_PER_SECOND
        p = store.mandate_payments
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(p).where(p.c.state == MandatePaymentState.RESERVED.value, p.c.updated_ns <= cutoff)
                .order_by(p.c.updated_ns).limit(RECONCILE_BATCH_MAX)
            ).all()  # fmt: skip
        for row in rows:
            payment = store.payment_from_row(row)
            mandate = self._load(payment.mandate_id)
            if payment.order_id is not None:
                self._record_outcome(mandate, payment.counter, self.orders.get(payment.order_id))
                continue
            if mandate.status_at(self.clock.now_ns()) is not MandateStatus.AUTHORISED:
                continue
            request = OrderRequest(_order_kind(mandate), mandate.payer, mandate.payee, payment.amount_minor,
                                   payment.currency, payment.reference)  # fmt: skip
            try:
                order = self.orders.submit(
                    _device_actor(mandate), mandate.party_id, request,
                    idempotency_key=_order_key(mandate.mandate_id, payment.counter),
                    pre_authorised_by=f"mandate:{mandate.mandate_id}",
                )  # fmt: skip
            except NetfinError as error:
                self._finish(mandate, payment.counter, None, MandatePaymentState.RELEASED, error.code)
                continue
            self._record_outcome(mandate, payment.counter, order)
        return len(rows)

    def _audit_refusal(self, actor: Actor, mandate: Mandate, counter: int, code: str) -> None:
        self.audit.record(
            actor_kind=actor.kind, actor_id=actor.id, action="mandate.payment", outcome="refused",
            subject_kind="mandate", subject_id=mandate.mandate_id, consent_id=mandate.mandate_id,
            reason=code[:64], detail={"counter": counter, "device_id": mandate.device_id},
        )  # fmt: skip


def _use_periods(
    connection: sa.Connection, mandate: Mandate, amount_minor: int, now: int
) -> NetfinError | None:
    """Add the amount to each limit's current period, or refuse with nothing added."""
    u = store.mandate_usage
    periods = mandate.periods(now)
    for index, (limit, period) in enumerate(zip(mandate.periodic_limits, periods, strict=True)):
        store.insert_absent(connection, u, {
            "mandate_id": mandate.mandate_id, "limit_index": index, "period_start_ns": period.start_ns,
            "limit_minor": limit.amount_minor, "used_minor": 0,
        })  # fmt: skip
    keys = [(index, period.start_ns) for index, period in enumerate(periods)]
    rows = connection.execute(
        sa.select(u.c.limit_index, u.c.used_minor)
        .where(u.c.mandate_id == mandate.mandate_id)
        .where(sa.tuple_(u.c.limit_index, u.c.period_start_ns).in_(keys))
    ).all()  # fmt: skip
    used = {r.limit_index: r.used_minor for r in rows}
    for index, limit in enumerate(mandate.periodic_limits):
        if used[index] + amount_minor > limit.amount_minor:
            return LimitExceeded(f"the amount would pass the mandate's {limit.period_type.value} limit",
                                 code="mandate_periodic_limit_exceeded")  # fmt: skip
    for index, period_start_ns in keys:
        counted = connection.execute(
            sa.update(u).where(u.c.mandate_id == mandate.mandate_id, u.c.limit_index == index,
                               u.c.period_start_ns == period_start_ns,
                               u.c.used_minor + amount_minor <= u.c.limit_minor)
            .values(used_minor=u.c.used_minor + amount_minor)
        ).rowcount  # fmt: skip
        # Only releases touch these rows without the mandate's lock, and they only make room.
        invariant(counted == 1, "usage checked under the mandate's lock still fits")
    return None


def _signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _device_actor(mandate: Mandate) -> Actor:
    """Who a device payment is recorded as: the TPP that set the mandate up, else the customer, under it."""
    if mandate.client_id is not None:
        return Actor("tpp", mandate.client_id, consent_id=mandate.mandate_id)
    return Actor("customer", format_id(mandate.party_id), consent_id=mandate.mandate_id)


def _order_kind(mandate: Mandate) -> OrderKind:
    if mandate.payer.kind is EndpointKind.WALLET and mandate.payee.kind is EndpointKind.WALLET:
        return OrderKind.WALLET_TO_WALLET
    return OrderKind.ACCOUNT_TO_ACCOUNT


def _order_request(mandate: Mandate, request: DevicePaymentRequest) -> OrderRequest:
    return OrderRequest(
        _order_kind(mandate),
        mandate.payer,
        mandate.payee,
        request.amount_minor,
        request.currency,
        request.reference,
    )


def _limits_text(mandate: Mandate) -> str:
    return ",".join(
        f"{x.period_type.value}/{x.period_alignment.value}/{x.amount_minor}" for x in mandate.periodic_limits
    )


def _order_key(mandate_id: str, counter: int) -> str:
    return f"{mandate_id}:{counter}"


__all__ = ["DeviceMandates"]
