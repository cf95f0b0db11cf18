"""Risk control: decisions, analysts' labels, operator overrides, limit changes.

Tables: risk_decisions, risk_labels, risk_limit_changes, risk_overrides.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_decisions",
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("payer", sa.String(length=64), nullable=False),
        sa.Column("payee", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("segment", sa.String(length=24), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=80), nullable=True),
        sa.Column("challenger_score", sa.Float(), nullable=True),
        sa.Column("challenger_version", sa.String(length=80), nullable=True),
        sa.Column("ruleset_version", sa.String(length=100), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("decided_ns", sa.BigInteger(), nullable=False),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_risk_decisions")),
    )
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_risk_decisions_action_decided", ["action", "decided_ns"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_decisions_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_risk_decisions_payer_decided", ["payer", "decided_ns"], unique=False)
    op.create_table(
        "risk_labels",
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("analyst", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("labelled_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_risk_labels")),
    )
    op.create_table(
        "risk_limit_changes",
        sa.Column("change_id", sa.String(length=40), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("limit_name", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("from_minor", sa.BigInteger(), nullable=False),
        sa.Column("to_minor", sa.BigInteger(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("changed_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_risk_limit_changes")),
    )
    with op.batch_alter_table("risk_limit_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_limit_changes_party"), ["party"], unique=False)
    op.create_table(
        "risk_overrides",
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_ns", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('block', 'allow')", name=op.f("ck_risk_overrides_override_kind")),
        sa.PrimaryKeyConstraint("party", name=op.f("pk_risk_overrides")),
    )


def downgrade() -> None:
    op.drop_table("risk_overrides")
    with op.batch_alter_table("risk_limit_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_limit_changes_party"))
    op.drop_table("risk_limit_changes")
    op.drop_table("risk_labels")
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_decisions_payer_decided")
        batch_op.drop_index(batch_op.f("ix_risk_decisions_order_id"))
        batch_op.drop_index("ix_risk_decisions_action_decided")
    op.drop_table("risk_decisions")
