"""Tables of the credit context: applications and their decisions, loans, and every booking of a loan."""

from __future__ import annotations

import sqlalchemy as sa

from netfin.storage import metadata

credit_applications = sa.Table(
    "credit_applications",
    metadata,
    sa.Column("application_id", sa.String(40), primary_key=True),
    sa.Column("party_id", sa.String(40), nullable=False, index=True),
    sa.Column("product", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # customer | partner
    sa.Column("client_id", sa.String(80)),  # the partner (TPP) that asked, for checkout BNPL
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("term", sa.Integer, nullable=False),  # months, or instalments for BNPL
    sa.Column("method", sa.String(20)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(4), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("price", sa.JSON),
    sa.Column("offer", sa.JSON),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("scorer", sa.String(80), nullable=False),
    sa.Column("profile_version", sa.String(40), nullable=False),
    sa.Column("loan_id", sa.String(40)),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

credit_loans = sa.Table(
    "credit_loans",
    metadata,
    sa.Column("loan_id", sa.String(40), primary_key=True),
    sa.Column("application_id", sa.String(40), nullable=False, unique=True),
    sa.Column("party_id", sa.String(40), nullable=False, index=True),
    sa.Column("product", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("principal_minor", sa.BigInteger, nullable=False),
    sa.Column("annual_rate", sa.String(24), nullable=False),
    sa.Column("ledger_account_id", sa.String(40), nullable=False, unique=True),
    sa.Column("settlement_account_id", sa.String(64), nullable=False),  # the customer's account
    sa.Column("merchant_account_id", sa.String(64)),  # BNPL: the merchant paid at checkout
    sa.Column("terms", sa.JSON, nullable=False),
    sa.Column("schedule", sa.JSON, nullable=False),
    sa.Column("position", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | closed | written_off
    sa.Column("dpd", sa.Integer, nullable=False),
    sa.Column("bucket", sa.String(8), nullable=False),
    sa.Column("serviced_on", sa.String(10), nullable=False),  # the date penalties and dues are booked to
    sa.Column("version", sa.Integer, nullable=False),  # compare-and-set on every change
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_credit_loans_status_bucket", "status", "bucket"),
    sa.Index("ix_credit_loans_status_serviced", "status", "serviced_on"),
)

credit_loan_events = sa.Table(
    "credit_loan_events",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("loan_id", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    # the loan version the event was computed from: two changes of one loan never race
    sa.Column("base_version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # booking | booked | rejected
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("first_transfer_id", sa.String(40), nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(80)),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("loan_id", "base_version", name="uq_credit_loan_events_loan_version"),
)


credit_lines = sa.Table(
    "credit_lines",
    metadata,
    sa.Column("line_id", sa.String(40), primary_key=True),
    sa.Column("application_id", sa.String(40), nullable=False, unique=True),
    sa.Column("party_id", sa.String(40), nullable=False, index=True),
    sa.Column("product", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("limit_minor", sa.BigInteger, nullable=False),
    sa.Column("floor_minor", sa.BigInteger, nullable=False),
    sa.Column("ceiling_minor", sa.BigInteger, nullable=False),
    sa.Column("annual_rate", sa.String(24), nullable=False),
    sa.Column("receivable_account_id", sa.String(40), nullable=False, unique=True),
    sa.Column("limit_account_id", sa.String(40), nullable=False, unique=True),  # memo: the unused limit
    sa.Column("settlement_account_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | frozen | closed
    sa.Column("drawn_minor", sa.BigInteger, nullable=False),  # principal outstanding
    sa.Column("interest_due_minor", sa.BigInteger, nullable=False),  # interest charged, not yet paid
    sa.Column("interest_through", sa.String(10), nullable=False),  # interest is charged up to this day
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

TABLES = (credit_applications, credit_loans, credit_loan_events, credit_lines)
