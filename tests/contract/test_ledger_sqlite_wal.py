"""The SQLite store's WAL stays bounded under a steady load of commits.

SQLite-only: PostgreSQL manages its own WAL. The store copies the WAL into the
database from a background thread (PASSIVE checkpoints, which never block the
writer); when a pass leaves frames behind, the writer's next transaction starts
the WAL over, so the file is overwritten from its start instead of growing for as
long as the load lasts.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from netfin.core.ids import Uuid7Ids
from netfin.ledger import Account, Ledger, Transfer
from netfin.ledger.stores import sqlite as sqlite_store
from netfin.ledger.stores.sqlite import (
    CACHE_KIB,
    MMAP_SIZE_BYTES,
    WAL_SIZE_LIMIT_BYTES,
    SqliteStore,
    _Checkpointer,
)

ids = Uuid7Ids()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}", key_file=str(tmp_path / "key")) as opened:
        yield opened


def _store(ledger: Ledger) -> SqliteStore:
    store = ledger.store
    if not isinstance(store, SqliteStore):
        raise TypeError("an SQLite ledger was expected")
    return store


def _checkpointer(ledger: Ledger) -> _Checkpointer:
    """The store's checkpointer, its thread stopped: the test runs its passes."""
    checkpointer = _store(ledger)._checkpointer
    if checkpointer is None:
        raise TypeError("a file-backed SQLite store has a checkpointer")
    checkpointer._stop.set()
    checkpointer._thread.join()
    return checkpointer


def _wal_size(checkpointer: _Checkpointer) -> int:
    return os.stat(checkpointer._wal).st_size


def _accounts(ledger: Ledger, n: int) -> list[int]:
    accounts = [Account(ids.new_id(), "USD", 1) for _ in range(n)]
    assert all(r == "ok" for r in ledger.create_accounts(accounts))
    return [a.id for a in accounts]


def _pay(ledger: Ledger, accounts: list[int], n: int) -> None:
    size = len(accounts)
    pairs = [(accounts[k % size], accounts[(k + 1) % size]) for k in range(n)]
    transfers = [Transfer(ids.new_id(), d, c, 1 + k, "USD", 1) for k, (d, c) in enumerate(pairs)]
    assert all(r == "ok" for r in ledger.create_transfers(transfers))


@pytest.fixture
def small_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start the WAL over at any size (the store waits for 16 MiB)."""
    monkeypatch.setattr(sqlite_store, "WAL_RESTART_BYTES", 0)


def _left_behind(ledger: Ledger, accounts: list[int], tmp_path: Path) -> _Checkpointer:
    """A pass that leaves frames behind: those committed after a reader's snapshot,
    as those committed while a pass copies are under a steady load."""
    checkpointer = _checkpointer(ledger)
    reader = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM transfers").fetchone()
    for _ in range(20):
        _pay(ledger, accounts, 20)
    checkpointer.copy()
    reader.execute("COMMIT")
    reader.close()
    return checkpointer


@pytest.mark.usefixtures("small_restart")
def test_the_wal_starts_over_after_a_pass_that_left_frames_behind(ledger: Ledger, tmp_path: Path) -> None:
    accounts = _accounts(ledger, 50)
    for _ in range(20):
        _pay(ledger, accounts, 20)
    checkpointer = _left_behind(ledger, accounts, tmp_path)
    assert checkpointer.restart_due.is_set()
    grown = _wal_size(checkpointer)
    for _ in range(10):
        _pay(ledger, accounts, 20)
    assert not checkpointer.restart_due.is_set()
    assert _wal_size(checkpointer) <= grown, (
        "the commits after the restart extended the WAL, not overwrote it"
    )
    balances = [a.credits_posted - a.debits_posted for a in ledger.lookup_accounts(accounts)]
    assert sum(balances) == 0
    assert ledger.verify().ok


def test_a_small_wal_is_not_started_over_by_the_writer(ledger: Ledger, tmp_path: Path) -> None:
    accounts = _accounts(ledger, 10)
    checkpointer = _left_behind(ledger, accounts, tmp_path)
    assert not checkpointer.restart_due.is_set()  # under WAL_RESTART_BYTES: the next pass copies the rest


@pytest.mark.usefixtures("small_restart")
def test_a_pass_asks_for_a_restart_only_when_it_left_frames_behind(ledger: Ledger) -> None:
    accounts = _accounts(ledger, 10)
    _pay(ledger, accounts, 10)
    checkpointer = _checkpointer(ledger)
    checkpointer.restart_due.clear()
    checkpointer.copy()  # nothing was committed while it copied: the next write starts over by itself
    assert not checkpointer.restart_due.is_set()
    size = _wal_size(checkpointer)
    _pay(ledger, accounts, 10)
    assert _wal_size(checkpointer) <= size


@pytest.mark.usefixtures("small_restart")
def test_a_reader_on_an_old_snapshot_delays_the_restart_not_a_write(ledger: Ledger, tmp_path: Path) -> None:
    accounts = _accounts(ledger, 10)
    _pay(ledger, accounts, 10)
    reader = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        before = reader.execute("SELECT count(*) FROM transfers").fetchone()[0]
        checkpointer = _checkpointer(ledger)
        checkpointer.copy()
        checkpointer.restart_due.set()
        _pay(ledger, accounts, 10)  # the restart gives way to the reader; the batch is booked
        assert reader.execute("SELECT count(*) FROM transfers").fetchone()[0] == before
        reader.execute("COMMIT")
    finally:
        reader.close()
    assert ledger.verify().ok
    assert len(ledger.list_transfers(limit=100).transfers) == 20


def test_the_store_reads_through_a_memory_map_with_a_small_page_cache(ledger: Ledger) -> None:
    connection = _store(ledger).c
    assert connection.execute("PRAGMA mmap_size").fetchone()[0] == MMAP_SIZE_BYTES
    assert connection.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
    assert connection.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_SIZE_LIMIT_BYTES
