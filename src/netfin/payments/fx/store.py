"""Tables of FX execution: executed quotes and payment-versus-payment settlements.

``fx_executions`` holds one row per quote ever executed; its primary key is
the quote id, so a quote can be used once (``fx_quote_used``). The row is
written BEFORE any money moves and fixes the ledger transfers that will
carry it (``first_transfer_id`` and the ``plan``), so that a retry after a
crash submits the very same transfers and the ledger's idempotency turns a
repeat into a no-op.

``pvp_settlements`` holds one row per PvP settlement: both legs (parties,
customer accounts, amounts, currencies), the ids of both pending transfers,
the state and the durable decision. Transfer ids follow a fixed layout from
the first leg's pending id ``p``: leg A pending ``p``, leg B pending ``p + 1``;
each leg's post is its pending id ``+ 2`` and its void its pending id ``+ 4``.

Public names: ``fx_executions``, ``pvp_settlements``, ``TABLES``, ``b16``,
``i16``.
"""

from __future__ import annotations

import sqlalchemy as sa

from netfin.storage import metadata

fx_executions = sa.Table(
    "fx_executions",
    metadata,
    sa.Column("quote_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False),
    sa.Column("debtor_account_id", sa.String(40), nullable=False),
    sa.Column("creditor_account_id", sa.String(40), nullable=False),
    sa.Column("source_currency", sa.String(3), nullable=False),
    sa.Column("source_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("target_currency", sa.String(3), nullable=False),
    sa.Column("target_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_legs", sa.SmallInteger, nullable=False),
    sa.Column("first_transfer_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("chain_length", sa.SmallInteger, nullable=False),
    # [[debit_hex, credit_hex, amount_minor, currency, code, leg_index], ...] in chain order.
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint("source_amount_minor > 0 AND target_amount_minor > 0", name="fx_amounts_positive"),
    sa.Index("ix_fx_executions_status", "status", "created_ns"),
)

pvp_settlements = sa.Table(
    "pvp_settlements",
    metadata,
    sa.Column("settlement_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    # "post" or "void", written before phase 2; NULL while undecided.
    sa.Column("decision", sa.String(8), nullable=True),
    sa.Column("leg_a_pending_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("leg_b_pending_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("party_a_id", sa.LargeBinary(16), nullable=False),
    sa.Column("party_b_id", sa.LargeBinary(16), nullable=False),
    # Leg A: party A pays party B; leg B: party B pays party A.
    sa.Column("leg_a_debtor_account_id", sa.String(40), nullable=False),
    sa.Column("leg_a_creditor_account_id", sa.String(40), nullable=False),
    sa.Column("leg_a_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("leg_a_currency", sa.String(3), nullable=False),
    sa.Column("leg_b_debtor_account_id", sa.String(40), nullable=False),
    sa.Column("leg_b_creditor_account_id", sa.String(40), nullable=False),
    sa.Column("leg_b_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("leg_b_currency", sa.String(3), nullable=False),
    sa.Column("timeout_seconds", sa.Integer, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("decided_ns", sa.BigInteger, nullable=True),
    sa.CheckConstraint("leg_a_amount_minor > 0 AND leg_b_amount_minor > 0", name="pvp_amounts_positive"),
    sa.CheckConstraint(
        "(decision IS NULL AND decided_ns IS NULL) OR (decision IS NOT NULL AND decided_ns IS NOT NULL)",
        name="pvp_decision_has_time",
    ),
    sa.Index("ix_pvp_settlements_state", "state", "created_ns"),
)

TABLES = (fx_executions, pvp_settlements)


def b16(value: int) -> bytes:
    return value.to_bytes(16, "big")


def i16(value: bytes) -> int:
    return int.from_bytes(value, "big")
