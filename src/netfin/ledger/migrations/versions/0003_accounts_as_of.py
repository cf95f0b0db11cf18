"""Accounts: the time up to which a row's balances are written (``as_of``).

A batch no longer rewrites every account it touches. An account's row holds its
balances as of ``as_of``; the transfers after that time that name the account
(at most ``store.TAIL_MAX - 1`` of them, and only plain or pending ones) are its
*tail*, which every read adds to the row. Rows written before this revision are
complete, so each gets the head's timestamp: an empty tail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("as_of", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE accounts SET as_of = (SELECT timestamp FROM ledger_head WHERE id = 1)")


def _tail_sum(side: str, pending: bool) -> str:
    test = "<>" if pending else "="
    return (
        f"(SELECT coalesce(sum(t.amount), 0) FROM transfers t WHERE t.{side}_account_id = accounts.id "
        f"AND t.timestamp > accounts.as_of AND (t.flags & 2) {test} 0)"
    )


def downgrade() -> None:
    # Fold each row's tail into it (tails hold plain and pending transfers only), then
    # drop the column: the rows are complete again, as the earlier revisions expect.
    op.execute(
        "UPDATE accounts SET "
        f"debits_pending = debits_pending + {_tail_sum('debit', True)}, "
        f"debits_posted = debits_posted + {_tail_sum('debit', False)}, "
        f"credits_pending = credits_pending + {_tail_sum('credit', True)}, "
        f"credits_posted = credits_posted + {_tail_sum('credit', False)}"
    )
    op.drop_column("accounts", "as_of")
