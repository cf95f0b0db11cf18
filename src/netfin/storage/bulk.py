"""Insert many rows at once: COPY or one JSON parameter on PostgreSQL, ``executemany`` on SQLite.

A batch of payment orders writes thousands of rows to a handful of tables in
one transaction. On PostgreSQL a multi-row INSERT of that size spends most of
its time in the driver rewriting placeholders; ``COPY ... FROM STDIN`` sends
the rows as data, inside the caller's transaction, so they commit or roll
back with everything else it writes. A small batch (the risk decisions and
audit entries written beside every payment) goes as one JSON document that
``json_populate_recordset`` turns into rows of the table: one parameter to
encode (orjson, in C) instead of a rendered multi-row INSERT, about half the
client CPU of SQLAlchemy's ``insertmanyvalues`` for a few rows.

Public names: ``insert_rows``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa

# From this many rows on, COPY on PostgreSQL; below it, the rows travel as one JSON document.
COPY_ROWS_MIN = 32


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (every column of ``table`` given, as for ``sa.insert``) in the open transaction."""
    if not rows:
        return
    _check_names(table, tuple(rows[0]))
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(table), list(rows))
        return
    if len(rows) < COPY_ROWS_MIN:
        document = rows_document(table, rows)
        if document is None:
            connection.execute(sa.insert(table), list(rows))
        else:
            # Through SQLAlchemy, for its error types and its handling of a lost connection.
            connection.exec_driver_sql(json_insert_sql(table, tuple(rows[0])), (document,))
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    names = ", ".join(c.name for c in columns)
    encoders = [_json if isinstance(c.type, sa.JSON) else None for c in columns]
    cursor = _driver_connection(connection).cursor()
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


def _driver_connection(connection: sa.Connection) -> Any:
    dbapi = connection.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("the connection has no driver connection")
    return dbapi


@functools.lru_cache(maxsize=256)
def _check_names(table: sa.Table, names: tuple[str, ...]) -> None:
    """ValueError for a key that is not a column (``executemany`` would drop it silently)."""
    known = {c.name for c in table.columns}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"{table.name} has no column {unknown[0]!r}")


@functools.lru_cache(maxsize=256)
def json_insert_sql(table: sa.Table, names: tuple[str, ...]) -> str:
    """``INSERT`` of the rows of one JSON array of objects (keys: ``names``) into ``table``
    (PostgreSQL), each value in the text form of its column's type (``rows_document``)."""
    _check_names(table, names)
    listed = ", ".join(f'"{name}"' for name in names)
    return (
        f'INSERT INTO "{table.name}" ({listed}) SELECT {listed} '
        f'FROM json_populate_recordset(NULL::"{table.name}", %s::json)'
    )


def rows_document(table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The rows as one JSON array for ``json_insert_sql``: bytes as ``\\x`` hex (bytea's
    input form), JSON columns as nested values. None when a value has no exact JSON form
    (an integer beyond 64 bits, a float that is not finite): the caller inserts those rows
    the usual way."""
    for name in _float_columns(table):
        if any(isinstance(row.get(name), float) and not math.isfinite(row[name]) for row in rows):
            return None
    try:
        return orjson.dumps(list(rows), default=_json_default).decode()
    except orjson.JSONEncodeError:
        return None


@functools.lru_cache(maxsize=256)
def _float_columns(table: sa.Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if isinstance(c.type, sa.Float))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
