"""The ``domestic_payments`` table and its row codec."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from netfin.payments.model import (
    CreditorAccount,
    DomesticInitiation,
    DomesticPayment,
    PaymentStatus,
)
from netfin.storage import metadata

domestic_payments = sa.Table(
    "domestic_payments",
    metadata,
    sa.Column("payment_id", sa.String(40), primary_key=True),
    sa.Column("consent_id", sa.String(128), nullable=False, unique=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False),
    sa.Column("debtor_account_id", sa.String(40), nullable=False),
    sa.Column("instruction_identification", sa.String(35), nullable=False),
    sa.Column("end_to_end_identification", sa.String(35), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("creditor_scheme", sa.String(40), nullable=False),
    sa.Column("creditor_identification", sa.String(256), nullable=False),
    sa.Column("creditor_name", sa.String(350), nullable=False),
    sa.Column("reference", sa.String(35), nullable=True),
    sa.Column("unstructured", sa.String(140), nullable=True),
    sa.Column("transfer_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("internal_creditor_account_id", sa.String(40), nullable=True),
    sa.Column("status", sa.String(4), nullable=False),
    sa.Column("status_reason", sa.String(64), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("status_updated_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_domestic_payments_status_created_ns", "status", "created_ns"),
    sa.Index("ix_domestic_payments_debtor_account_id", "debtor_account_id"),
)

TABLES = (domestic_payments,)


# PostgreSQL, step 1: the order's INSERT as the statement that follows a consent's
# ``WITH consumed AS (UPDATE consents ... RETURNING 1)``; it inserts only when that
# statement consumed the consent (parameters: ``payment_values``).
_COLUMNS = tuple(c.name for c in domestic_payments.c)
INSERT_IF_CONSUMED_SQL = (
    f"INSERT INTO domestic_payments ({', '.join(_COLUMNS)}) "
    f"SELECT {', '.join(f'%({name})s' for name in _COLUMNS)} "
    "WHERE EXISTS (SELECT 1 FROM consumed) RETURNING 1"
)
# PostgreSQL, step 3: the order out of pending, as the body of a data-modifying CTE.
FINISH_SQL = (
    "UPDATE domestic_payments SET status = %(status)s, status_reason = %(status_reason)s, "
    "status_updated_ns = %(status_updated_ns)s WHERE payment_id = %(payment_id)s AND status = %(pending)s "
    "RETURNING 1"
)


def payment_values(p: DomesticPayment) -> dict[str, Any]:
    i = p.initiation
    return {
        "payment_id": p.payment_id,
        "consent_id": p.consent_id,
        "client_id": p.client_id,
        "party_id": p.party_id.to_bytes(16, "big"),
        "debtor_account_id": p.debtor_account_id,
        "instruction_identification": i.instruction_identification,
        "end_to_end_identification": i.end_to_end_identification,
        "amount_minor": i.amount_minor,
        "currency": i.currency,
        "creditor_scheme": i.creditor.scheme_name,
        "creditor_identification": i.creditor.identification,
        "creditor_name": i.creditor.name,
        "reference": i.reference,
        "unstructured": i.unstructured,
        "transfer_id": p.transfer_id.to_bytes(16, "big"),
        "internal_creditor_account_id": p.internal_creditor_account_id,
        "status": p.status.value,
        "status_reason": p.status_reason,
        "created_ns": p.created_ns,
        "status_updated_ns": p.status_updated_ns,
    }


def payment_from_row(r: sa.Row[Any]) -> DomesticPayment:
    return DomesticPayment(
        payment_id=r.payment_id,
        consent_id=r.consent_id,
        client_id=r.client_id,
        party_id=int.from_bytes(r.party_id, "big"),
        debtor_account_id=r.debtor_account_id,
        initiation=DomesticInitiation(
            instruction_identification=r.instruction_identification,
            end_to_end_identification=r.end_to_end_identification,
            amount_minor=r.amount_minor,
            currency=r.currency,
            creditor=CreditorAccount(r.creditor_scheme, r.creditor_identification, r.creditor_name),
            reference=r.reference,
            unstructured=r.unstructured,
        ),
        transfer_id=int.from_bytes(r.transfer_id, "big"),
        internal_creditor_account_id=r.internal_creditor_account_id,
        status=PaymentStatus(r.status),
        status_reason=r.status_reason,
        created_ns=r.created_ns,
        status_updated_ns=r.status_updated_ns,
    )
