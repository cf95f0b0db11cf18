"""Tables of device mandates: the mandates, their periodic limits, usage per period, device requests.

- ``mandates``: one row per mandate; ``last_counter`` is the highest counter
  a device request was decided with (the compare-and-set target).
- ``mandate_periodic_limits``: the OB ``PeriodicLimits`` of a mandate, fixed
  at grant.
- ``mandate_usage``: what the payments of one period used of one limit. The
  row carries the limit itself so that the database, not only the service,
  refuses ``used_minor`` above it.
- ``mandate_payments``: one row per signed request that passed the counter
  check (reserved, settled, released or refused), keyed by its counter.
- ``mandate_holders``: one row per party that ever held a mandate; grants
  of one party lock it, so the count of active mandates is checked without
  a race on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from netfin.payments.mandates.model import (
    Mandate,
    MandatePayment,
    MandatePaymentState,
    MandateStatus,
    PeriodAlignment,
    PeriodicLimit,
    PeriodType,
)
from netfin.payments.orders.model import Endpoint, EndpointKind
from netfin.storage import metadata

mandates = sa.Table(
    "mandates",
    metadata,
    sa.Column("mandate_id", sa.String(40), primary_key=True),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False),
    sa.Column("payer_kind", sa.String(16), nullable=False),
    sa.Column("payer_id", sa.String(64), nullable=False),
    sa.Column("payee_kind", sa.String(16), nullable=False),
    sa.Column("payee_id", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("max_individual_minor", sa.BigInteger, nullable=False),
    sa.Column("valid_from_ns", sa.BigInteger, nullable=False),
    sa.Column("valid_to_ns", sa.BigInteger, nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("device_public_key", sa.LargeBinary(32), nullable=False),
    sa.Column("last_counter", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(4), nullable=False),
    sa.Column("client_id", sa.String(128), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint("max_individual_minor > 0", name="max_individual_positive"),
    sa.CheckConstraint("valid_to_ns > valid_from_ns", name="validity_ordered"),
    sa.CheckConstraint("last_counter >= 0", name="counter_not_negative"),
    sa.CheckConstraint("status IN ('AUTH', 'CANC', 'EXPD')", name="status_known"),
    sa.Index("ix_mandates_party_id_status", "party_id", "status"),
    sa.Index("ix_mandates_status_valid_to_ns", "status", "valid_to_ns"),
)

mandate_periodic_limits = sa.Table(
    "mandate_periodic_limits",
    metadata,
    sa.Column("mandate_id", sa.String(40), primary_key=True),
    sa.Column("limit_index", sa.SmallInteger, primary_key=True),
    sa.Column("period_type", sa.String(16), nullable=False),
    sa.Column("period_alignment", sa.String(16), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
)

mandate_usage = sa.Table(
    "mandate_usage",
    metadata,
    sa.Column("mandate_id", sa.String(40), primary_key=True),
    sa.Column("limit_index", sa.SmallInteger, primary_key=True),
    sa.Column("period_start_ns", sa.BigInteger, primary_key=True),
    sa.Column("limit_minor", sa.BigInteger, nullable=False),
    sa.Column("used_minor", sa.BigInteger, nullable=False),
    sa.CheckConstraint("used_minor >= 0 AND used_minor <= limit_minor", name="used_within_limit"),
)

mandate_payments = sa.Table(
    "mandate_payments",
    metadata,
    sa.Column("mandate_id", sa.String(40), primary_key=True),
    sa.Column("counter", sa.BigInteger, primary_key=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reference", sa.String(35), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("requested_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_mandate_payments_state_updated_ns", "state", "updated_ns"),
)

mandate_holders = sa.Table(
    "mandate_holders",
    metadata,
    sa.Column("party_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("grants_total", sa.BigInteger, nullable=False),
)

TABLES = (mandates, mandate_periodic_limits, mandate_usage, mandate_payments, mandate_holders)


def b16(value: int) -> bytes:
    return value.to_bytes(16, "big")


def insert_absent(connection: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """Insert a row unless one with its primary key exists (a no-op, not an error, when it does)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def mandate_values(m: Mandate) -> dict[str, Any]:
    return {
        "mandate_id": m.mandate_id,
        "party_id": b16(m.party_id),
        "payer_kind": m.payer.kind.value,
        "payer_id": m.payer.id,
        "payee_kind": m.payee.kind.value,
        "payee_id": m.payee.id,
        "currency": m.currency,
        "max_individual_minor": m.max_individual_minor,
        "valid_from_ns": m.valid_from_ns,
        "valid_to_ns": m.valid_to_ns,
        "device_id": m.device_id,
        "device_public_key": m.device_public_key,
        "last_counter": m.last_counter,
        "status": m.status.value,
        "client_id": m.client_id,
        "created_ns": m.created_ns,
        "updated_ns": m.updated_ns,
    }


def limit_values(m: Mandate) -> list[dict[str, Any]]:
    return [
        {"mandate_id": m.mandate_id, "limit_index": index, "period_type": limit.period_type.value,
         "period_alignment": limit.period_alignment.value, "amount_minor": limit.amount_minor}
        for index, limit in enumerate(m.periodic_limits)
    ]  # fmt: skip


def load_mandates(connection: sa.Connection, condition: sa.ColumnElement[bool], limit: int) -> list[Mandate]:
    """Mandates that meet ``condition``, newest first, with their periodic limits."""
    rows = connection.execute(
        sa.select(mandates)
        .where(condition)
        .order_by(mandates.c.created_ns.desc(), mandates.c.mandate_id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    t = mandate_periodic_limits
    limits: dict[str, list[PeriodicLimit]] = {}
    for r in connection.execute(
        sa.select(t)
        .where(t.c.mandate_id.in_([r.mandate_id for r in rows]))
        .order_by(t.c.mandate_id, t.c.limit_index)
    ):
        limits.setdefault(r.mandate_id, []).append(
            PeriodicLimit(PeriodType(r.period_type), PeriodAlignment(r.period_alignment), r.amount_minor)
        )
    return [_mandate_from_row(r, tuple(limits.get(r.mandate_id, ()))) for r in rows]


def _mandate_from_row(r: sa.Row[Any], limits: tuple[PeriodicLimit, ...]) -> Mandate:
    return Mandate(
        mandate_id=r.mandate_id,
        party_id=int.from_bytes(r.party_id, "big"),
        payer=Endpoint(EndpointKind(r.payer_kind), r.payer_id),
        payee=Endpoint(EndpointKind(r.payee_kind), r.payee_id),
        currency=r.currency,
        max_individual_minor=r.max_individual_minor,
        periodic_limits=limits,
        valid_from_ns=r.valid_from_ns,
        valid_to_ns=r.valid_to_ns,
        device_id=r.device_id,
        device_public_key=bytes(r.device_public_key),
        last_counter=r.last_counter,
        status=MandateStatus(r.status),
        client_id=r.client_id,
        created_ns=r.created_ns,
        updated_ns=r.updated_ns,
    )


def payment_from_row(r: sa.Row[Any]) -> MandatePayment:
    return MandatePayment(
        mandate_id=r.mandate_id,
        counter=r.counter,
        amount_minor=r.amount_minor,
        currency=r.currency,
        reference=r.reference,
        state=MandatePaymentState(r.state),
        reason=r.reason,
        order_id=r.order_id,
        requested_ns=r.requested_ns,
        updated_ns=r.updated_ns,
    )
