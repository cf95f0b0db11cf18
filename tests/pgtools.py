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


_TEMPLATE_NAME = "netfin_template_schema"
_template: list[str | None] = []  # [script] once built; [None] when pg_dump is unavailable


def _build_template() -> str | None:
    """Migrate one schema the normal way, dump it, and keep the script (schema name as a placeholder).

    Returns None (callers then migrate each schema themselves) where pg_dump
    is missing or fails.
    """
    import shutil
    import subprocess
    import uuid

    from netfin.ledger import Ledger
    from netfin.storage import open_engine

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    schema = f"tpl_{uuid.uuid4().hex[:16]}"
    try:
        url = pg_schema_url(schema)
        Ledger.open(url).close()  # opening migrates the ledger's schema
        open_engine(url).dispose()
        dumped = subprocess.run(
            [pg_dump, "--schema", schema, "--inserts", "--no-owner", "--no-privileges", PG_DSN],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if dumped.returncode != 0:
            return None
    finally:
        drop_pg_schema(schema)
    lines = [line for line in dumped.stdout.splitlines() if not line.startswith("\\")]
    return "\n".join(lines).replace(schema, _TEMPLATE_NAME)


def prepare_pg_schema(schema: str) -> None:
    """Create ``schema`` already migrated (both histories at head, no rows) from the dumped template."""
    if not _template:
        _template.append(_build_template())
    script = _template[0]
    if script is None:
        return
    with psycopg.connect(PG_DSN) as conn:
        conn.execute(script.replace(_TEMPLATE_NAME, schema).encode())  # type: ignore[arg-type]
