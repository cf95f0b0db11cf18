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
            # with a timeout the call returns only once the backend has exited
            ended = admin.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,)).fetchone()
            assert ended == (True,)
        again = reads.one("SELECT pg_backend_pid()", ())
        assert again is not None and again[0] != pid
        assert reads.one("SELECT 1 WHERE false", ()) is None
    finally:
        engine.dispose()
    with pytest.raises(ConfigurationError) as caught:
        reads.one("SELECT 1", ())
    assert caught.value.code == "database_closed"


def test_point_reads_give_what_the_engine_reads_give(pg_url: str) -> None:
    """The customer-account and consent reads on the point-read pool decode the same rows to the
    same values as the SQLAlchemy reads they stand in for."""
    from netfin.identity import store as identity_store
    from netfin.identity.consents import store as consent_store
    from netfin.identity.model import AccountStatus, CustomerAccount

    engine = open_engine(pg_url)
    reads = point_reads(engine)
    assert reads is not None
    accounts = [
        CustomerAccount(
            f"acc-{n}",
            7 + n,
            2**100 + n,
            "GBP",
            f"Nick {n}",
            f"GB00TEST{n:014d}",
            AccountStatus.ENABLED if n else AccountStatus.DISABLED,
            1_000 + n,
        )
        for n in (2, 0, 1)
    ]
    try:
        with engine.begin() as connection:
            connection.execute(
                identity_store.customer_accounts.insert(),
                [identity_store.account_values(a) for a in accounts],
            )
        ids = ["acc-1", "acc-2", "acc-9", "acc-0"]
        with engine.connect() as connection:
            expected = identity_store.load_accounts(connection, ids)
            expected_consent = consent_store.load(connection, "no-such-consent")
        assert [a.account_id for a in expected] == ["acc-0", "acc-1", "acc-2"]
        assert identity_store.read_accounts(reads, ids) == expected
        assert identity_store.read_accounts(reads, []) == []
        assert identity_store.read_account_by_iban(reads, accounts[0].iban) == accounts[0]
        assert identity_store.read_account_by_iban(reads, "GB00NONE") is None
        assert consent_store.read(reads, "no-such-consent") is expected_consent is None
        assert consent_store.load_with_account(reads, "no-such-consent", "acc-1") == (None, None)
    finally:
        engine.dispose()
