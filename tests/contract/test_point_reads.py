"""Point reads (``netfin.storage.reads``): one statement on a pooled autocommit
connection, on PostgreSQL only, and a dead connection costs no failed read."""

from __future__ import annotations

import psycopg
import pytest

from netfin.core.errors import ConfigurationError
from netfin.storage import open_engine
from netfin.storage.reads import point_reads


def test_sqlite_has_no_point_reads(tmp_path: object) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/p.db")
    try:
        assert point_reads(engine) is None
    finally:
        engine.dispose()


def test_a_read_survives_its_connection_dying(pg_url: str) -> None:
    engine = open_engine(pg_url)
    reads = point_reads(engine)
    assert reads is not None
    try:
        row = reads.one("SELECT pg_backend_pid(), current_schema()", ())
        assert row is not None
        pid, schema = row
        assert schema == pg_url.rsplit("schema=", 1)[1]  # the engine's schema, not public
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        again = reads.one("SELECT pg_backend_pid()", ())
        assert again is not None and again[0] != pid
        assert reads.one("SELECT 1 WHERE false", ()) is None
    finally:
        engine.dispose()
    with pytest.raises(ConfigurationError) as caught:
        reads.one("SELECT 1", ())
    assert caught.value.code == "database_closed"
