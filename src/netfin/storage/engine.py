"""One SQLAlchemy engine per database URL, with the pragmas and schema set."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from netfin.core.errors import ConfigurationError
from netfin.ledger.store import parse_database_url
from netfin.storage.reads import attach_point_reads

SCHEMA_HEAD = "0007"
VERSION_TABLE = "platform_version"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_LOCK = 0x6E66_706C  # "nfpl": serialises concurrent migrations on PostgreSQL
# Connections each process keeps open to PostgreSQL, and how many more it may open for a
# burst (closed again when returned). The API caps its request threads at POOL_SIZE
# (netfin.api.app.REQUEST_THREADS) so that a busy worker reuses pooled connections instead
# of opening and closing a session per request; background threads use the overflow.
POOL_SIZE = 16
POOL_OVERFLOW = 16

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def open_engine(url: str, *, run_migrations: bool = True) -> sa.Engine:
    """Open an engine on ``url``; bring the platform schema to head unless told not to."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    else:
        query = dict(parsed.query)
        schema = str(query.pop("schema", "public"))
        if not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(f"invalid schema name {schema!r}", code="database_url_invalid")
        connect_args = {"connect_timeout": 10, "options": f"-c search_path={schema}"}
        engine = sa.create_engine(
            parsed.set(query=query),
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
        _cargs, driver_args = engine.dialect.create_connect_args(engine.url)
        driver_args.pop("context", None)  # SQLAlchemy's own type adapters; psycopg's defaults here
        attach_point_reads(engine, {**driver_args, **connect_args})
        # executemany() of an INSERT becomes multi-row INSERT statements (SQLAlchemy's
        # "insertmanyvalues") instead of one pipelined statement per row: a batch of
        # payment orders writes thousands of rows, 3-4x faster this way.
        engine.dialect.use_insertmanyvalues_wo_returning = True
        _create_schema(engine, schema)
    if run_migrations:
        migrate(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not pysqlite, decides when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    """Begin every SQLite transaction by taking the write lock.

    pysqlite's lazy, deferred BEGIN lets a transaction read first and ask for
    the write lock later; when another connection committed in between, SQLite
    refuses at once with "database is locked" instead of waiting (waiting could
    deadlock). Read-then-write transactions are common here (claim an
    idempotency key, move a consent's state), so each transaction takes the
    lock up front and waits its turn (``busy_timeout``). Reads are serialised
    with writes on SQLite; PostgreSQL, the production store, is unaffected.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create_schema(engine: sa.Engine, schema: str) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.commit()
    except sa.exc.OperationalError as error:
        raise ConfigurationError(
            f"cannot connect to PostgreSQL at {engine.url.render_as_string(hide_password=True)}: "
            f"{str(error.orig).strip().splitlines()[0]}",
            code="database_unavailable",
        ) from None


def migrate(engine: sa.Engine) -> None:
    """Bring the platform schema to ``SCHEMA_HEAD`` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    with engine.connect() as connection:
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        try:
            if _current_version(connection) != SCHEMA_HEAD:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS_DIR))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            connection.commit()
        finally:
            if postgres:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                connection.commit()


def _current_version(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    value = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return None if value is None else str(value)
