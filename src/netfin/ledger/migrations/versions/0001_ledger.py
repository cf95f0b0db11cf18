"""The ledger: accounts, transfers, pending transfers, journal, checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.LargeBinary(16)
INT64 = sa.BigInteger()
# In SQLite an INTEGER PRIMARY KEY is the rowid: the table is the index.
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("user_data_128", ID, nullable=False),
        sa.Column("user_data_64", INT64, nullable=False),
        sa.Column("user_data_32", INT64, nullable=False),
        sa.Column("debits_pending", INT64, nullable=False),
        sa.Column("debits_posted", INT64, nullable=False),
        sa.Column("credits_pending", INT64, nullable=False),
        sa.Column("credits_posted", INT64, nullable=False),
        sa.Column("closed", sa.SmallInteger, nullable=False),
        sa.Column("timestamp", INT64, nullable=False, unique=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "transfers",
        sa.Column("timestamp", ROWID, primary_key=True, autoincrement=False),
        sa.Column("id", ID, nullable=False, unique=True),
        sa.Column("debit_account_id", ID, nullable=False),
        sa.Column("credit_account_id", ID, nullable=False),
        sa.Column("amount", INT64, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("pending_id", ID, nullable=False),
        sa.Column("timeout", INT64, nullable=False),
        sa.Column("user_data_128", ID, nullable=False),
        sa.Column("user_data_64", INT64, nullable=False),
        sa.Column("user_data_32", INT64, nullable=False),
    )
    op.create_index("ix_transfers_debit", "transfers", ["debit_account_id", "timestamp"])
    op.create_index("ix_transfers_credit", "transfers", ["credit_account_id", "timestamp"])
    op.create_table(
        "pending_transfers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("expires_at", INT64, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_pending_due",
        "pending_transfers",
        ["expires_at"],
        sqlite_where=sa.text("status = 1 AND expires_at > 0"),
        postgresql_where=sa.text("status = 1 AND expires_at > 0"),
    )
    op.create_table(
        "journal",
        sa.Column("seq", ROWID, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("ref_id", ID, nullable=False),
        sa.Column("timestamp", INT64, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "account_balances",
        sa.Column("account_id", ID, primary_key=True),
        sa.Column("timestamp", INT64, primary_key=True),
        sa.Column("debits_pending", INT64, nullable=False),
        sa.Column("debits_posted", INT64, nullable=False),
        sa.Column("credits_pending", INT64, nullable=False),
        sa.Column("credits_posted", INT64, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("seq", ROWID, primary_key=True, autoincrement=False),
        sa.Column("tree_size", INT64, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", INT64, nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    # The single row every writer locks first: it serialises writers, so the
    # hash chain stays linear and no two batches can deadlock.
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", INT64, nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", INT64, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "chain_hash": bytes(32), "timestamp": 0}])


def downgrade() -> None:
    for table in (
        "ledger_head",
        "checkpoints",
        "account_balances",
        "journal",
        "pending_transfers",
        "transfers",
        "accounts",
    ):
        op.drop_table(table)
