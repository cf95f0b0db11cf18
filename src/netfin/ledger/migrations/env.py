"""Alembic environment for the ledger schema.

The ledger runs migrations itself when it opens a store (``Ledger.open``),
passing its own connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
