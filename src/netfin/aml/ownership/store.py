"""The ownership register: edges between holders, who recorded each and when.

A share is stored as its canonical decimal text (``"0.6"``), never as a
float or a database NUMERIC that SQLite would keep as one, so what comes
back is exactly what went in. Edges are never deleted: ending one sets its
``valid_to`` and who ended it.

Writes serialise on one lock (``BEGIN IMMEDIATE`` on SQLite, an advisory
transaction lock on PostgreSQL): whether a set of edges closes a loop or
pushes an enterprise's shares past 1 depends on edges elsewhere in the
graph, and the register changes seldom enough that one writer at a time
costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from netfin.aml.ownership.model import HolderKind, OwnershipEdge, ShareKind
from netfin.core.errors import LimitExceeded
from netfin.storage import metadata

UPSTREAM_EDGES_MAX = 500_000  # edges read for one entity's upstream graph
_IN_CHUNK = 500
_WRITE_LOCK = 0x6E66_6F77  # "nfow": the ownership register's single-writer lock on PostgreSQL

aml_ownership_edges = sa.Table(
    "aml_ownership_edges",
    metadata,
    sa.Column("edge_id", sa.String(40), primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=False, index=True),
    sa.Column("owner_kind", sa.String(16), nullable=False),
    sa.Column("owned_id", sa.String(64), nullable=False, index=True),
    sa.Column("share", sa.String(24), nullable=False),
    sa.Column("share_kind", sa.String(8), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("recorded_by", sa.String(160), nullable=False),
    sa.Column("recorded_ns", sa.BigInteger, nullable=False),
    sa.Column("ended_by", sa.String(160), nullable=True),
    sa.Column("ended_ns", sa.BigInteger, nullable=True),
    sa.CheckConstraint("owner_kind IN ('person', 'enterprise')", name="owner_kind"),
    sa.CheckConstraint("share_kind IN ('equity', 'voting')", name="share_kind"),
    sa.CheckConstraint("owner_id <> owned_id", name="no_self_edge"),
)

TABLES = (aml_ownership_edges,)


def _values(edge: OwnershipEdge) -> dict[str, Any]:
    return {
        "edge_id": edge.edge_id,
        "owner_id": edge.owner_id,
        "owner_kind": edge.owner_kind.value,
        "owned_id": edge.owned_id,
        "share": str(edge.share),
        "share_kind": edge.kind.value,
        "valid_from": edge.valid_from,
        "valid_to": edge.valid_to,
        "source": edge.source,
        "recorded_by": edge.recorded_by,
        "recorded_ns": edge.recorded_ns,
        "ended_by": edge.ended_by,
        "ended_ns": edge.ended_ns,
    }


def _edge(row: sa.Row[Any]) -> OwnershipEdge:
    return OwnershipEdge(
        edge_id=row.edge_id,
        owner_id=row.owner_id,
        owner_kind=HolderKind(row.owner_kind),
        owned_id=row.owned_id,
        share=Decimal(row.share),
        kind=ShareKind(row.share_kind),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        source=row.source,
        recorded_by=row.recorded_by,
        recorded_ns=row.recorded_ns,
        ended_by=row.ended_by,
        ended_ns=row.ended_ns,
    )


def _active_on(day: date) -> sa.ColumnElement[bool]:
    t = aml_ownership_edges.c
    return sa.and_(t.valid_from <= day, sa.or_(t.valid_to.is_(None), t.valid_to > day))


class OwnershipStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """One write transaction, holding the register's single-writer lock."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK})
            yield connection

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as connection:
            yield connection

    def insert(self, connection: sa.Connection, edges: Sequence[OwnershipEdge]) -> None:
        for start in range(0, len(edges), 5_000):
            connection.execute(
                aml_ownership_edges.insert(), [_values(e) for e in edges[start : start + 5_000]]
            )

    def get(self, connection: sa.Connection, edge_id: str) -> OwnershipEdge | None:
        row = connection.execute(
            sa.select(aml_ownership_edges).where(aml_ownership_edges.c.edge_id == edge_id)
        ).one_or_none()
        return None if row is None else _edge(row)

    def end(
        self, connection: sa.Connection, edge_id: str, valid_to: date, ended_by: str, ended_ns: int
    ) -> None:
        connection.execute(
            aml_ownership_edges.update()
            .where(aml_ownership_edges.c.edge_id == edge_id)
            .values(valid_to=valid_to, ended_by=ended_by, ended_ns=ended_ns)
        )

    def edges_into(self, connection: sa.Connection, owned_ids: Iterable[str]) -> list[OwnershipEdge]:
        """Every edge, on any date, held in one of ``owned_ids``."""
        return self._where_in(connection, aml_ownership_edges.c.owned_id, sorted(set(owned_ids)), None)

    def edges_touching(self, connection: sa.Connection, holder_ids: Iterable[str]) -> list[OwnershipEdge]:
        """Every edge, on any date, where one of ``holder_ids`` owns or is owned."""
        ids = sorted(set(holder_ids))
        found = {e.edge_id: e for e in self._where_in(connection, aml_ownership_edges.c.owner_id, ids, None)}
        found.update(
            (e.edge_id, e) for e in self._where_in(connection, aml_ownership_edges.c.owned_id, ids, None)
        )
        return sorted(found.values(), key=lambda e: e.edge_id)

    def upstream(
        self,
        connection: sa.Connection,
        roots: Iterable[str],
        day: date | None,
        extra: Mapping[str, Sequence[OwnershipEdge]] | None = None,
    ) -> list[OwnershipEdge]:
        """The edges held in the roots and, recursively, in their enterprise holders.

        ``day`` None reads edges of every date. ``extra`` adds edges not yet
        stored (a batch being checked), by owned id.
        """
        extra = extra or {}
        seen: set[str] = set()
        frontier = sorted(set(roots))
        found: dict[str, OwnershipEdge] = {}
        while frontier:
            seen.update(frontier)
            batch = self._where_in(connection, aml_ownership_edges.c.owned_id, frontier, day)
            batch += [
                e for owned in frontier for e in extra.get(owned, ()) if day is None or e.active_on(day)
            ]
            found.update((e.edge_id, e) for e in batch)
            if len(found) > UPSTREAM_EDGES_MAX:
                raise LimitExceeded(
                    f"more than {UPSTREAM_EDGES_MAX} edges upstream", code="ownership_upstream_too_large"
                )
            frontier = sorted({e.owner_id for e in batch if e.owner_kind == HolderKind.ENTERPRISE} - seen)
        return sorted(found.values(), key=lambda e: e.edge_id)

    def active(self, day: date) -> Iterator[OwnershipEdge]:
        """Every edge in force on ``day``, streamed."""
        with self.engine.connect() as connection:
            query = (
                sa.select(aml_ownership_edges).where(_active_on(day)).order_by(aml_ownership_edges.c.edge_id)
            )
            for row in connection.execution_options(stream_results=True, yield_per=5_000).execute(query):
                yield _edge(row)

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(aml_ownership_edges)).scalar_one()
            )

    def _where_in(
        self, connection: sa.Connection, column: sa.Column[Any], ids: Sequence[str], day: date | None
    ) -> list[OwnershipEdge]:
        rows: list[OwnershipEdge] = []
        for start in range(0, len(ids), _IN_CHUNK):
            query = sa.select(aml_ownership_edges).where(column.in_(ids[start : start + _IN_CHUNK]))
            if day is not None:
                query = query.where(_active_on(day))
            rows.extend(_edge(r) for r in connection.execute(query))
        return rows
