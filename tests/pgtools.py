"""PostgreSQL helpers shared by the root conftest and the tests that need them directly."""

from __future__ import annotations

import os

import psycopg

PG_DSN = os.environ.get("NETFIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        return str(error).strip().splitlines()[0]
    return None


PG_ERROR = _pg_reachable()


def pg_schema_url(schema: str) -> str:
    return f"{PG_DSN}?schema={schema}"


def drop_pg_schema(schema: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
