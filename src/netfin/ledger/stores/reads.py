"""Point reads on PostgreSQL: pooled autocommit psycopg connections.

A read through a checkout of a SQLAlchemy engine costs three round trips
besides its query (the pre-ping ``SELECT 1``, the implicit ``BEGIN``, the
``ROLLBACK`` on return) and SQLAlchemy's statement and result machinery; a
read on the ledger's own connection waits for the ledger's write lock.
``PointReads`` runs a read on a pooled autocommit connection of its own: one
round trip per statement, beside any writer.

No pre-ping: a connection that died with its server fails its statement, the
pool drops it, and the read is run once more on a fresh connection (a read
changes nothing, so the retry is safe). The pool opens on first use and holds
at most ``POINT_READS_MAX`` connections. Used by the ledger's PostgreSQL store
and, through ``netfin.storage.reads``, by the platform's hottest reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from netfin.core.errors import ConfigurationError

POINT_READS_MAX = 8
POINT_READS_WAIT_S = 10.0

T = TypeVar("T")


class PointReads:
    """Single-statement reads on pooled autocommit psycopg connections."""

    def __init__(self, connect_args: dict[str, Any], url: str, *, name: str = "netfin-point-reads") -> None:
        self._connect_args = connect_args
        self._url = url
        self._name = name
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _opened(self) -> psycopg_pool.ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._closed:
                raise ConfigurationError("the database was closed", code="database_closed")
            if self._pool is None:
                pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = psycopg_pool.ConnectionPool(
                    kwargs={**self._connect_args, "autocommit": True},
                    min_size=1,
                    max_size=POINT_READS_MAX,
                    timeout=POINT_READS_WAIT_S,
                    name=self._name,
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=POINT_READS_WAIT_S)
                except psycopg_pool.PoolTimeout:
                    pool.close()
                    raise ConfigurationError(
                        f"cannot connect to PostgreSQL at {self._url}", code="database_unavailable"
                    ) from None
                self._pool = pool
            return self._pool

    def run(self, read: Callable[[psycopg.Connection[Any]], T], *, retry: bool = True) -> T:
        """``read(connection)`` on a pooled autocommit connection; once more on a fresh
        one when the connection turns out dead. ``read`` must only read, or write in one
        statement that is safe to repeat (its caller says why); a write that is not
        passes ``retry=False`` and gets the error (its outcome is then unknown)."""
        for attempt in (1, 2):
            try:
                with self._opened().connection() as connection:
                    return read(connection)
            except psycopg.OperationalError:
                if attempt == 2 or not retry:
                    raise
        raise AssertionError("unreachable")

    def one(
        self, sql: str, params: tuple[Any, ...] | Mapping[str, Any], *, retry: bool = True
    ) -> tuple[Any, ...] | None:
        """The first row of ``sql`` (``%s`` or ``%(name)s`` placeholders), or ``None``."""
        row: tuple[Any, ...] | None = self.run(
            lambda connection: connection.execute(sql, params).fetchone(), retry=retry
        )
        return row

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
