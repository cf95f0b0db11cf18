"""Relational storage for every context except the ledger's hot path.

The ledger keeps its own driver-level stores (``netfin.ledger.stores``). The
other contexts (identity, consents, payments, audit, notifications) describe
their tables with SQLAlchemy 2 Core on the one ``metadata`` here and share
one ``Engine`` per process, opened by ``open_engine`` on the same database
URL as the ledger: ``sqlite:///file.db`` (embedded default) or
``postgresql://...`` with an optional ``?schema=name``.

The schema is versioned by Alembic in ``storage/migrations`` with its own
version table (``platform_version``), so it evolves independently of the
ledger's. ``migrate(engine)`` brings it to head; ``open_engine`` does it.

Public names: ``metadata``, ``open_engine``, ``migrate``, ``SCHEMA_HEAD``; ``storage.bulk.insert_rows``
writes many rows at once (COPY on PostgreSQL).
"""

from netfin.storage.engine import SCHEMA_HEAD, metadata, migrate, open_engine

__all__ = ["SCHEMA_HEAD", "metadata", "migrate", "open_engine"]
