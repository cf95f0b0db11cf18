"""Insert many rows at once: COPY on PostgreSQL, ``executemany`` on SQLite.

A batch of payment orders writes thousands of rows to a handful of tables in
one transaction. On PostgreSQL a multi-row INSERT of that size spends most of
its time in the driver rewriting placeholders; ``COPY ... FROM STDIN`` sends
the rows as data, inside the caller's transaction, so they commit or roll
back with everything else it writes.

Public names: ``insert_rows``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

# Below this many rows a plain INSERT is as quick and simpler to read in logs.
COPY_ROWS_MIN = 32


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (every column of ``table`` given, as for ``sa.insert``) in the open transaction."""
    if not rows:
        return
    if connection.dialect.name != "postgresql" or len(rows) < COPY_ROWS_MIN:
        connection.execute(sa.insert(table), list(rows))
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    names = ", ".join(c.name for c in columns)
    encoders = [_json if isinstance(c.type, sa.JSON) else None for c in columns]
    dbapi = connection.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("the connection has no driver connection")
    cursor = dbapi.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[c.name] if encode is None else encode(row[c.name])
                        for c, encode in zip(columns, encoders, strict=True)
                    ]
                )
    finally:
        cursor.close()


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
