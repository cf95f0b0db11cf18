"""The in-memory account cache (eviction keeps balances exact) and verify's progress."""

from __future__ import annotations

from typing import Any

import pytest

from netfin.ledger import Account, AccountFlags, Ledger, Transfer


@pytest.mark.parametrize("cache_max", [0, 8])
def test_eviction_keeps_balances_exact(store_url: str, cache_max: int) -> None:
    with Ledger.open(store_url, account_cache_max=cache_max) as ledger:
        flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        assert set(ledger.create_accounts([Account(x, "CNY", 1, flags=flags) for x in range(1, 31)])) == {
            "ok"
        }
        assert set(ledger.create_accounts([Account(100, "CNY", 1)])) == {"ok"}
        funding = [Transfer(1000 + x, 100, x, 10, "CNY", 1) for x in range(1, 31)]
        assert set(ledger.create_transfers(funding)) == {"ok"}
        next_id = 2000
        for round_ in range(6):  # each batch touches more accounts than the cache holds
            batch = []
            for x in range(1, 31):
                next_id += 1
                batch.append(Transfer(next_id, x, (x + round_) % 30 + 1 if round_ else 100, 1, "CNY", 2))
            results = ledger.create_transfers(batch)
            assert len(ledger._accounts) <= cache_max + 31
            assert results.count("ok") == 30 or round_ == 0
        # the last batch's limits still hold: nobody spent more than they had
        for account in ledger.lookup_accounts(list(range(1, 31))):
            assert account.debits_posted <= account.credits_posted
        report = ledger.verify()
        assert report.ok, report.first_error
        totals = report.currencies["CNY"]
        assert totals["debits"] == totals["credits"] == 300 + 30 * 6


def test_verify_reports_progress(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from netfin.ledger import verify as verify_module

    monkeypatch.setattr(verify_module, "PROGRESS_EVERY", 3)
    assert set(ledger.create_accounts([Account(1, "CNY", 1), Account(2, "CNY", 1)])) == {"ok"}
    assert set(ledger.create_transfers([Transfer(10 + k, 1, 2, 1, "CNY", 1) for k in range(10)])) == {"ok"}
    seen: list[int] = []
    report = ledger.verify(progress=seen.append)
    assert report.ok and report.journal_entries == 12
    assert seen == [3, 6, 9, 12]


@pytest.mark.parametrize("cache_max", [0, 3, 100])
def test_created_accounts_are_kept_up_to_the_bound(
    store_url: str, cache_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger keeps the accounts it creates (as they stand: no tail yet) while its cache has
    room; a batch over them reads back only those it could not keep."""
    from netfin.ledger.stores.postgres import _PostgresWrite
    from netfin.ledger.stores.sqlite import _SqliteWrite

    loaded: list[int] = []
    for kind in (_PostgresWrite, _SqliteWrite):
        original = kind.load_accounts

        def recording(self: Any, ids: Any, tails: Any = None, original: Any = original) -> Any:
            ids = list(ids)
            loaded.extend(ids)
            return original(self, ids, tails)

        monkeypatch.setattr(kind, "load_accounts", recording)
    with Ledger.open(store_url, account_cache_max=cache_max) as ledger:
        assert set(ledger.create_accounts([Account(x, "CNY", 1) for x in range(1, 11)])) == {"ok"}
        assert sorted(ledger._accounts) == list(range(1, 11))[: min(cache_max, 10)]
        loaded.clear()  # (creating them looked for existing ids)
        batch = [Transfer(50 + x, x, x % 10 + 1, 1, "CNY", 1) for x in range(1, 11)]
        assert ledger.create_transfers(batch) == ["ok"] * 10
        assert sorted(loaded) == list(range(1, 11))[min(cache_max, 10) :]
        assert ledger.verify().ok


def test_a_bank_s_ledger_takes_its_cache_bound_from_the_settings(store_url: str) -> None:
    from netfin.bank import Bank, BankSettings

    with Bank(BankSettings(database_url=store_url, ledger_account_cache=5)) as bank:
        assert bank.ledger._cache_max == 5
