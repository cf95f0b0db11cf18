"""Payments: wallets, orders, billers, the payments outbox, device mandates, VRP consents, FX executions, PvP; confirmations.

Tables: billers, fx_executions, iso20022_messages, iso20022_transactions, mandate_holders, mandate_payments, mandate_periodic_limits, mandate_usage, mandates, payment_order_events, payment_orders, payment_outbox, pvp_settlements, vrp_consents, vrp_payments, wallets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billers",
        sa.Column("biller_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=140), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("reference_pattern", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("biller_id", name=op.f("pk_billers")),
    )
    op.create_table(
        "fx_executions",
        sa.Column("quote_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("party_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("debtor_account_id", sa.String(length=40), nullable=False),
        sa.Column("creditor_account_id", sa.String(length=40), nullable=False),
        sa.Column("source_currency", sa.String(length=3), nullable=False),
        sa.Column("source_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("target_currency", sa.String(length=3), nullable=False),
        sa.Column("target_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_legs", sa.SmallInteger(), nullable=False),
        sa.Column("first_transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("chain_length", sa.SmallInteger(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "source_amount_minor > 0 AND target_amount_minor > 0",
            name=op.f("ck_fx_executions_fx_amounts_positive"),
        ),
        sa.PrimaryKeyConstraint("quote_id", name=op.f("pk_fx_executions")),
        sa.UniqueConstraint("first_transfer_id", name=op.f("uq_fx_executions_first_transfer_id")),
    )
    with op.batch_alter_table("fx_executions", schema=None) as batch_op:
        batch_op.create_index("ix_fx_executions_status", ["status", "created_ns"], unique=False)

    op.create_table(
        "iso20022_messages",
        sa.Column("sender", sa.String(length=140), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_name", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_ns", sa.BigInteger(), nullable=False),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("settled", sa.Integer(), nullable=False),
        sa.Column("in_process", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("report_message_id", sa.String(length=35), nullable=True),
        sa.PrimaryKeyConstraint("sender", "message_id", name=op.f("pk_iso20022_messages")),
    )
    with op.batch_alter_table("iso20022_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_iso20022_messages_status_received_ns", ["status", "received_ns"], unique=False
        )

    op.create_table(
        "iso20022_transactions",
        sa.Column("sender", sa.String(length=140), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payment_information_id", sa.String(length=35), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("instruction_id", sa.String(length=35), nullable=True),
        sa.Column("uetr", sa.String(length=36), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=4), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("transfer_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("debtor_agent_bic", sa.String(length=11), nullable=True),
        sa.Column("creditor_name", sa.String(length=140), nullable=True),
        sa.Column("creditor_iban", sa.String(length=34), nullable=True),
        sa.Column("creditor_agent_bic", sa.String(length=11), nullable=True),
        sa.Column("charge_bearer", sa.String(length=4), nullable=True),
        sa.Column("remittance", sa.String(length=140), nullable=True),
        sa.Column("creditor_reference", sa.String(length=35), nullable=True),
        sa.PrimaryKeyConstraint("sender", "message_id", "seq", name=op.f("pk_iso20022_transactions")),
    )
    with op.batch_alter_table("iso20022_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_iso20022_transactions_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_iso20022_transactions_transfer_id"), ["transfer_id"], unique=False
        )

    op.create_table(
        "mandate_holders",
        sa.Column("party_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("grants_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_mandate_holders")),
    )
    op.create_table(
        "mandate_payments",
        sa.Column("mandate_id", sa.String(length=40), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("requested_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mandate_id", "counter", name=op.f("pk_mandate_payments")),
    )
    with op.batch_alter_table("mandate_payments", schema=None) as batch_op:
        batch_op.create_index("ix_mandate_payments_state_updated_ns", ["state", "updated_ns"], unique=False)

    op.create_table(
        "mandate_periodic_limits",
        sa.Column("mandate_id", sa.String(length=40), nullable=False),
        sa.Column("limit_index", sa.SmallInteger(), nullable=False),
        sa.Column("period_type", sa.String(length=16), nullable=False),
        sa.Column("period_alignment", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_mandate_periodic_limits_amount_positive")),
        sa.PrimaryKeyConstraint("mandate_id", "limit_index", name=op.f("pk_mandate_periodic_limits")),
    )
    op.create_table(
        "mandate_usage",
        sa.Column("mandate_id", sa.String(length=40), nullable=False),
        sa.Column("limit_index", sa.SmallInteger(), nullable=False),
        sa.Column("period_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("used_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "used_minor >= 0 AND used_minor <= limit_minor", name=op.f("ck_mandate_usage_used_within_limit")
        ),
        sa.PrimaryKeyConstraint(
            "mandate_id", "limit_index", "period_start_ns", name=op.f("pk_mandate_usage")
        ),
    )
    op.create_table(
        "mandates",
        sa.Column("mandate_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("payer_kind", sa.String(length=16), nullable=False),
        sa.Column("payer_id", sa.String(length=64), nullable=False),
        sa.Column("payee_kind", sa.String(length=16), nullable=False),
        sa.Column("payee_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("max_individual_minor", sa.BigInteger(), nullable=False),
        sa.Column("valid_from_ns", sa.BigInteger(), nullable=False),
        sa.Column("valid_to_ns", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("last_counter", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=4), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('AUTH', 'CANC', 'EXPD')", name=op.f("ck_mandates_status_known")),
        sa.CheckConstraint("last_counter >= 0", name=op.f("ck_mandates_counter_not_negative")),
        sa.CheckConstraint("max_individual_minor > 0", name=op.f("ck_mandates_max_individual_positive")),
        sa.CheckConstraint("valid_to_ns > valid_from_ns", name=op.f("ck_mandates_validity_ordered")),
        sa.PrimaryKeyConstraint("mandate_id", name=op.f("pk_mandates")),
    )
    with op.batch_alter_table("mandates", schema=None) as batch_op:
        batch_op.create_index("ix_mandates_party_id_status", ["party_id", "status"], unique=False)
        batch_op.create_index("ix_mandates_status_valid_to_ns", ["status", "valid_to_ns"], unique=False)

    op.create_table(
        "payment_order_events",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "seq", name=op.f("pk_payment_order_events")),
    )
    op.create_table(
        "payment_orders",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payer_party_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("payer_kind", sa.String(length=16), nullable=False),
        sa.Column("payer_id", sa.String(length=64), nullable=False),
        sa.Column("payee_kind", sa.String(length=16), nullable=False),
        sa.Column("payee_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=140), nullable=False),
        sa.Column("payee_reference", sa.String(length=35), nullable=False),
        sa.Column("original_order_id", sa.String(length=40), nullable=True),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("first_transfer_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("chain_length", sa.SmallInteger(), nullable=False),
        sa.Column("sca_required", sa.Boolean(), nullable=False),
        sa.Column("sca_reasons", sa.String(length=200), nullable=False),
        sa.Column("risk_action", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=64), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor",
            name=op.f("ck_payment_orders_refunds_within_amount"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_payment_orders")),
        sa.UniqueConstraint("first_transfer_id", name=op.f("uq_payment_orders_first_transfer_id")),
        sa.UniqueConstraint("payer_party_id", "idempotency_key", name="payer_idempotency_key"),
    )
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_orders_original_order_id"), ["original_order_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_orders_payer",
            ["payer_kind", "payer_id", "payee_kind", "payee_id", "status"],
            unique=False,
        )
        batch_op.create_index("ix_payment_orders_status_expires_ns", ["status", "expires_ns"], unique=False)

    op.create_table(
        "payment_outbox",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_payment_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_payment_outbox_event_id")),
    )
    op.create_table(
        "pvp_settlements",
        sa.Column("settlement_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=True),
        sa.Column("leg_a_pending_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("leg_b_pending_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("party_a_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("party_b_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("leg_a_debtor_account_id", sa.String(length=40), nullable=False),
        sa.Column("leg_a_creditor_account_id", sa.String(length=40), nullable=False),
        sa.Column("leg_a_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("leg_a_currency", sa.String(length=3), nullable=False),
        sa.Column("leg_b_debtor_account_id", sa.String(length=40), nullable=False),
        sa.Column("leg_b_creditor_account_id", sa.String(length=40), nullable=False),
        sa.Column("leg_b_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("leg_b_currency", sa.String(length=3), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("expires_ns", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("decided_ns", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(decision IS NULL AND decided_ns IS NULL) OR (decision IS NOT NULL AND decided_ns IS NOT NULL)",
            name=op.f("ck_pvp_settlements_pvp_decision_has_time"),
        ),
        sa.CheckConstraint(
            "leg_a_amount_minor > 0 AND leg_b_amount_minor > 0",
            name=op.f("ck_pvp_settlements_pvp_amounts_positive"),
        ),
        sa.PrimaryKeyConstraint("settlement_id", name=op.f("pk_pvp_settlements")),
        sa.UniqueConstraint("leg_a_pending_id", name=op.f("uq_pvp_settlements_leg_a_pending_id")),
        sa.UniqueConstraint("leg_b_pending_id", name=op.f("uq_pvp_settlements_leg_b_pending_id")),
    )
    with op.batch_alter_table("pvp_settlements", schema=None) as batch_op:
        batch_op.create_index("ix_pvp_settlements_state", ["state", "created_ns"], unique=False)

    op.create_table(
        "vrp_consents",
        sa.Column("consent_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("party_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("control_parameters", sa.Text(), nullable=False),
        sa.Column("initiation", sa.Text(), nullable=False),
        sa.Column("risk", sa.Text(), nullable=False),
        sa.Column("device_public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=4), nullable=False),
        sa.Column("debtor_account_id", sa.String(length=64), nullable=True),
        sa.Column("mandate_id", sa.String(length=40), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("status_updated_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status <> 'AUTH' OR mandate_id IS NOT NULL", name=op.f("ck_vrp_consents_authorised_has_mandate")
        ),
        sa.CheckConstraint(
            "status IN ('AWAU', 'AUTH', 'RJCT', 'CANC', 'EXPD')", name=op.f("ck_vrp_consents_status_known")
        ),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_vrp_consents")),
    )
    with op.batch_alter_table("vrp_consents", schema=None) as batch_op:
        batch_op.create_index("ix_vrp_consents_client_id", ["client_id"], unique=False)
        batch_op.create_index("ix_vrp_consents_mandate_id", ["mandate_id"], unique=True)

    op.create_table(
        "vrp_payments",
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("consent_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("mandate_id", sa.String(length=40), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_vrp_payments")),
        sa.UniqueConstraint("mandate_id", "counter", name="uq_vrp_payments_mandate_id_counter"),
    )
    with op.batch_alter_table("vrp_payments", schema=None) as batch_op:
        batch_op.create_index("ix_vrp_payments_consent_id", ["consent_id"], unique=False)

    op.create_table(
        "wallets",
        sa.Column("wallet_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("parent_wallet_id", sa.String(length=40), nullable=True),
        sa.Column("class_no", sa.SmallInteger(), nullable=False),
        sa.Column("profile", sa.String(length=40), nullable=False),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("profile_hash", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pseudonym", sa.String(length=24), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("nickname", sa.String(length=70), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("balance_account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("headroom_account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("daily_account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("annual_account_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("per_payment_limit", sa.BigInteger(), nullable=False),
        sa.Column("balance_limit", sa.BigInteger(), nullable=False),
        sa.Column("daily_limit", sa.BigInteger(), nullable=False),
        sa.Column("annual_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'frozen', 'closed')", name=op.f("ck_wallets_status_known")),
        sa.CheckConstraint("class_no BETWEEN 1 AND 9", name=op.f("ck_wallets_class_no_range")),
        sa.PrimaryKeyConstraint("wallet_id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("balance_account_id", name=op.f("uq_wallets_balance_account_id")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_wallets_pseudonym")),
    )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallets_parent_wallet_id"), ["parent_wallet_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wallets_party_id"), ["party_id"], unique=False)

    with op.batch_alter_table("webauthn_challenges", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_webauthn_challenges_purpose_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_webauthn_challenges_purpose_known"), "purpose IN ('register', 'authenticate', 'confirm')"
        )


def downgrade() -> None:
    with op.batch_alter_table("webauthn_challenges", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_webauthn_challenges_purpose_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_webauthn_challenges_purpose_known"), "purpose IN ('register', 'authenticate')"
        )
    for table in (
        "wallets",
        "vrp_payments",
        "vrp_consents",
        "pvp_settlements",
        "payment_outbox",
        "payment_orders",
        "payment_order_events",
        "mandates",
        "mandate_usage",
        "mandate_periodic_limits",
        "mandate_payments",
        "mandate_holders",
        "iso20022_transactions",
        "iso20022_messages",
        "fx_executions",
        "billers",
    ):
        op.drop_table(table)
