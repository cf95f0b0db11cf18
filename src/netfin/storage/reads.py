"""The platform's point reads on PostgreSQL (see ``netfin.ledger.stores.reads``).

Each PostgreSQL engine that ``open_engine`` makes gets a ``PointReads`` pool,
closed when the engine is disposed; ``point_reads(engine)`` returns it, or
``None`` on SQLite, where callers keep their SQLAlchemy path. Only the reads
that every request of a kind makes use it (a TPP's consent and the account it
names, on every balance read).
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from netfin.ledger.stores.reads import PointReads

__all__ = ["PointReads", "attach_point_reads", "point_reads"]

_READS: weakref.WeakKeyDictionary[sa.Engine, PointReads] = weakref.WeakKeyDictionary()


def attach_point_reads(engine: sa.Engine, connect_args: dict[str, Any]) -> None:
    """Give a PostgreSQL engine its ``PointReads``, closed when the engine is disposed."""
    reads = PointReads(connect_args, engine.url.render_as_string(hide_password=True))
    _READS[engine] = reads

    @event.listens_for(engine, "engine_disposed")
    def _close(_engine: sa.Engine) -> None:
        reads.close()


def point_reads(engine: sa.Engine) -> PointReads | None:
    """The engine's ``PointReads`` (PostgreSQL), or ``None`` (SQLite)."""
    return _READS.get(engine)
