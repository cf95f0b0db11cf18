"""Credit: applications and their decisions, loans, revolving lines, and every booking of them.

Tables: credit_applications, credit_lines, credit_loan_events, credit_loans.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_applications",
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=80), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=4), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("price", sa.JSON(), nullable=True),
        sa.Column("offer", sa.JSON(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("scorer", sa.String(length=80), nullable=False),
        sa.Column("profile_version", sa.String(length=40), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_credit_applications")),
    )
    op.create_index(
        op.f("ix_credit_applications_party_id"), "credit_applications", ["party_id"], unique=False
    )
    op.create_table(
        "credit_lines",
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("floor_minor", sa.BigInteger(), nullable=False),
        sa.Column("ceiling_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", sa.String(length=24), nullable=False),
        sa.Column("receivable_account_id", sa.String(length=40), nullable=False),
        sa.Column("limit_account_id", sa.String(length=40), nullable=False),
        sa.Column("settlement_account_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("drawn_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_due_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_through", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_credit_lines")),
        sa.UniqueConstraint("application_id", name=op.f("uq_credit_lines_application_id")),
        sa.UniqueConstraint("limit_account_id", name=op.f("uq_credit_lines_limit_account_id")),
        sa.UniqueConstraint("receivable_account_id", name=op.f("uq_credit_lines_receivable_account_id")),
    )
    op.create_index(op.f("ix_credit_lines_party_id"), "credit_lines", ["party_id"], unique=False)
    op.create_table(
        "credit_loan_events",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("first_transfer_id", sa.String(length=40), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_credit_loan_events")),
        sa.UniqueConstraint("loan_id", "base_version", name="uq_credit_loan_events_loan_version"),
    )
    op.create_index(op.f("ix_credit_loan_events_loan_id"), "credit_loan_events", ["loan_id"], unique=False)
    op.create_table(
        "credit_loans",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", sa.String(length=24), nullable=False),
        sa.Column("ledger_account_id", sa.String(length=40), nullable=False),
        sa.Column("settlement_account_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_account_id", sa.String(length=64), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("position", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("serviced_on", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_credit_loans")),
        sa.UniqueConstraint("application_id", name=op.f("uq_credit_loans_application_id")),
        sa.UniqueConstraint("ledger_account_id", name=op.f("uq_credit_loans_ledger_account_id")),
    )
    op.create_index(op.f("ix_credit_loans_party_id"), "credit_loans", ["party_id"], unique=False)
    op.create_index("ix_credit_loans_status_bucket", "credit_loans", ["status", "bucket"], unique=False)
    op.create_index(
        "ix_credit_loans_status_serviced", "credit_loans", ["status", "serviced_on"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_credit_loans_status_serviced", table_name="credit_loans")
    op.drop_index("ix_credit_loans_status_bucket", table_name="credit_loans")
    op.drop_index(op.f("ix_credit_loans_party_id"), table_name="credit_loans")
    op.drop_table("credit_loans")
    op.drop_index(op.f("ix_credit_loan_events_loan_id"), table_name="credit_loan_events")
    op.drop_table("credit_loan_events")
    op.drop_index(op.f("ix_credit_lines_party_id"), table_name="credit_lines")
    op.drop_table("credit_lines")
    op.drop_index(op.f("ix_credit_applications_party_id"), table_name="credit_applications")
    op.drop_table("credit_applications")
