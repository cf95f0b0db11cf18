"""Shared fixtures: one ledger per test on each store.

PostgreSQL tests use the server at 127.0.0.1:5432 (database ``test``), each
test in a schema of its own. Where PostgreSQL is unreachable they skip with a
one-line reason, except under ``CI=true``, where an unreachable PostgreSQL is
a failure.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgtools import (
    PG_DSN,
    PG_ERROR,
    acquire_pg_schema,
    drop_free_schemas,
    drop_pg_schema,
    pg_schema_url,
    release_pg_schema,
)

from netfin.core.clock import ManualClock
from netfin.ledger import Ledger


def pytest_configure(config: pytest.Config) -> None:
    if PG_ERROR and os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true but PostgreSQL is unreachable at {PG_DSN}: {PG_ERROR}")


@pytest.fixture(autouse=True)
def _netfin_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoint keys go to a per-session temporary home, never to ~/.netfin; cheap argon2."""
    monkeypatch.setenv("NETFIN_HOME", str(tmp_path_factory.getbasetemp() / "netfin-home"))
    monkeypatch.delenv("NETFIN_LEDGER_SIGNING_KEY", raising=False)
    monkeypatch.delenv("NETFIN_LEDGER_KEY_FILE", raising=False)
    monkeypatch.delenv("NETFIN_API_SIGNING_KEY", raising=False)
    monkeypatch.delenv("NETFIN_API_KEY_FILE", raising=False)
    monkeypatch.delenv("NETFIN_REDIS_URL", raising=False)
    monkeypatch.delenv("NETFIN_DATABASE_URL", raising=False)
    # One cheap argon2id pass (≈1 ms instead of ≈170 ms): the suite signs thousands of customers
    # up; tests of password hashing itself pass their own hasher.
    monkeypatch.setenv("NETFIN_ARGON2", "time_cost=1,memory_kib=1024,parallelism=1")


def _pg_schema(*, migrated: bool) -> Iterator[str]:
    if PG_ERROR:
        pytest.skip(f"PostgreSQL unreachable at {PG_DSN}: {PG_ERROR}")
    if migrated:
        # From the dumped template, or one an earlier test of this process left and that was
        # emptied and checked since (pgtools: reused schemas).
        schema = acquire_pg_schema()
        yield pg_schema_url(schema)
        release_pg_schema(schema)
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield pg_schema_url(schema)
    drop_pg_schema(schema)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not PG_ERROR:
        drop_free_schemas()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema of its own on the test PostgreSQL, already migrated (both histories)."""
    yield from _pg_schema(migrated=True)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A fresh, empty schema (for tests that build or migrate the schema themselves)."""
    yield from _pg_schema(migrated=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file with both schemas migrated and nothing else, copied for each test.

    Migrating a fresh file costs about half a second; a copy of this one is
    the same empty, migrated database (both schemas at head, no rows but the
    version rows and the ledger's zero head) in a millisecond.
    """
    from netfin.storage import open_engine

    home = tmp_path_factory.mktemp("template-home")
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    saved = os.environ.get("NETFIN_HOME")
    os.environ["NETFIN_HOME"] = str(home)
    try:
        Ledger.open(f"sqlite:///{path}").close()  # opening migrates the ledger's schema
        open_engine(f"sqlite:///{path}").dispose()
    finally:
        if saved is None:
            os.environ.pop("NETFIN_HOME", None)
        else:
            os.environ["NETFIN_HOME"] = saved
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL on each store, both schemas already migrated, no rows."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "ledger.db")
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    yield request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each store (nothing migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    yield request.getfixturevalue("empty_pg_url")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(store_url: str, clock: ManualClock) -> Iterator[Ledger]:
    with Ledger.open(store_url, clock=clock) as opened:
        yield opened
