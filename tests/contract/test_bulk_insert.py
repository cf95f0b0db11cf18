"""``storage.bulk.insert_rows`` on both stores: every path (one JSON document for a few rows
on PostgreSQL, COPY for many, ``executemany`` on SQLite and for values JSON cannot carry)
writes exactly the values it was given, inside the caller's transaction."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from netfin.storage import open_engine
from netfin.storage.bulk import COPY_ROWS_MIN, insert_rows, rows_document

_meta = sa.MetaData()
_things = sa.Table(
    "bulk_things",
    _meta,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("raw", sa.LargeBinary, nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=True),
    sa.Column("small", sa.SmallInteger, nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("big", sa.Numeric(40, 0), nullable=True),
    sa.Column("rate", sa.Numeric(20, 10), nullable=True),
)


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    engine = open_engine(empty_store_url)
    _meta.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _row(i: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": i,
        "raw": bytes(range(256))[i % 7 :] + b"\x00\\x'\"",
        "label": f'it\'s "{i}" \\ back\\slash, 中文, emoji \U0001f600, tab\t, newline\n',
        "note": None,
        "detail": {"nested": [1, "two", None, {"k": True}], "n": i, "s": "\\x00"},
        "score": 0.1 + i / 3,
        "flag": i % 2 == 0,
        "small": -32768 if i % 2 else 32767,
        "amount": 2**63 - 1,
        "big": None,
        "rate": Decimal("1.0000000001"),
    }
    row.update(overrides)
    return row


def _read(engine: sa.Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as connection:
        return {row.id: dict(row._mapping) for row in connection.execute(sa.select(_things))}


def _same(stored: dict[str, Any], given: dict[str, Any], dialect: str) -> None:
    for name, value in given.items():
        got = stored[name]
        if isinstance(value, float) and math.isnan(value):
            if dialect == "sqlite":  # SQLite has no NaN: it stores NULL
                assert got is None, name
            else:
                assert isinstance(got, float) and math.isnan(got), name
        elif name in ("big", "rate") and value is not None:
            if dialect == "sqlite":  # SQLite keeps NUMERIC as a float when it is not an integer
                assert float(got) == float(value), name
            else:
                assert Decimal(got) == Decimal(value), name
        else:
            assert got == value, (name, got, value)


@pytest.mark.parametrize("count", [1, 3, COPY_ROWS_MIN - 1, COPY_ROWS_MIN])
def test_rows_come_back_exactly_as_given(engine: sa.Engine, count: int) -> None:
    rows = [_row(i) for i in range(count)]
    rows[0]["detail"] = None
    rows[-1]["label"] = None
    with engine.begin() as connection:
        insert_rows(connection, _things, rows)
    stored = _read(engine)
    assert sorted(stored) == list(range(count))
    for row in rows:
        _same(stored[row["id"]], row, engine.dialect.name)


@pytest.mark.parametrize(
    "odd",
    [
        {"big": 2**64 + 7},  # beyond orjson's 64-bit integers
        {"big": -(2**70)},
        {"score": float("nan")},  # JSON would carry NaN as null
        {"score": float("inf")},
    ],
    ids=["int-above-64-bits", "negative-int-above-64-bits", "nan", "infinity"],
)
def test_values_without_a_json_form_take_the_plain_insert(engine: sa.Engine, odd: dict[str, Any]) -> None:
    rows = [_row(1), _row(2, **odd)]
    assert rows_document(_things, rows) is None
    with engine.begin() as connection:
        insert_rows(connection, _things, rows)
    stored = _read(engine)
    _same(stored[1], rows[0], engine.dialect.name)
    _same(stored[2], rows[1], engine.dialect.name)


def test_a_failed_transaction_leaves_none_of_the_rows(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as connection:
            insert_rows(connection, _things, [_row(1), _row(2)])
            insert_rows(connection, _things, [_row(3), _row(1)])  # duplicate key: all roll back
    assert _read(engine) == {}


def test_an_unknown_column_is_refused_and_nothing_is_written(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="no_such_column"):
        with engine.begin() as connection:
            insert_rows(connection, _things, [{**_row(1), "no_such_column": 1}])
    assert _read(engine) == {}
