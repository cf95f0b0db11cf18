"""Tables of payment orders: orders, their transitions, billers and the payments outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderStatus, PaymentOrder
from netfin.storage import metadata

payment_orders = sa.Table(
    "payment_orders",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payer_party_id", sa.LargeBinary(16), nullable=False),
    sa.Column("payer_kind", sa.String(16), nullable=False),
    sa.Column("payer_id", sa.String(64), nullable=False),
    sa.Column("payee_kind", sa.String(16), nullable=False),
    sa.Column("payee_id", sa.String(64), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reference", sa.String(140), nullable=False),
    sa.Column("payee_reference", sa.String(35), nullable=False),
    sa.Column("payee_name", sa.String(140), nullable=False, server_default=""),
    sa.Column("original_order_id", sa.String(40), nullable=True, index=True),
    sa.Column("refunded_minor", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("first_transfer_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("chain_length", sa.SmallInteger, nullable=False),
    sa.Column("sca_required", sa.Boolean, nullable=False),
    sa.Column("sca_reasons", sa.String(200), nullable=False),
    sa.Column("risk_action", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.String(64), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("payer_party_id", "idempotency_key", name="payer_idempotency_key"),
    sa.CheckConstraint(
        "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refunds_within_amount"
    ),
    sa.Index("ix_payment_orders_status_expires_ns", "status", "expires_ns"),
    sa.Index("ix_payment_orders_payer", "payer_kind", "payer_id", "payee_kind", "payee_id", "status"),
)

payment_order_events = sa.Table(
    "payment_order_events",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("seq", sa.SmallInteger, primary_key=True),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
)

billers = sa.Table(
    "billers",
    metadata,
    sa.Column("biller_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(140), nullable=False),
    sa.Column("category", sa.String(24), nullable=False),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("reference_pattern", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

# Domain events for the consumers inside the bank (risk feedback, AML, carbon
# points, webhooks); read in ``seq`` order from a consumer's own cursor.
payment_outbox = sa.Table(
    "payment_outbox",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("event_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

TABLES = (payment_orders, payment_order_events, billers, payment_outbox)


def b16(value: int) -> bytes:
    return value.to_bytes(16, "big")


def order_values(o: PaymentOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "kind": o.kind.value,
        "status": o.status.value,
        "payer_party_id": b16(o.payer_party_id),
        "payer_kind": o.payer.kind.value,
        "payer_id": o.payer.id,
        "payee_kind": o.payee.kind.value,
        "payee_id": o.payee.id,
        "amount_minor": o.amount_minor,
        "currency": o.currency,
        "reference": o.reference,
        "payee_reference": o.payee_reference,
        "payee_name": o.payee_name,
        "original_order_id": o.original_order_id,
        "refunded_minor": o.refunded_minor,
        "idempotency_key": o.idempotency_key,
        "fingerprint": o.fingerprint,
        "first_transfer_id": b16(o.first_transfer_id),
        "chain_length": o.chain_length,
        "sca_required": o.sca_required,
        "sca_reasons": ",".join(o.sca_reasons),
        "risk_action": o.risk_action,
        "status_reason": o.status_reason,
        "created_ns": o.created_ns,
        "updated_ns": o.updated_ns,
        "expires_ns": o.expires_ns,
    }


def order_from_row(r: sa.Row[Any]) -> PaymentOrder:
    return PaymentOrder(
        order_id=r.order_id,
        kind=OrderKind(r.kind),
        status=OrderStatus(r.status),
        payer_party_id=int.from_bytes(r.payer_party_id, "big"),
        payer=Endpoint(EndpointKind(r.payer_kind), r.payer_id),
        payee=Endpoint(EndpointKind(r.payee_kind), r.payee_id),
        amount_minor=r.amount_minor,
        currency=r.currency,
        reference=r.reference,
        payee_reference=r.payee_reference,
        payee_name=r.payee_name,
        original_order_id=r.original_order_id,
        refunded_minor=r.refunded_minor,
        idempotency_key=r.idempotency_key,
        fingerprint=r.fingerprint,
        first_transfer_id=int.from_bytes(r.first_transfer_id, "big"),
        chain_length=r.chain_length,
        sca_required=bool(r.sca_required),
        sca_reasons=tuple(x for x in r.sca_reasons.split(",") if x),
        risk_action=r.risk_action,
        status_reason=r.status_reason,
        created_ns=r.created_ns,
        updated_ns=r.updated_ns,
        expires_ns=r.expires_ns,
    )
