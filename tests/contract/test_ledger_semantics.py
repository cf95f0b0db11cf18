"""Contract tests: the ledger's business rules, after TigerBeetle's model.

Every test runs on both stores (the ``ledger`` fixture is parametrised over
SQLite and PostgreSQL) and asserts specific result codes and balances.
"""

from __future__ import annotations

import pytest

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.limits import UINT128_MAX
from netfin.ledger import (
    AMOUNT_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Ledger,
    Transfer,
    TransferFlags,
)

A = CreateAccountResult
R = CreateTransferResult
AF = AccountFlags
TF = TransferFlags


# -- helpers ------------------------------------------------------------------


def acct(id_: int, *, currency: str = "USD", code: int = 1, flags: int = 0, **kw: int) -> Account:
    return Account(id_, currency, code, flags, **kw)


def xfer(
    id_: int,
    dr: int = 0,
    cr: int = 0,
    amount: int = 0,
    *,
    currency: str = "USD",
    code: int = 1,
    flags: int = 0,
    **kw: int,
) -> Transfer:
    return Transfer(id_, dr, cr, amount, currency, code, flags, **kw)


def post(
    id_: int, pending_id: int, amount: int = AMOUNT_MAX, *, flags: int = TF.POST_PENDING, **kw: int
) -> Transfer:
    """Post a pending transfer; the fields it inherits are left empty."""
    return Transfer(id_, amount=amount, currency="", code=0, flags=flags, pending_id=pending_id, **kw)


def void(id_: int, pending_id: int, amount: int = 0, *, flags: int = TF.VOID_PENDING, **kw: int) -> Transfer:
    return Transfer(id_, amount=amount, currency="", code=0, flags=flags, pending_id=pending_id, **kw)


def bal(ledger: Ledger, account_id: int) -> tuple[int, int, int, int]:
    """(debits_pending, debits_posted, credits_pending, credits_posted)."""
    (a,) = ledger.lookup_accounts([account_id])
    return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)


def setup_accounts(ledger: Ledger, *accounts: Account) -> None:
    assert ledger.create_accounts(list(accounts)) == [A.OK] * len(accounts)


def fund(ledger: Ledger, id_: int, source: int, target: int, amount: int) -> None:
    assert ledger.create_transfers([xfer(id_, source, target, amount)]) == [R.OK]


def assert_verifies(ledger: Ledger) -> None:
    report = ledger.verify()
    assert report.ok, report.first_error


# -- accounts -------------------------------------------------------------------


def test_create_account_and_lookup(ledger: Ledger) -> None:
    results = ledger.create_accounts(
        [
            acct(1, code=10, flags=AF.HISTORY, user_data_128=2**127, user_data_64=64, user_data_32=32),
            acct(2, currency="JPY", code=20),
        ]
    )
    assert results == [A.OK, A.OK]
    a, b = ledger.lookup_accounts([1, 2])
    assert (a.id, a.currency, a.code, a.flags) == (1, "USD", 10, AF.HISTORY)
    assert (a.user_data_128, a.user_data_64, a.user_data_32) == (2**127, 64, 32)
    assert (b.id, b.currency, b.code, b.flags) == (2, "JPY", 20, 0)
    assert bal(ledger, 1) == bal(ledger, 2) == (0, 0, 0, 0)
    assert 0 < a.timestamp < b.timestamp
    assert ledger.lookup_accounts([3]) == []
    assert_verifies(ledger)


def test_create_account_exists_is_idempotent(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1, code=7, user_data_64=5))
    (before,) = ledger.lookup_accounts([1])
    seq = ledger.store.head().seq
    assert ledger.create_accounts([acct(1, code=7, user_data_64=5)]) == [A.EXISTS]
    assert ledger.lookup_accounts([1]) == [before]
    assert ledger.store.head().seq == seq


def test_duplicate_account_in_one_batch(ledger: Ledger) -> None:
    assert ledger.create_accounts([acct(1), acct(1), acct(1, code=2)]) == [
        A.OK,
        A.EXISTS,
        A.EXISTS_WITH_DIFFERENT_CODE,
    ]
    assert ledger.store.head().seq == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"flags": AF.HISTORY}, A.EXISTS_WITH_DIFFERENT_FLAGS),
        ({"user_data_128": 9}, A.EXISTS_WITH_DIFFERENT_USER_DATA_128),
        ({"user_data_64": 9}, A.EXISTS_WITH_DIFFERENT_USER_DATA_64),
        ({"user_data_32": 9}, A.EXISTS_WITH_DIFFERENT_USER_DATA_32),
        ({"currency": "EUR"}, A.EXISTS_WITH_DIFFERENT_CURRENCY),
        ({"code": 2}, A.EXISTS_WITH_DIFFERENT_CODE),
    ],
)
def test_create_account_exists_with_different_field(
    ledger: Ledger, changes: dict[str, object], expected: CreateAccountResult
) -> None:
    setup_accounts(ledger, acct(1, user_data_128=1, user_data_64=1, user_data_32=1))
    (before,) = ledger.lookup_accounts([1])
    seq = ledger.store.head().seq
    fields = {
        "currency": "USD",
        "code": 1,
        "flags": 0,
        "user_data_128": 1,
        "user_data_64": 1,
        "user_data_32": 1,
        **changes,
    }
    again = Account(1, **fields)  # type: ignore[arg-type]
    assert ledger.create_accounts([again]) == [expected]
    assert ledger.lookup_accounts([1]) == [before]
    assert ledger.store.head().seq == seq


def test_account_flags_mutually_exclusive(ledger: Ledger) -> None:
    both = AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.CREDITS_MUST_NOT_EXCEED_DEBITS
    assert ledger.create_accounts([acct(1, flags=both)]) == [A.FLAGS_ARE_MUTUALLY_EXCLUSIVE]
    assert ledger.lookup_accounts([1]) == []


@pytest.mark.parametrize("flags", [AF.CLOSED, AF.CLOSED | AF.HISTORY, 1 << 4, 1 << 6, 1 << 15])
def test_account_reserved_flags_rejected(ledger: Ledger, flags: int) -> None:
    assert ledger.create_accounts([acct(1, flags=flags)]) == [A.RESERVED_FLAG]
    assert ledger.lookup_accounts([1]) == []
    assert ledger.store.head().seq == 0


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (acct(0), A.ID_MUST_NOT_BE_ZERO),
        (acct(UINT128_MAX), A.ID_MUST_NOT_BE_INT_MAX),
        (acct(2**128), A.ID_OUT_OF_RANGE),
        (acct(-1), A.ID_OUT_OF_RANGE),
        (acct(1, code=0), A.CODE_MUST_NOT_BE_ZERO),
        (acct(1, code=2**16), A.CODE_OUT_OF_RANGE),
        (acct(1, currency="ZZZ"), A.CURRENCY_MUST_BE_VALID),
        (acct(1, currency="usd"), A.CURRENCY_MUST_BE_VALID),
        (acct(1, currency="XAU"), A.CURRENCY_MUST_BE_VALID),
        (acct(1, currency=""), A.CURRENCY_MUST_BE_VALID),
        (acct(1, credits_posted=5), A.BALANCES_MUST_BE_ZERO),
        (acct(1, debits_pending=5), A.BALANCES_MUST_BE_ZERO),
        (acct(1, timestamp=5), A.TIMESTAMP_MUST_BE_ZERO),
        (acct(1, user_data_64=2**63), A.USER_DATA_OUT_OF_RANGE),
        (acct(1, user_data_32=2**32), A.USER_DATA_OUT_OF_RANGE),
        (acct(1, user_data_128=2**128), A.USER_DATA_OUT_OF_RANGE),
    ],
)
def test_create_account_validation(ledger: Ledger, account: Account, expected: CreateAccountResult) -> None:
    assert ledger.create_accounts([account]) == [expected]
    assert ledger.store.head().seq == 0
    assert ledger.store.count("accounts") == 0


def test_linked_account_chain_commits_together(ledger: Ledger) -> None:
    results = ledger.create_accounts([acct(1, flags=AF.LINKED), acct(2, flags=AF.LINKED), acct(3), acct(4)])
    assert results == [A.OK] * 4
    assert [a.id for a in ledger.lookup_accounts([1, 2, 3, 4])] == [1, 2, 3, 4]
    # The LINKED flag is part of the account's identity for idempotency.
    # Retrying the chain: ``exists`` is not ``ok``, so (as in TigerBeetle) it
    # breaks the chain and the rest report linked_event_failed; nothing changes.
    seq = ledger.store.head().seq
    assert ledger.create_accounts([acct(1, flags=AF.LINKED), acct(2, flags=AF.LINKED), acct(3)]) == [
        A.EXISTS,
        A.LINKED_EVENT_FAILED,
        A.LINKED_EVENT_FAILED,
    ]
    assert ledger.store.head().seq == seq


def test_linked_account_chain_fails_as_a_whole(ledger: Ledger) -> None:
    results = ledger.create_accounts(
        [
            acct(1),
            acct(2, flags=AF.LINKED),
            acct(3, flags=AF.LINKED, code=0),
            acct(4),
            acct(5),
        ]
    )
    assert results == [A.OK, A.LINKED_EVENT_FAILED, A.CODE_MUST_NOT_BE_ZERO, A.LINKED_EVENT_FAILED, A.OK]
    assert [a.id for a in ledger.lookup_accounts([1, 2, 3, 4, 5])] == [1, 5]
    assert_verifies(ledger)


def test_linked_account_chain_fails_on_existing_member(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(9))
    results = ledger.create_accounts([acct(1, flags=AF.LINKED), acct(9, code=2)])
    assert results == [A.LINKED_EVENT_FAILED, A.EXISTS_WITH_DIFFERENT_CODE]
    assert ledger.lookup_accounts([1]) == []


def test_linked_account_chain_open_at_end(ledger: Ledger) -> None:
    results = ledger.create_accounts([acct(1), acct(2, flags=AF.LINKED), acct(3, flags=AF.LINKED)])
    assert results == [A.OK, A.LINKED_EVENT_FAILED, A.LINKED_EVENT_CHAIN_OPEN]
    assert [a.id for a in ledger.lookup_accounts([1, 2, 3])] == [1]
    assert ledger.create_accounts([acct(4, flags=AF.LINKED)]) == [A.LINKED_EVENT_CHAIN_OPEN]
    assert ledger.lookup_accounts([4]) == []


# -- plain transfers --------------------------------------------------------------


def test_plain_transfer_moves_posted_balances(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, user_data_32=3), xfer(11, 2, 1, 30)]) == [R.OK, R.OK]
    assert bal(ledger, 1) == (0, 100, 0, 30)
    assert bal(ledger, 2) == (0, 30, 0, 100)
    t10, t11 = ledger.lookup_transfers([10, 11])
    assert (t10.debit_account_id, t10.credit_account_id, t10.amount, t10.currency, t10.user_data_32) == (
        1,
        2,
        100,
        "USD",
        3,
    )
    assert 0 < t10.timestamp < t11.timestamp
    (a1,) = ledger.lookup_accounts([1])
    assert a1.balance() == 30 - 100
    assert_verifies(ledger)


def test_batch_results_are_per_event_in_order(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3, currency="EUR"))
    results = ledger.create_transfers(
        [
            xfer(10, 1, 2, 5),
            xfer(11, 1, 9, 5),
            xfer(12, 1, 3, 5),
            xfer(13, 2, 1, 7),
            xfer(14, 1, 1, 5),
        ]
    )
    assert results == [
        R.OK,
        R.CREDIT_ACCOUNT_NOT_FOUND,
        R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY,
        R.OK,
        R.ACCOUNTS_MUST_BE_DIFFERENT,
    ]
    assert bal(ledger, 1) == (0, 5, 0, 7)
    assert bal(ledger, 2) == (0, 7, 0, 5)
    assert [t.id for t in ledger.lookup_transfers([10, 11, 12, 13, 14])] == [10, 13]


def test_many_currencies_balance_separately(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3, currency="JPY"), acct(4, currency="JPY"))
    assert ledger.create_transfers([xfer(10, 1, 2, 100), xfer(11, 3, 4, 5, currency="JPY")]) == [R.OK, R.OK]
    report = ledger.verify()
    assert report.ok
    assert report.currencies == {"USD": {"debits": 100, "credits": 100}, "JPY": {"debits": 5, "credits": 5}}


# -- limits -------------------------------------------------------------------------


def test_debits_must_not_exceed_credits(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS), acct(3))
    fund(ledger, 10, 1, 2, 100)
    assert ledger.create_transfers([xfer(11, 2, 3, 101)]) == [R.EXCEEDS_CREDITS]
    assert ledger.create_transfers([xfer(12, 2, 3, 100)]) == [R.OK]
    assert ledger.create_transfers([xfer(13, 2, 3, 1)]) == [R.EXCEEDS_CREDITS]
    assert bal(ledger, 2) == (0, 100, 0, 100)
    assert bal(ledger, 3) == (0, 0, 0, 100)
    assert ledger.lookup_transfers([11, 13]) == []


def test_credits_must_not_exceed_debits(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1, flags=AF.CREDITS_MUST_NOT_EXCEED_DEBITS), acct(2), acct(3))
    fund(ledger, 10, 1, 2, 70)
    assert ledger.create_transfers([xfer(11, 3, 1, 71)]) == [R.EXCEEDS_DEBITS]
    assert ledger.create_transfers([xfer(12, 3, 1, 70), xfer(13, 3, 1, 1)]) == [R.OK, R.EXCEEDS_DEBITS]
    assert bal(ledger, 1) == (0, 70, 0, 70)


def test_pending_amounts_count_against_limits(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS), acct(3))
    fund(ledger, 10, 1, 2, 100)
    assert ledger.create_transfers([xfer(11, 2, 3, 60, flags=TF.PENDING)]) == [R.OK]
    assert ledger.create_transfers([xfer(12, 2, 3, 50)]) == [R.EXCEEDS_CREDITS]
    assert ledger.create_transfers([xfer(13, 2, 3, 50, flags=TF.PENDING)]) == [R.EXCEEDS_CREDITS]
    assert ledger.create_transfers([void(14, 11), xfer(15, 2, 3, 50)]) == [R.OK, R.OK]
    assert bal(ledger, 2) == (0, 50, 0, 100)
    assert_verifies(ledger)


# -- two-phase transfers ------------------------------------------------------------


def test_pending_then_post_full_with_amount_max(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING)]) == [R.OK]
    assert bal(ledger, 1) == (100, 0, 0, 0)
    assert bal(ledger, 2) == (0, 0, 100, 0)
    assert ledger.create_transfers([post(11, 10)]) == [R.OK]
    assert bal(ledger, 1) == (0, 100, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 100)
    (posted,) = ledger.lookup_transfers([11])
    assert (
        posted.amount,
        posted.debit_account_id,
        posted.credit_account_id,
        posted.currency,
        posted.code,
    ) == (
        100,
        1,
        2,
        "USD",
        1,
    )
    assert posted.pending_id == 10
    assert_verifies(ledger)


def test_post_exact_pending_amount(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING), post(11, 10, 100)]) == [R.OK, R.OK]
    assert bal(ledger, 1) == (0, 100, 0, 0)


def test_post_partial_releases_the_rest(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING)]) == [R.OK]
    assert ledger.create_transfers([post(11, 10, 40)]) == [R.OK]
    assert bal(ledger, 1) == (0, 40, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 40)
    (posted,) = ledger.lookup_transfers([11])
    assert posted.amount == 40
    # Nothing left to post: the pending transfer is resolved.
    assert ledger.create_transfers([post(12, 10, 10)]) == [R.PENDING_TRANSFER_ALREADY_POSTED]
    assert bal(ledger, 1) == (0, 40, 0, 0)
    assert_verifies(ledger)


def test_void_releases_the_hold(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING)]) == [R.OK]
    assert ledger.create_transfers([void(11, 10)]) == [R.OK]
    assert bal(ledger, 1) == (0, 0, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 0)
    (voided,) = ledger.lookup_transfers([11])
    assert voided.amount == 100
    assert_verifies(ledger)


def test_void_with_the_pending_amount_and_with_another_amount(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    pendings = [xfer(10, 1, 2, 100, flags=TF.PENDING), xfer(11, 1, 2, 50, flags=TF.PENDING)]
    assert ledger.create_transfers(pendings) == [R.OK, R.OK]
    assert ledger.create_transfers([void(12, 10, 99), void(13, 10, 100), void(14, 11, 51)]) == [
        R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
        R.OK,
        R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
    ]
    assert bal(ledger, 1) == (50, 0, 0, 0)


def test_post_more_than_pending(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING)]) == [R.OK]
    assert ledger.create_transfers([post(11, 10, 101)]) == [R.EXCEEDS_PENDING_TRANSFER_AMOUNT]
    assert bal(ledger, 1) == (100, 0, 0, 0)
    assert ledger.lookup_transfers([11]) == []
    assert ledger.create_transfers([post(11, 10, 100)]) == [R.OK]


def test_post_after_void_and_void_after_post(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    pendings = [xfer(10, 1, 2, 100, flags=TF.PENDING), xfer(20, 1, 2, 7, flags=TF.PENDING)]
    assert ledger.create_transfers(pendings) == [R.OK, R.OK]
    assert ledger.create_transfers([void(11, 10), post(21, 20)]) == [R.OK, R.OK]
    assert ledger.create_transfers([post(12, 10), void(13, 10), post(22, 20), void(23, 20)]) == [
        R.PENDING_TRANSFER_ALREADY_VOIDED,
        R.PENDING_TRANSFER_ALREADY_VOIDED,
        R.PENDING_TRANSFER_ALREADY_POSTED,
        R.PENDING_TRANSFER_ALREADY_POSTED,
    ]
    assert bal(ledger, 1) == (0, 7, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 7)


def test_post_and_void_in_the_same_batch_as_the_pending(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    results = ledger.create_transfers(
        [
            xfer(10, 1, 2, 100, flags=TF.PENDING),
            post(11, 10, 60),
            void(12, 10),
            xfer(13, 1, 2, 5, flags=TF.PENDING),
            void(14, 13),
        ]
    )
    assert results == [R.OK, R.OK, R.PENDING_TRANSFER_ALREADY_POSTED, R.OK, R.OK]
    assert bal(ledger, 1) == (0, 60, 0, 0)
    assert_verifies(ledger)


def test_post_or_void_of_unknown_or_not_pending_transfer(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    fund(ledger, 10, 1, 2, 5)
    assert ledger.create_transfers(
        [
            post(11, 999),
            void(12, 999),
            post(13, 10),
            void(14, 10),
            post(15, 0),
            post(16, 16),
        ]
    ) == [
        R.PENDING_TRANSFER_NOT_FOUND,
        R.PENDING_TRANSFER_NOT_FOUND,
        R.PENDING_TRANSFER_NOT_PENDING,
        R.PENDING_TRANSFER_NOT_PENDING,
        R.PENDING_ID_MUST_NOT_BE_ZERO,
        R.PENDING_ID_MUST_BE_DIFFERENT,
    ]
    assert bal(ledger, 1) == (0, 5, 0, 0)


def test_post_must_match_the_pending_transfer(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, code=5, flags=TF.PENDING)]) == [R.OK]
    results = ledger.create_transfers(
        [
            Transfer(11, 3, 0, AMOUNT_MAX, "", 0, TF.POST_PENDING, pending_id=10),
            Transfer(12, 0, 3, AMOUNT_MAX, "", 0, TF.POST_PENDING, pending_id=10),
            Transfer(13, 0, 0, AMOUNT_MAX, "EUR", 0, TF.POST_PENDING, pending_id=10),
            Transfer(14, 0, 0, AMOUNT_MAX, "", 6, TF.POST_PENDING, pending_id=10),
            Transfer(15, 1, 2, AMOUNT_MAX, "USD", 5, TF.POST_PENDING, pending_id=10),
        ]
    )
    assert results == [
        R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,
        R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,
        R.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY,
        R.PENDING_TRANSFER_HAS_DIFFERENT_CODE,
        R.OK,
    ]
    assert bal(ledger, 1) == (0, 100, 0, 0)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (TF.POST_PENDING | TF.VOID_PENDING, R.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (TF.POST_PENDING | TF.PENDING, R.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (TF.POST_PENDING | TF.BALANCING_DEBIT, R.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (TF.VOID_PENDING | TF.CLOSING_CREDIT, R.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (TF.CLOSING_DEBIT, R.CLOSING_TRANSFER_MUST_BE_PENDING),
        (1 << 8, R.RESERVED_FLAG),
    ],
)
def test_transfer_flag_combinations(ledger: Ledger, flags: int, expected: CreateTransferResult) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 5, flags=TF.PENDING)]) == [R.OK]
    seq = ledger.store.head().seq
    assert ledger.create_transfers([xfer(11, 1, 2, 5, flags=flags, pending_id=10)]) == [expected]
    assert ledger.store.head().seq == seq
    assert bal(ledger, 1) == (5, 0, 0, 0)


def test_timeout_only_for_pending_transfers(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 5, timeout=10)]) == [
        R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    ]
    assert ledger.create_transfers([xfer(11, 1, 2, 5, flags=TF.PENDING, timeout=2**32)]) == [
        R.TIMEOUT_OUT_OF_RANGE
    ]
    assert ledger.create_transfers([xfer(12, 1, 2, 5, flags=TF.PENDING, timeout=10)]) == [R.OK]
    assert ledger.create_transfers([post(13, 12, timeout=1)]) == [R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER]


# -- timeouts -------------------------------------------------------------------------


def _pending_with_timeout(ledger: Ledger, timeout: int = 5) -> Transfer:
    setup_accounts(ledger, acct(1), acct(2), acct(3), acct(4))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING, timeout=timeout)]) == [R.OK]
    (pending,) = ledger.lookup_transfers([10])
    return pending


def _expiry_entries(ledger: Ledger) -> int:
    """Journal entries of kind EXPIRY (3)."""
    entries = [ledger.store.journal_entry(seq) for seq in range(1, ledger.store.head().seq + 1)]
    return sum(1 for e in entries if e is not None and e.kind == 3)


def test_post_before_timeout_succeeds(ledger: Ledger, clock: ManualClock) -> None:
    _pending_with_timeout(ledger, timeout=5)
    clock.advance(seconds=4)
    assert ledger.create_transfers([post(11, 10)]) == [R.OK]
    assert bal(ledger, 1) == (0, 100, 0, 0)
    clock.advance(seconds=10)
    assert ledger.expire_pending() == 0
    assert bal(ledger, 1) == (0, 100, 0, 0)
    assert_verifies(ledger)


def test_timeout_released_by_next_batch(ledger: Ledger, clock: ManualClock) -> None:
    _pending_with_timeout(ledger, timeout=5)
    clock.advance(seconds=6)
    assert bal(ledger, 1) == (100, 0, 0, 0)  # nothing happens until the next write
    assert ledger.create_transfers([xfer(11, 3, 4, 1)]) == [R.OK]  # unrelated accounts
    assert bal(ledger, 1) == (0, 0, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 0)
    assert _expiry_entries(ledger) == 1
    assert ledger.create_transfers([post(12, 10), void(13, 10)]) == [
        R.PENDING_TRANSFER_EXPIRED,
        R.PENDING_TRANSFER_EXPIRED,
    ]
    assert bal(ledger, 1) == (0, 0, 0, 0)
    assert _expiry_entries(ledger) == 1
    assert_verifies(ledger)


def test_timeout_released_by_expire_pending(ledger: Ledger, clock: ManualClock) -> None:
    _pending_with_timeout(ledger, timeout=5)
    assert ledger.create_transfers([xfer(20, 1, 2, 1, flags=TF.PENDING, timeout=100)]) == [R.OK]
    clock.advance(seconds=6)
    assert ledger.expire_pending() == 1
    assert ledger.expire_pending() == 0
    assert bal(ledger, 1) == (1, 0, 0, 0)
    assert ledger.create_transfers([post(11, 10)]) == [R.PENDING_TRANSFER_EXPIRED]
    assert bal(ledger, 1) == (1, 0, 0, 0)
    assert ledger.lookup_transfers([11]) == []
    clock.advance(seconds=100)
    assert ledger.expire_pending() == 1
    assert bal(ledger, 1) == (0, 0, 0, 0)
    assert_verifies(ledger)


def test_post_in_the_batch_that_expires(ledger: Ledger, clock: ManualClock) -> None:
    _pending_with_timeout(ledger, timeout=5)
    clock.advance(seconds=6)
    assert ledger.create_transfers([post(11, 10), xfer(12, 1, 2, 3)]) == [R.PENDING_TRANSFER_EXPIRED, R.OK]
    assert bal(ledger, 1) == (0, 3, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 3)
    assert_verifies(ledger)


def test_timeout_boundary_is_inclusive(ledger: Ledger, clock: ManualClock) -> None:
    pending = _pending_with_timeout(ledger, timeout=5)
    expires_at = pending.timestamp + 5 * NS_PER_SECOND
    clock.set(expires_at - 1)
    assert ledger.expire_pending() == 0
    clock.set(expires_at)
    assert ledger.expire_pending() == 1
    assert ledger.create_transfers([post(11, 10)]) == [R.PENDING_TRANSFER_EXPIRED]


def test_pending_without_timeout_never_expires(ledger: Ledger, clock: ManualClock) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 100, flags=TF.PENDING)]) == [R.OK]
    clock.advance(seconds=10**9)
    assert ledger.expire_pending() == 0
    assert ledger.create_transfers([post(11, 10)]) == [R.OK]


# -- linked chains --------------------------------------------------------------------


def test_linked_chain_commits_together(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS), acct(3))
    # The second transfer is only possible because of the first.
    results = ledger.create_transfers([xfer(10, 1, 2, 50, flags=TF.LINKED), xfer(11, 2, 3, 50)])
    assert results == [R.OK, R.OK]
    assert bal(ledger, 2) == (0, 50, 0, 50)


def test_linked_chain_failure_in_the_middle_rolls_back(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS), acct(3))
    seq = ledger.store.head().seq
    results = ledger.create_transfers(
        [
            xfer(10, 1, 3, 7),
            xfer(11, 1, 2, 50, flags=TF.LINKED),
            xfer(12, 1, 2, 5, flags=TF.LINKED | TF.PENDING),
            xfer(13, 2, 3, 60, flags=TF.LINKED),  # exceeds credits (50 + 0)
            xfer(14, 1, 3, 1),
            xfer(15, 1, 3, 2),
        ]
    )
    assert results == [
        R.OK,
        R.LINKED_EVENT_FAILED,
        R.LINKED_EVENT_FAILED,
        R.EXCEEDS_CREDITS,
        R.LINKED_EVENT_FAILED,
        R.OK,
    ]
    assert bal(ledger, 1) == (0, 9, 0, 0)
    assert bal(ledger, 2) == (0, 0, 0, 0)
    assert bal(ledger, 3) == (0, 0, 0, 9)
    assert [t.id for t in ledger.lookup_transfers([10, 11, 12, 13, 14, 15])] == [10, 15]
    assert ledger.store.head().seq == seq + 2
    assert ledger.store.count("pending_transfers") == 0
    # The ids of the failed chain are free: nothing of them was kept.
    assert ledger.create_transfers([xfer(11, 1, 2, 50), xfer(12, 1, 2, 5, flags=TF.PENDING)]) == [R.OK, R.OK]
    assert_verifies(ledger)


def test_linked_chain_rolls_back_post_and_void(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    pendings = [xfer(10, 1, 2, 100, flags=TF.PENDING), xfer(20, 1, 2, 30, flags=TF.PENDING)]
    assert ledger.create_transfers(pendings) == [R.OK, R.OK]
    results = ledger.create_transfers(
        [
            post(11, 10, 40, flags=TF.POST_PENDING | TF.LINKED),
            void(21, 20, flags=TF.VOID_PENDING | TF.LINKED),
            xfer(30, 1, 9, 1),  # unknown credit account
        ]
    )
    assert results == [R.LINKED_EVENT_FAILED, R.LINKED_EVENT_FAILED, R.CREDIT_ACCOUNT_NOT_FOUND]
    assert bal(ledger, 1) == (130, 0, 0, 0)
    # Both pending transfers are still pending.
    assert ledger.create_transfers([post(12, 10), void(22, 20)]) == [R.OK, R.OK]
    assert bal(ledger, 1) == (0, 100, 0, 0)
    assert_verifies(ledger)


def test_linked_chain_open_at_end(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    seq = ledger.store.head().seq
    results = ledger.create_transfers(
        [
            xfer(10, 1, 2, 1),
            xfer(11, 1, 2, 2, flags=TF.LINKED),
            xfer(12, 1, 2, 3, flags=TF.LINKED),
        ]
    )
    assert results == [R.OK, R.LINKED_EVENT_FAILED, R.LINKED_EVENT_CHAIN_OPEN]
    assert bal(ledger, 1) == (0, 1, 0, 0)
    assert ledger.store.head().seq == seq + 1
    assert ledger.create_transfers([xfer(13, 1, 2, 3, flags=TF.LINKED)]) == [R.LINKED_EVENT_CHAIN_OPEN]
    assert bal(ledger, 1) == (0, 1, 0, 0)


def test_linked_chain_with_duplicate_id_fails(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    results = ledger.create_transfers([xfer(10, 1, 2, 1, flags=TF.LINKED), xfer(10, 1, 2, 1)])
    assert results == [R.LINKED_EVENT_FAILED, R.EXISTS_WITH_DIFFERENT_FLAGS]
    assert bal(ledger, 1) == (0, 0, 0, 0)
    assert ledger.lookup_transfers([10]) == []


# -- balancing transfers --------------------------------------------------------------


def test_balancing_debit_clamps_to_available_credit(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS), acct(3))
    fund(ledger, 10, 1, 2, 100)
    assert ledger.create_transfers([xfer(11, 2, 3, 30, flags=TF.PENDING)]) == [R.OK]
    assert ledger.create_transfers([xfer(12, 2, 3, 1000, flags=TF.BALANCING_DEBIT)]) == [R.OK]
    (t,) = ledger.lookup_transfers([12])
    assert t.amount == 70  # 100 credits - 0 posted debits - 30 pending debits
    assert bal(ledger, 2) == (30, 70, 0, 100)
    # Nothing left: a further balancing transfer moves zero.
    assert ledger.create_transfers([xfer(13, 2, 3, 5, flags=TF.BALANCING_DEBIT)]) == [R.OK]
    assert ledger.lookup_transfers([13])[0].amount == 0
    # A plain transfer still hits the limit.
    assert ledger.create_transfers([xfer(14, 2, 3, 1)]) == [R.EXCEEDS_CREDITS]
    assert bal(ledger, 2) == (30, 70, 0, 100)
    assert_verifies(ledger)


def test_balancing_debit_below_available_is_unchanged(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    fund(ledger, 10, 1, 2, 100)
    assert ledger.create_transfers([xfer(11, 2, 3, 40, flags=TF.BALANCING_DEBIT)]) == [R.OK]
    assert ledger.lookup_transfers([11])[0].amount == 40
    assert bal(ledger, 2) == (0, 40, 0, 100)


def test_balancing_credit_clamps_to_available_debit(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1, flags=AF.CREDITS_MUST_NOT_EXCEED_DEBITS), acct(2), acct(3))
    fund(ledger, 10, 1, 2, 70)
    assert ledger.create_transfers([xfer(11, 3, 1, 500, flags=TF.BALANCING_CREDIT)]) == [R.OK]
    assert ledger.lookup_transfers([11])[0].amount == 70
    assert bal(ledger, 1) == (0, 70, 0, 70)
    assert bal(ledger, 3) == (0, 70, 0, 0)
    assert_verifies(ledger)


def test_balancing_transfer_retry_is_exists(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    fund(ledger, 10, 1, 2, 100)
    assert ledger.create_transfers([xfer(11, 2, 3, 1000, flags=TF.BALANCING_DEBIT)]) == [R.OK]
    before = bal(ledger, 2)
    assert ledger.create_transfers([xfer(11, 2, 3, 1000, flags=TF.BALANCING_DEBIT)]) == [R.EXISTS]
    assert ledger.create_transfers([xfer(11, 2, 3, 100, flags=TF.BALANCING_DEBIT)]) == [R.EXISTS]
    assert ledger.create_transfers([xfer(11, 2, 3, 99, flags=TF.BALANCING_DEBIT)]) == [
        R.EXISTS_WITH_DIFFERENT_AMOUNT
    ]
    assert bal(ledger, 2) == before


# -- closing transfers ----------------------------------------------------------------


def test_closing_debit_closes_and_void_reopens(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    fund(ledger, 10, 1, 2, 100)
    assert ledger.create_transfers([xfer(11, 2, 3, 100, flags=TF.PENDING | TF.CLOSING_DEBIT)]) == [R.OK]
    (closed,) = ledger.lookup_accounts([2])
    assert closed.closed and closed.flags & AF.CLOSED
    assert not ledger.lookup_accounts([3])[0].closed
    assert ledger.create_transfers([xfer(12, 2, 3, 1), xfer(13, 1, 2, 1), xfer(14, 1, 3, 1)]) == [
        R.DEBIT_ACCOUNT_ALREADY_CLOSED,
        R.CREDIT_ACCOUNT_ALREADY_CLOSED,
        R.OK,
    ]
    assert bal(ledger, 2) == (100, 0, 0, 100)
    # Creating the account again is still idempotent: CLOSED is not a creation flag.
    assert ledger.create_accounts([acct(2)]) == [A.EXISTS]
    assert ledger.create_transfers([void(15, 11)]) == [R.OK]
    assert not ledger.lookup_accounts([2])[0].closed
    assert ledger.create_transfers([xfer(16, 2, 3, 1), xfer(17, 1, 2, 1)]) == [R.OK, R.OK]
    assert bal(ledger, 2) == (0, 1, 0, 101)
    assert_verifies(ledger)


def test_closing_credit_closes_and_cannot_be_posted(ledger: Ledger) -> None:
    """After TigerBeetle: a closed account takes no posts; the closing transfer
    stays pending (the account stays closed) until it is voided or expires."""
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    assert ledger.create_transfers([xfer(10, 1, 2, 5, flags=TF.PENDING | TF.CLOSING_CREDIT)]) == [R.OK]
    assert ledger.lookup_accounts([2])[0].closed
    assert not ledger.lookup_accounts([1])[0].closed
    assert ledger.create_transfers([xfer(11, 3, 2, 1), xfer(12, 2, 3, 1)]) == [
        R.CREDIT_ACCOUNT_ALREADY_CLOSED,
        R.DEBIT_ACCOUNT_ALREADY_CLOSED,
    ]
    assert ledger.create_transfers([post(13, 10)]) == [R.CREDIT_ACCOUNT_ALREADY_CLOSED]
    assert ledger.lookup_accounts([2])[0].closed
    assert bal(ledger, 2) == (0, 0, 5, 0)
    assert ledger.create_transfers([xfer(14, 3, 2, 1, flags=TF.PENDING)]) == [R.CREDIT_ACCOUNT_ALREADY_CLOSED]
    assert_verifies(ledger)


def test_closing_both_sides(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    flags = TF.PENDING | TF.CLOSING_DEBIT | TF.CLOSING_CREDIT
    assert ledger.create_transfers([xfer(10, 1, 2, 5, flags=flags)]) == [R.OK]
    assert [a.closed for a in ledger.lookup_accounts([1, 2, 3])] == [True, True, False]
    assert ledger.create_transfers([void(11, 10)]) == [R.OK]
    assert [a.closed for a in ledger.lookup_accounts([1, 2, 3])] == [False, False, False]


def test_closing_pending_that_expires_reopens(ledger: Ledger, clock: ManualClock) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers([xfer(10, 1, 2, 5, flags=TF.PENDING | TF.CLOSING_DEBIT, timeout=1)]) == [
        R.OK
    ]
    assert ledger.lookup_accounts([1])[0].closed
    clock.advance(seconds=2)
    assert ledger.expire_pending() == 1
    assert not ledger.lookup_accounts([1])[0].closed
    assert ledger.create_transfers([xfer(11, 1, 2, 1)]) == [R.OK]
    assert_verifies(ledger)


def test_other_pending_on_closed_account_cannot_be_posted(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers(
        [
            xfer(10, 1, 2, 5, flags=TF.PENDING),
            xfer(11, 1, 2, 1, flags=TF.PENDING | TF.CLOSING_DEBIT),
        ]
    ) == [R.OK, R.OK]
    assert ledger.create_transfers([post(12, 10)]) == [R.DEBIT_ACCOUNT_ALREADY_CLOSED]
    assert bal(ledger, 1) == (6, 0, 0, 0)


# -- idempotency ----------------------------------------------------------------------


def test_same_transfer_again_is_exists(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    t = xfer(10, 1, 2, 100, user_data_128=1, user_data_64=2, user_data_32=3)
    assert ledger.create_transfers([t]) == [R.OK]
    (stored,) = ledger.lookup_transfers([10])
    head = ledger.store.head()
    assert ledger.create_transfers([t]) == [R.EXISTS]
    assert ledger.lookup_transfers([10]) == [stored]
    assert bal(ledger, 1) == (0, 100, 0, 0)
    assert ledger.store.head() == head


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": 101}, R.EXISTS_WITH_DIFFERENT_AMOUNT),
        ({"debit_account_id": 3}, R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
        ({"credit_account_id": 3}, R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
        ({"flags": TF.PENDING}, R.EXISTS_WITH_DIFFERENT_FLAGS),
        ({"code": 2}, R.EXISTS_WITH_DIFFERENT_CODE),
        ({"currency": "EUR"}, R.EXISTS_WITH_DIFFERENT_CURRENCY),
        ({"user_data_128": 9}, R.EXISTS_WITH_DIFFERENT_USER_DATA_128),
        ({"user_data_64": 9}, R.EXISTS_WITH_DIFFERENT_USER_DATA_64),
        ({"user_data_32": 9}, R.EXISTS_WITH_DIFFERENT_USER_DATA_32),
    ],
)
def test_same_id_other_fields(
    ledger: Ledger, changes: dict[str, object], expected: CreateTransferResult
) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    assert ledger.create_transfers([xfer(10, 1, 2, 100)]) == [R.OK]
    head = ledger.store.head()
    fields: dict[str, object] = {
        "debit_account_id": 1,
        "credit_account_id": 2,
        "amount": 100,
        "currency": "USD",
        "code": 1,
        **changes,
    }
    assert ledger.create_transfers([Transfer(10, **fields)]) == [expected]  # type: ignore[arg-type]
    assert ledger.store.head() == head
    assert bal(ledger, 1) == (0, 100, 0, 0)
    assert bal(ledger, 3) == (0, 0, 0, 0)


def test_same_pending_id_other_timeout_and_pending_id(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    assert ledger.create_transfers(
        [
            xfer(10, 1, 2, 100, flags=TF.PENDING, timeout=60),
            xfer(20, 1, 2, 100, flags=TF.PENDING),
        ]
    ) == [R.OK, R.OK]
    assert ledger.create_transfers([post(11, 10)]) == [R.OK]
    assert ledger.create_transfers(
        [
            xfer(10, 1, 2, 100, flags=TF.PENDING, timeout=61),
            post(11, 20),
            post(11, 10, 99),
            post(11, 10, 100),
            post(11, 10),
        ]
    ) == [
        R.EXISTS_WITH_DIFFERENT_TIMEOUT,
        R.EXISTS_WITH_DIFFERENT_PENDING_ID,
        R.EXISTS_WITH_DIFFERENT_AMOUNT,
        R.EXISTS,
        R.EXISTS,
    ]
    assert bal(ledger, 1) == (100, 100, 0, 0)


def test_retried_batch_never_moves_money_twice(ledger: Ledger, clock: ManualClock) -> None:
    setup_accounts(ledger, acct(1), acct(2), acct(3, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS))
    assert ledger.create_transfers([xfer(5, 1, 2, 50, flags=TF.PENDING)]) == [R.OK]
    batch = [
        xfer(10, 1, 3, 100),
        xfer(11, 3, 2, 30, flags=TF.PENDING),
        post(12, 11, 20),
        post(13, 5),
        xfer(14, 2, 1, 5, flags=TF.LINKED),
        xfer(15, 1, 2, 6),
        xfer(16, 3, 1, 1000, flags=TF.BALANCING_DEBIT),
    ]
    first = ledger.create_transfers(batch)
    assert first == [R.OK] * 7
    balances = [bal(ledger, x) for x in (1, 2, 3)]
    head = ledger.store.head()
    transfers = ledger.lookup_transfers([10, 11, 12, 13, 14, 15, 16])
    for _ in range(3):
        clock.advance(seconds=1)
        # 14 opens a chain that 15 closes: ``exists`` breaks it (TigerBeetle's rule).
        assert ledger.create_transfers(batch) == [R.EXISTS] * 5 + [R.LINKED_EVENT_FAILED, R.EXISTS]
    assert [bal(ledger, x) for x in (1, 2, 3)] == balances
    assert ledger.store.head() == head
    assert ledger.lookup_transfers([10, 11, 12, 13, 14, 15, 16]) == transfers
    assert balances == [(0, 156, 0, 85), (0, 5, 0, 76), (0, 100, 0, 100)]
    assert_verifies(ledger)


def test_retried_batch_after_partial_failure_applies_only_the_rest(ledger: Ledger) -> None:
    setup_accounts(ledger, acct(1), acct(2))
    batch = [xfer(10, 1, 2, 1), xfer(11, 1, 9, 2), xfer(12, 1, 2, 4)]
    assert ledger.create_transfers(batch) == [R.OK, R.CREDIT_ACCOUNT_NOT_FOUND, R.OK]
    setup_accounts(ledger, acct(9))
    assert ledger.create_transfers(batch) == [R.EXISTS, R.OK, R.EXISTS]
    assert bal(ledger, 1) == (0, 7, 0, 0)


# -- queries ----------------------------------------------------------------------------


def _history_for_paging(ledger: Ledger, clock: ManualClock) -> list[Transfer]:
    setup_accounts(ledger, acct(1), acct(2), acct(3))
    batches = [
        [xfer(100, 1, 2, 1), xfer(101, 2, 1, 2), xfer(102, 2, 3, 3)],
        [xfer(103, 3, 1, 4)],
        [xfer(104 + k, 1 if k % 2 else 3, 3 if k % 2 else 1, 10 + k) for k in range(9)],
        [xfer(113, 2, 3, 5), xfer(114, 1, 2, 6, flags=TF.PENDING)],
        [post(115, 114), xfer(116, 3, 2, 1)],
        [xfer(117 + k, 2, 1, 20 + k) for k in range(6)],
    ]
    for batch in batches:
        assert ledger.create_transfers(batch) == [R.OK] * len(batch)
        clock.advance(seconds=1)
    every = ledger.lookup_transfers(list(range(100, 125)))
    assert len(every) == 23
    return sorted(every, key=lambda t: t.timestamp)


def _walk(ledger: Ledger, account_id: int, limit: int, **kw: bool) -> list[Transfer]:
    seen: list[Transfer] = []
    cursor = None
    for _ in range(100):
        page = ledger.account_transfers(account_id, cursor=cursor, limit=limit, **kw)
        assert len(page.transfers) <= limit
        seen += page.transfers
        if page.next_cursor is None:
            return seen
        assert len(page.transfers) == limit
        cursor = page.next_cursor
    raise AssertionError("pagination did not terminate")


@pytest.mark.parametrize("limit", [1, 3, 5, 20, 100])
def test_account_transfers_pagination(ledger: Ledger, clock: ManualClock, limit: int) -> None:
    every = _history_for_paging(ledger, clock)
    mine = [t for t in every if 1 in (t.debit_account_id, t.credit_account_id)]
    assert len(mine) == 20
    forward = _walk(ledger, 1, limit)
    assert [t.id for t in forward] == [t.id for t in mine]
    assert forward == mine  # full rows, not only ids
    backward = _walk(ledger, 1, limit, reverse=True)
    assert [t.id for t in backward] == [t.id for t in reversed(mine)]
    assert ledger.account_transfers(99).transfers == []


@pytest.mark.parametrize("limit", [3, 100])
def test_account_transfers_debits_or_credits_only(ledger: Ledger, clock: ManualClock, limit: int) -> None:
    every = _history_for_paging(ledger, clock)
    debits = _walk(ledger, 1, limit, credits=False)
    assert [t.id for t in debits] == [t.id for t in every if t.debit_account_id == 1]
    credits = _walk(ledger, 1, limit, debits=False, reverse=True)
    assert [t.id for t in credits] == [t.id for t in reversed(every) if t.credit_account_id == 1]
    assert ledger.account_transfers(1, debits=False, credits=False).transfers == []


def test_account_transfers_time_window(ledger: Ledger, clock: ManualClock) -> None:
    every = _history_for_paging(ledger, clock)
    mine = [t for t in every if 2 in (t.debit_account_id, t.credit_account_id)]
    low, high = mine[3].timestamp, mine[-3].timestamp
    page = ledger.account_transfers(2, timestamp_min=low, timestamp_max=high, limit=100)
    assert [t.id for t in page.transfers] == [t.id for t in mine[3:-2]]
    assert page.next_cursor is None


def test_account_balances_history(ledger: Ledger, clock: ManualClock) -> None:
    setup_accounts(ledger, acct(1), acct(2, flags=AF.HISTORY), acct(3))
    batches = [
        [xfer(10, 1, 2, 100)],
        [xfer(11, 2, 3, 30, flags=TF.PENDING), xfer(12, 1, 3, 999)],
        [post(13, 11, 20)],
        [xfer(14, 2, 3, 5, flags=TF.PENDING)],
        [void(15, 14), xfer(16, 3, 2, 7)],
    ]
    for batch in batches:
        assert ledger.create_transfers(batch) == [R.OK] * len(batch)
        clock.advance(seconds=1)
    expected = [
        (10, (0, 0, 0, 100)),
        (11, (30, 0, 0, 100)),
        (13, (0, 20, 0, 100)),
        (14, (5, 20, 0, 100)),
        (15, (0, 20, 0, 100)),
        (16, (0, 20, 0, 107)),
    ]
    stamps = {t.id: t.timestamp for t in ledger.lookup_transfers([e[0] for e in expected])}
    want = [(stamps[x], b) for x, b in expected]
    page = ledger.account_balances(2)
    got = [
        (r.timestamp, (r.debits_pending, r.debits_posted, r.credits_pending, r.credits_posted))
        for r in page.balances
    ]
    assert got == want
    assert all(r.account_id == 2 for r in page.balances)
    assert page.next_cursor is None
    # Paged, both directions.
    rows, cursor = [], None
    while True:
        p = ledger.account_balances(2, cursor=cursor, limit=4, reverse=True)
        rows += p.balances
        if p.next_cursor is None:
            break
        cursor = p.next_cursor
    assert [r.timestamp for r in rows] == [w[0] for w in reversed(want)]
    # A failed linked chain leaves no history behind.
    chain = [xfer(17, 1, 2, 1, flags=TF.LINKED), xfer(18, 2, 9, 1)]
    assert ledger.create_transfers(chain) == [R.LINKED_EVENT_FAILED, R.CREDIT_ACCOUNT_NOT_FOUND]
    assert len(ledger.account_balances(2).balances) == len(want)
    # The last history row equals the account's current balances.
    assert bal(ledger, 2) == want[-1][1]
    # Accounts without HISTORY keep none.
    assert ledger.account_balances(1).balances == []
    assert ledger.account_balances(3).balances == []
    assert_verifies(ledger)


# -- several writers ----------------------------------------------------------------------


def test_two_ledgers_on_one_database_see_each_others_writes(
    ledger: Ledger, store_url: str, clock: ManualClock
) -> None:
    """Each Ledger may keep balances in memory between its own batches; a
    write by another Ledger on the same database must never be missed."""
    setup_accounts(ledger, acct(1), acct(2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS))
    fund(ledger, 10, 1, 2, 100)
    with Ledger.open(store_url, clock=clock) as other:
        assert other.create_transfers([xfer(11, 2, 1, 80)]) == [R.OK]
        assert ledger.create_transfers([xfer(12, 2, 1, 30)]) == [R.EXCEEDS_CREDITS]
        assert ledger.create_transfers([xfer(13, 2, 1, 20)]) == [R.OK]
        assert other.create_transfers([xfer(14, 2, 1, 1)]) == [R.EXCEEDS_CREDITS]
        assert ledger.create_transfers([xfer(15, 1, 2, 5, flags=TF.PENDING)]) == [R.OK]
        assert other.create_transfers([post(16, 15)]) == [R.OK]
        assert ledger.create_transfers([xfer(17, 2, 1, 5)]) == [R.OK]
        assert ledger.create_transfers([xfer(18, 2, 1, 1)]) == [R.EXCEEDS_CREDITS]
        assert other.create_transfers([xfer(19, 1, 2, 9, flags=TF.PENDING | TF.CLOSING_CREDIT)]) == [R.OK]
        assert ledger.create_transfers([xfer(20, 1, 2, 1)]) == [R.CREDIT_ACCOUNT_ALREADY_CLOSED]
        assert ledger.create_transfers([void(21, 19)]) == [R.OK]
        assert other.create_transfers([xfer(22, 1, 2, 1)]) == [R.OK]
        # Accounts created by one writer are usable by the other at once.
        assert other.create_accounts([acct(3)]) == [A.OK]
        assert ledger.create_transfers([xfer(23, 3, 1, 4)]) == [R.OK]
        assert other.create_transfers([xfer(24, 3, 1, 4)]) == [R.OK]
    assert bal(ledger, 2) == (0, 105, 0, 106)
    assert bal(ledger, 3) == (0, 8, 0, 0)
    assert bal(ledger, 1) == (0, 106, 0, 113)
    assert_verifies(ledger)
