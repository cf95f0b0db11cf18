"""Anti-money-laundering and supervision: alerts, cases, filings, screening, ownership, news.

Also: payment_orders.payee_name (a cross-border payee is screened by name).

Tables: aml_alerts, aml_case_events, aml_cases, aml_cursors, aml_filings, aml_ownership_edges, aml_screening_list_versions, aml_screening_results, news_items, news_mentions, news_warnings, news_watchlist.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aml_alerts",
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("scenario", sa.String(length=40), nullable=False),
        sa.Column("scenario_version", sa.Integer(), nullable=False),
        sa.Column("profile_version", sa.String(length=80), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("typology", sa.String(length=40), nullable=False),
        sa.Column("reason_en", sa.String(length=1000), nullable=False),
        sa.Column("reason_zh", sa.String(length=1000), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("txn_ids", sa.JSON(), nullable=False),
        sa.Column("subgraph", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_aml_alerts")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_aml_alerts_dedup_key")),
    )
    with op.batch_alter_table("aml_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aml_alerts_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_aml_alerts_party_ts", ["party", "ts_ms"], unique=False)

    op.create_table(
        "aml_case_events",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_aml_case_events")),
    )
    with op.batch_alter_table("aml_case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aml_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "aml_cases",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("opened_ns", sa.BigInteger(), nullable=False),
        sa.Column("due_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("typologies", sa.JSON(), nullable=False),
        sa.Column("assignee", sa.String(length=80), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("decision_reason", sa.String(length=4000), nullable=True),
        sa.Column("proposed_by", sa.String(length=80), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("filing_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_aml_cases")),
    )
    with op.batch_alter_table("aml_cases", schema=None) as batch_op:
        batch_op.create_index("ix_aml_cases_party_status", ["party", "status"], unique=False)
        batch_op.create_index("ix_aml_cases_status_due", ["status", "due_ns"], unique=False)

    op.create_table(
        "aml_cursors",
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_aml_cursors")),
    )
    op.create_table(
        "aml_filings",
        sa.Column("filing_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("layout", sa.String(length=20), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("filing_id", name=op.f("pk_aml_filings")),
    )
    with op.batch_alter_table("aml_filings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aml_filings_case_id"), ["case_id"], unique=False)

    op.create_table(
        "aml_ownership_edges",
        sa.Column("edge_id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owned_id", sa.String(length=64), nullable=False),
        sa.Column("share", sa.String(length=24), nullable=False),
        sa.Column("share_kind", sa.String(length=8), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=160), nullable=False),
        sa.Column("recorded_ns", sa.BigInteger(), nullable=False),
        sa.Column("ended_by", sa.String(length=160), nullable=True),
        sa.Column("ended_ns", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "owner_kind IN ('person', 'enterprise')", name=op.f("ck_aml_ownership_edges_owner_kind")
        ),
        sa.CheckConstraint(
            "share_kind IN ('equity', 'voting')", name=op.f("ck_aml_ownership_edges_share_kind")
        ),
        sa.CheckConstraint("owner_id <> owned_id", name=op.f("ck_aml_ownership_edges_no_self_edge")),
        sa.PrimaryKeyConstraint("edge_id", name=op.f("pk_aml_ownership_edges")),
    )
    with op.batch_alter_table("aml_ownership_edges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aml_ownership_edges_owned_id"), ["owned_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_aml_ownership_edges_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "aml_screening_list_versions",
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("names", sa.Integer(), nullable=False),
        sa.Column("loaded_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "version", name=op.f("pk_aml_screening_list_versions")),
    )
    op.create_table(
        "aml_screening_results",
        sa.Column("result_id", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("list_versions", sa.JSON(), nullable=False),
        sa.Column("config_version", sa.String(length=40), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("screened_ns", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_ns", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('clear', 'potential_match', 'confirmed', 'false_positive')",
            name=op.f("ck_aml_screening_results_screening_status"),
        ),
        sa.PrimaryKeyConstraint("result_id", name=op.f("pk_aml_screening_results")),
    )
    with op.batch_alter_table("aml_screening_results", schema=None) as batch_op:
        batch_op.create_index("ix_aml_screening_results_status", ["status", "screened_ns"], unique=False)
        batch_op.create_index(
            "ix_aml_screening_results_subject", ["subject_kind", "subject_id", "screened_ns"], unique=False
        )

    op.create_table(
        "news_items",
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("published_ns", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=8), nullable=False),
        sa.Column("scorer", sa.String(length=40), nullable=False),
        sa.Column("scorer_version", sa.String(length=200), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("ingested_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_news_items")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_news_items_content_hash")),
    )
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.create_index("ix_news_items_published", ["published_ns"], unique=False)

    op.create_table(
        "news_mentions",
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("matched_name", sa.String(length=200), nullable=False),
        sa.Column("match_score", sa.Float(), nullable=False),
        sa.Column("published_ns", sa.BigInteger(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "entity_id", name=op.f("pk_news_mentions")),
    )
    with op.batch_alter_table("news_mentions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_news_mentions_entity_published", ["entity_id", "published_ns"], unique=False
        )

    op.create_table(
        "news_warnings",
        sa.Column("warning_id", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("raised_ns", sa.BigInteger(), nullable=False),
        sa.Column("window_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("window_end_ns", sa.BigInteger(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("recent", sa.Float(), nullable=False),
        sa.Column("sentiment_drop", sa.Float(), nullable=False),
        sa.Column("recent_items", sa.Integer(), nullable=False),
        sa.Column("baseline_items", sa.Integer(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("config_version", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_ns", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged')", name=op.f("ck_news_warnings_news_warning_status")
        ),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_news_warnings")),
    )
    with op.batch_alter_table("news_warnings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_news_warnings_entity_status", ["entity_id", "status", "raised_ns"], unique=False
        )
        batch_op.create_index("ix_news_warnings_status_raised", ["status", "raised_ns"], unique=False)

    op.create_table(
        "news_watchlist",
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_news_watchlist")),
    )
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payee_name", sa.String(length=140), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.drop_column("payee_name")
    op.drop_table("news_watchlist")
    with op.batch_alter_table("news_warnings", schema=None) as batch_op:
        batch_op.drop_index("ix_news_warnings_status_raised")
        batch_op.drop_index("ix_news_warnings_entity_status")

    op.drop_table("news_warnings")
    with op.batch_alter_table("news_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_news_mentions_entity_published")

    op.drop_table("news_mentions")
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.drop_index("ix_news_items_published")

    op.drop_table("news_items")
    with op.batch_alter_table("aml_screening_results", schema=None) as batch_op:
        batch_op.drop_index("ix_aml_screening_results_subject")
        batch_op.drop_index("ix_aml_screening_results_status")

    op.drop_table("aml_screening_results")
    op.drop_table("aml_screening_list_versions")
    with op.batch_alter_table("aml_ownership_edges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aml_ownership_edges_owner_id"))
        batch_op.drop_index(batch_op.f("ix_aml_ownership_edges_owned_id"))

    op.drop_table("aml_ownership_edges")
    with op.batch_alter_table("aml_filings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aml_filings_case_id"))

    op.drop_table("aml_filings")
    op.drop_table("aml_cursors")
    with op.batch_alter_table("aml_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_aml_cases_status_due")
        batch_op.drop_index("ix_aml_cases_party_status")

    op.drop_table("aml_cases")
    with op.batch_alter_table("aml_case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aml_case_events_case_id"))

    op.drop_table("aml_case_events")
    with op.batch_alter_table("aml_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_aml_alerts_party_ts")
        batch_op.drop_index(batch_op.f("ix_aml_alerts_case_id"))

    op.drop_table("aml_alerts")
