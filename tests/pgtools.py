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


# --- reused schemas ---------------------------------------------------------------------------
# Creating a migrated schema (67 tables, their indexes, triggers) and dropping it again costs
# PostgreSQL about half a second of CPU; over the suite's ~1,500 PostgreSQL tests that was a
# third of all the CPU a run used. A test's schema is therefore emptied and kept for the next
# test of the same process instead: every table's rows deleted (append-only triggers and
# foreign keys bypassed with session_replication_role = replica), sequences restarted, the
# template's seed rows put back. A schema whose structure a test changed (a fingerprint of its
# tables, columns, indexes, constraints and triggers differs from a fresh one's), or that
# cannot be emptied at once (a lock still held), is dropped instead.

_free_schemas: list[str] = []
_fingerprint: list[str] = []  # a fresh migrated schema's, computed once

_FINGERPRINT_SQL = """
SELECT md5(string_agg(item, ',' ORDER BY item)) FROM (
    SELECT 'c:' || c.relname || ':' || c.relkind::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s
    UNION ALL SELECT 'a:' || c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
        || ':' || a.attnotnull::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(s)s AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT 'k:' || con.conname || ':' || pg_get_constraintdef(con.oid) FROM pg_constraint con
        JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = %(s)s
    UNION ALL SELECT 't:' || t.tgname || ':' || t.tgenabled::text FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(s)s
) AS items(item)
"""


def _schema_fingerprint(conn: psycopg.Connection, schema: str) -> str:
    row = conn.execute(_FINGERPRINT_SQL, {"s": schema}).fetchone()
    return str(row[0]) if row else ""


def _reset_script(schema: str) -> str | None:
    """Empty every table, restart the sequences, put the seed rows back; None without a template."""
    script = _template[0] if _template else None
    if script is None:
        return None
    tables = [
        line.split()[2].split(".", 1)[1]
        for line in script.splitlines()
        if line.startswith(f"CREATE TABLE {_TEMPLATE_NAME}.")
    ]
    sequences = [
        line.split()[2].split(".", 1)[1]
        for line in script.splitlines()
        if line.startswith(f"CREATE SEQUENCE {_TEMPLATE_NAME}.")
    ]
    seeds = [line for line in script.splitlines() if line.startswith(f"INSERT INTO {_TEMPLATE_NAME}.")]
    statements = ["SET LOCAL lock_timeout = '2s'", "SET LOCAL session_replication_role = replica"]
    statements += [f'DELETE FROM "{schema}"."{table}"' for table in tables]
    statements += [f'ALTER SEQUENCE "{schema}"."{sequence}" RESTART' for sequence in sequences]
    statements += [seed.replace(_TEMPLATE_NAME, f'"{schema}"').rstrip(";") for seed in seeds]
    return ";\n".join(statements)


def acquire_pg_schema() -> str:
    """A migrated, empty schema of this process: a freed one, or a new one from the template."""
    if _free_schemas:
        return _free_schemas.pop()
    import uuid

    schema = f"t_{uuid.uuid4().hex[:16]}"
    prepare_pg_schema(schema)
    if _template and _template[0] is not None and not _fingerprint:
        with psycopg.connect(PG_DSN) as conn:
            _fingerprint.append(_schema_fingerprint(conn, schema))
    return schema


def release_pg_schema(schema: str) -> None:
    """Empty ``schema`` for the next test, or drop it when it cannot be reused."""
    script = _reset_script(schema)
    if script is None or not _fingerprint:
        drop_pg_schema(schema)
        return
    try:
        with psycopg.connect(PG_DSN) as conn:
            if _schema_fingerprint(conn, schema) != _fingerprint[0]:
                raise LookupError("the test changed the schema's structure")
            with conn.transaction():
                conn.execute(script.encode())  # type: ignore[arg-type]
    except (psycopg.Error, LookupError):
        drop_pg_schema(schema)
        return
    _free_schemas.append(schema)


def drop_free_schemas() -> None:
    """Drop this process's kept schemas (at the end of the session)."""
    while _free_schemas:
        drop_pg_schema(_free_schemas.pop())
