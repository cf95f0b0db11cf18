"""Alembic environment for the platform schema (everything but the ledger).

``netfin.storage.migrate`` passes its connection in
``config.attributes["connection"]``; the version table is ``platform_version``
so that this history never mixes with the ledger's.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=True,
    version_table="platform_version",
)
with context.begin_transaction():
    context.run_migrations()
