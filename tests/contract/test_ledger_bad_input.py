"""Contract tests: every bad input gets a specific result code or a clear
error, and writes nothing (balances, rows and the journal head unchanged).

Runs on both stores through the ``ledger`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from netfin.core.clock import ManualClock
from netfin.core.errors import ConfigurationError, InvalidInput, LimitExceeded
from netfin.core.limits import BATCH_EVENTS_MAX, INT64_MAX, UINT128_MAX
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
from netfin.ledger.store import Head

A = CreateAccountResult
R = CreateTransferResult
TF = TransferFlags

# Accounts of the standard fixture below.
BANK, ALICE, BOB, EURO, CLOSED = 1, 2, 3, 4, 5
ALL = (BANK, ALICE, BOB, EURO, CLOSED)
PENDING, VOIDED, EXPIRING, POSTED = 100, 101, 102, 103


@dataclass(frozen=True)
class State:
    head: Head
    accounts: list[Account]
    transfers: int
    pending: int
    history: int


def state(ledger: Ledger) -> State:
    store = ledger.store
    return State(
        store.head(),
        ledger.lookup_accounts(list(ALL)),
        store.count("transfers"),
        store.count("pending_transfers"),
        store.count("account_balances"),
    )


@pytest.fixture
def books(ledger: Ledger, clock: ManualClock) -> Iterator[Ledger]:
    """BANK, ALICE (limited to her credits, with history), BOB, EURO (EUR) and
    CLOSED (closed by a pending closing transfer); a pending, a voided, a
    posted and an expired transfer; ALICE holds 1000, BOB 0."""
    assert (
        ledger.create_accounts(
            [
                Account(BANK, "USD", 1),
                Account(ALICE, "USD", 1, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY),
                Account(BOB, "USD", 1),
                Account(EURO, "EUR", 1),
                Account(CLOSED, "USD", 1),
            ]
        )
        == [A.OK] * 5
    )
    assert (
        ledger.create_transfers(
            [
                Transfer(10, BANK, ALICE, 1000, "USD", 1),
                Transfer(PENDING, ALICE, BOB, 10, "USD", 1, TF.PENDING),
                Transfer(VOIDED, ALICE, BOB, 20, "USD", 1, TF.PENDING),
                Transfer(POSTED, ALICE, BOB, 30, "USD", 1, TF.PENDING),
                Transfer(EXPIRING, ALICE, BOB, 40, "USD", 1, TF.PENDING, timeout=1),
                Transfer(11, CLOSED, BANK, 1, "USD", 1, TF.PENDING | TF.CLOSING_DEBIT),
            ]
        )
        == [R.OK] * 6
    )
    assert (
        ledger.create_transfers(
            [
                Transfer(12, pending_id=VOIDED, flags=TF.VOID_PENDING),
                Transfer(13, pending_id=POSTED, amount=AMOUNT_MAX, flags=TF.POST_PENDING),
            ]
        )
        == [R.OK] * 2
    )
    clock.advance(seconds=2)
    assert ledger.expire_pending() == 1
    assert ledger.lookup_accounts([ALICE])[0].debits_pending == 10
    assert ledger.lookup_accounts([CLOSED])[0].closed
    yield ledger


PRESENT = {10, 11, 12, 13, PENDING, VOIDED, POSTED, EXPIRING}


def assert_rejected(ledger: Ledger, transfers: list[Transfer], expected: list[CreateTransferResult]) -> None:
    """The batch gets exactly ``expected`` and changes nothing at all."""
    before = state(ledger)
    assert ledger.create_transfers(transfers) == expected
    assert state(ledger) == before
    new_ids = [x.id for x in transfers if 0 < x.id < 2**128 and x.id not in PRESENT]
    assert ledger.lookup_transfers(new_ids) == []


def assert_raises_and_writes_nothing(ledger: Ledger, error: type[Exception], call, *args) -> Exception:  # type: ignore[no-untyped-def]
    before = state(ledger)
    with pytest.raises(error) as caught:
        call(*args)
    assert state(ledger) == before
    return caught.value


def t(
    id_: int = 50, dr: int = ALICE, cr: int = BOB, amount: int = 5, currency: str = "USD", **kw: Any
) -> Transfer:
    """A USD transfer ALICE -> BOB of 5 unless told otherwise."""
    return Transfer(id_, dr, cr, amount, currency, kw.pop("code", 1), **kw)


# -- amounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, R.AMOUNT_MUST_NOT_BE_ZERO),
        (-1, R.AMOUNT_MUST_NOT_BE_NEGATIVE),
        (-(2**63), R.AMOUNT_MUST_NOT_BE_NEGATIVE),
        (2**63, R.AMOUNT_EXCEEDS_MAX),
        (2**64, R.AMOUNT_EXCEEDS_MAX),
        (2**64 + 1, R.AMOUNT_EXCEEDS_MAX),
        (2**128, R.AMOUNT_EXCEEDS_MAX),
    ],
)
@pytest.mark.parametrize("flags", [0, TF.PENDING])
def test_bad_amounts(books: Ledger, amount: int, expected: CreateTransferResult, flags: int) -> None:
    assert_rejected(books, [t(amount=amount, flags=flags)], [expected])


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, R.AMOUNT_MUST_NOT_BE_ZERO),
        (-5, R.AMOUNT_MUST_NOT_BE_NEGATIVE),
        (2**63, R.AMOUNT_EXCEEDS_MAX),
        (2**64, R.AMOUNT_EXCEEDS_MAX),
    ],
)
def test_bad_post_amounts(books: Ledger, amount: int, expected: CreateTransferResult) -> None:
    post = Transfer(50, amount=amount, flags=TF.POST_PENDING, pending_id=PENDING)
    assert_rejected(books, [post], [expected])


def test_amount_max_is_accepted_and_overflow_is_rejected(books: Ledger) -> None:
    assert (
        books.create_accounts([Account(20, "USD", 1), Account(21, "USD", 1), Account(22, "USD", 1)])
        == [A.OK] * 3
    )
    assert books.create_transfers([t(60, 20, 21, AMOUNT_MAX)]) == [R.OK]
    (a20, a21, a22) = books.lookup_accounts([20, 21, 22])
    assert a20.debits_posted == a21.credits_posted == INT64_MAX
    before = state(books)
    assert books.create_transfers(
        [
            t(61, 20, 22, 1),
            t(62, 22, 21, 1),
            t(63, 20, 22, 1, flags=TF.PENDING),
            t(64, 22, 21, 1, flags=TF.PENDING),
        ]
    ) == [R.OVERFLOWS_DEBITS_POSTED, R.OVERFLOWS_CREDITS_POSTED, R.OVERFLOWS_DEBITS, R.OVERFLOWS_CREDITS]
    assert state(books) == before
    assert books.lookup_accounts([20, 21, 22]) == [a20, a21, a22]
    assert (a22.debits_posted, a22.credits_posted, a22.debits_pending, a22.credits_pending) == (0, 0, 0, 0)
    report = books.verify()
    assert report.ok, report.first_error


# -- accounts and currencies ---------------------------------------------------------


def test_unknown_accounts(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            t(50, 999, BOB),
            t(51, ALICE, 999),
            t(52, 999, 998),
            t(53, 0, BOB),
            t(54, ALICE, 0),
            t(55, UINT128_MAX, BOB),
            t(56, 2**128, BOB),
        ],
        [
            R.DEBIT_ACCOUNT_NOT_FOUND,
            R.CREDIT_ACCOUNT_NOT_FOUND,
            R.DEBIT_ACCOUNT_NOT_FOUND,
            R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO,
            R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO,
            R.DEBIT_ACCOUNT_NOT_FOUND,
            R.DEBIT_ACCOUNT_NOT_FOUND,
        ],
    )


def test_closed_accounts(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            t(50, CLOSED, BOB),
            t(51, BOB, CLOSED),
            t(52, CLOSED, BOB, flags=TF.PENDING),
            t(53, BOB, CLOSED, flags=TF.BALANCING_CREDIT),
        ],
        [
            R.DEBIT_ACCOUNT_ALREADY_CLOSED,
            R.CREDIT_ACCOUNT_ALREADY_CLOSED,
            R.DEBIT_ACCOUNT_ALREADY_CLOSED,
            R.CREDIT_ACCOUNT_ALREADY_CLOSED,
        ],
    )


def test_currency_mismatch(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            t(50, ALICE, EURO),
            t(51, EURO, BOB, currency="EUR"),
            t(52, ALICE, BOB, currency="EUR"),
            t(53, ALICE, BOB, currency="JPY"),
        ],
        [
            R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY,
            R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY,
            R.TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS,
            R.TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS,
        ],
    )


@pytest.mark.parametrize("currency", ["ZZZ", "usd", "US", "USDD", "", "XAU", "XTS", "XXX", " USD"])
def test_unknown_currency(books: Ledger, currency: str) -> None:
    assert_rejected(books, [t(currency=currency)], [R.CURRENCY_MUST_BE_VALID])
    before = state(books)
    assert books.create_accounts([Account(30, currency, 1)]) == [A.CURRENCY_MUST_BE_VALID]
    assert state(books) == before
    assert books.lookup_accounts([30]) == []


def test_post_with_other_currency(books: Ledger) -> None:
    post = Transfer(50, amount=AMOUNT_MAX, currency="ZZZ", flags=TF.POST_PENDING, pending_id=PENDING)
    assert_rejected(books, [post], [R.CURRENCY_MUST_BE_VALID])
    post = Transfer(50, amount=AMOUNT_MAX, currency="EUR", flags=TF.POST_PENDING, pending_id=PENDING)
    assert_rejected(books, [post], [R.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY])


def test_debit_equals_credit(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            t(50, ALICE, ALICE),
            t(51, BOB, BOB, flags=TF.PENDING),
            Transfer(52, ALICE, ALICE, AMOUNT_MAX, flags=TF.POST_PENDING, pending_id=PENDING),
        ],
        [R.ACCOUNTS_MUST_BE_DIFFERENT] * 3,
    )


def test_limit_crossed(books: Ledger) -> None:
    # ALICE holds 1000 credits, 10 pending and 30 posted debits.
    assert_rejected(books, [t(amount=961), t(51, amount=961, flags=TF.PENDING)], [R.EXCEEDS_CREDITS] * 2)


# -- ids, fields, codes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("transfer", "expected"),
    [
        (t(0), R.ID_MUST_NOT_BE_ZERO),
        (t(UINT128_MAX), R.ID_MUST_NOT_BE_INT_MAX),
        (t(2**128), R.ID_OUT_OF_RANGE),
        (t(-1), R.ID_OUT_OF_RANGE),
        (t(code=0), R.CODE_MUST_NOT_BE_ZERO),
        (t(code=2**16), R.CODE_OUT_OF_RANGE),
        (t(code=-1), R.CODE_OUT_OF_RANGE),
        (t(user_data_128=2**128), R.USER_DATA_OUT_OF_RANGE),
        (t(user_data_64=2**63), R.USER_DATA_OUT_OF_RANGE),
        (t(user_data_32=2**32), R.USER_DATA_OUT_OF_RANGE),
        (t(user_data_32=-1), R.USER_DATA_OUT_OF_RANGE),
        (t(timestamp=1), R.TIMESTAMP_MUST_BE_ZERO),
        (t(pending_id=PENDING), R.PENDING_ID_MUST_BE_ZERO),
        (t(flags=1 << 8), R.RESERVED_FLAG),
        (t(flags=TF.PENDING, timeout=-1), R.TIMEOUT_OUT_OF_RANGE),
    ],
)
def test_field_out_of_range(books: Ledger, transfer: Transfer, expected: CreateTransferResult) -> None:
    assert_rejected(books, [transfer], [expected])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": 1001}, R.EXISTS_WITH_DIFFERENT_AMOUNT),
        ({"credit_account_id": BOB}, R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
        ({"debit_account_id": BOB}, R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
        ({"code": 2}, R.EXISTS_WITH_DIFFERENT_CODE),
        ({"flags": TF.PENDING}, R.EXISTS_WITH_DIFFERENT_FLAGS),
        ({"user_data_64": 1}, R.EXISTS_WITH_DIFFERENT_USER_DATA_64),
    ],
)
def test_id_reused_with_other_fields(
    books: Ledger, changes: dict[str, int], expected: CreateTransferResult
) -> None:
    fields = {
        "debit_account_id": BANK,
        "credit_account_id": ALICE,
        "amount": 1000,
        "currency": "USD",
        "code": 1,
        **changes,
    }
    assert_rejected(books, [Transfer(10, **fields)], [expected])  # type: ignore[arg-type]


def test_account_id_reused_with_other_fields(books: Ledger) -> None:
    before = state(books)
    assert books.create_accounts(
        [Account(ALICE, "USD", 1), Account(BOB, "EUR", 1), Account(BOB, "USD", 2)]
    ) == [
        A.EXISTS_WITH_DIFFERENT_FLAGS,
        A.EXISTS_WITH_DIFFERENT_CURRENCY,
        A.EXISTS_WITH_DIFFERENT_CODE,
    ]
    assert state(books) == before


# -- two-phase misuse -------------------------------------------------------------------


def test_post_more_than_pending(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            Transfer(50, amount=11, flags=TF.POST_PENDING, pending_id=PENDING),
            Transfer(51, amount=INT64_MAX - 1, flags=TF.POST_PENDING, pending_id=PENDING),
        ],
        [R.EXCEEDS_PENDING_TRANSFER_AMOUNT] * 2,
    )


def test_post_or_void_expired(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            Transfer(50, amount=AMOUNT_MAX, flags=TF.POST_PENDING, pending_id=EXPIRING),
            Transfer(51, flags=TF.VOID_PENDING, pending_id=EXPIRING),
        ],
        [R.PENDING_TRANSFER_EXPIRED] * 2,
    )


def test_post_or_void_voided_or_posted(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            Transfer(50, amount=AMOUNT_MAX, flags=TF.POST_PENDING, pending_id=VOIDED),
            Transfer(51, flags=TF.VOID_PENDING, pending_id=VOIDED),
            Transfer(52, amount=1, flags=TF.POST_PENDING, pending_id=POSTED),
            Transfer(53, flags=TF.VOID_PENDING, pending_id=POSTED),
        ],
        [
            R.PENDING_TRANSFER_ALREADY_VOIDED,
            R.PENDING_TRANSFER_ALREADY_VOIDED,
            R.PENDING_TRANSFER_ALREADY_POSTED,
            R.PENDING_TRANSFER_ALREADY_POSTED,
        ],
    )


def test_post_or_void_unknown_or_not_pending(books: Ledger) -> None:
    assert_rejected(
        books,
        [
            Transfer(50, amount=AMOUNT_MAX, flags=TF.POST_PENDING, pending_id=999),
            Transfer(51, flags=TF.VOID_PENDING, pending_id=10),
            Transfer(52, flags=TF.VOID_PENDING, pending_id=UINT128_MAX),
        ],
        [R.PENDING_TRANSFER_NOT_FOUND, R.PENDING_TRANSFER_NOT_PENDING, R.PENDING_TRANSFER_NOT_FOUND],
    )


# -- wrong types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 1.5},
        {"amount": 5.0},
        {"amount": Decimal("5")},
        {"amount": "5"},
        {"amount": None},
        {"amount": True},
        {"id": "50"},
        {"id": 50.0},
        {"debit_account_id": Decimal(ALICE)},
        {"credit_account_id": str(BOB)},
        {"code": 1.0},
        {"flags": 0.0},
        {"timeout": "0"},
        {"user_data_128": b"\x01"},
        {"user_data_64": 1.0},
        {"user_data_32": None},
        {"pending_id": 0.0},
        {"timestamp": Decimal(0)},
        {"currency": b"USD"},
        {"currency": None},
    ],
)
def test_non_int_transfer_fields_raise(books: Ledger, changes: dict[str, object]) -> None:
    good = t(50, amount=5)
    bad = t(50, amount=5)
    for name, value in changes.items():
        setattr(bad, name, value)
    # The bad event poisons the whole batch: the good event before it is not applied.
    error = assert_raises_and_writes_nothing(books, InvalidInput, books.create_transfers, [good, bad])
    assert error.code == "field_type_invalid"  # type: ignore[attr-defined]
    assert books.lookup_transfers([50]) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"id": 30.0},
        {"code": "1"},
        {"flags": None},
        {"user_data_64": Decimal(1)},
        {"currency": None},
        {"credits_posted": 0.0},
        {"timestamp": False},
    ],
)
def test_non_int_account_fields_raise(books: Ledger, changes: dict[str, object]) -> None:
    bad = Account(30, "USD", 1)
    for name, value in changes.items():
        setattr(bad, name, value)
    error = assert_raises_and_writes_nothing(
        books, InvalidInput, books.create_accounts, [Account(31, "USD", 1), bad]
    )
    assert error.code == "field_type_invalid"  # type: ignore[attr-defined]
    assert books.lookup_accounts([30, 31]) == []


@pytest.mark.parametrize("batch", [iter(()), frozenset({50}), t(50), "transfers", None])
def test_batch_that_is_not_a_list_raises(books: Ledger, batch: object) -> None:
    error = assert_raises_and_writes_nothing(books, InvalidInput, books.create_transfers, batch)
    assert error.code == "batch_not_a_list"  # type: ignore[attr-defined]


@pytest.mark.parametrize("event", [Account(50, "USD", 1), {"id": 50}, None])
def test_event_of_the_wrong_type_raises(books: Ledger, event: object) -> None:
    error = assert_raises_and_writes_nothing(books, InvalidInput, books.create_transfers, [t(51), event])
    assert error.code == "event_type_invalid"  # type: ignore[attr-defined]


def test_batch_over_the_limit_raises(books: Ledger) -> None:
    transfers = [t(1000 + k, BANK, BOB, 1) for k in range(BATCH_EVENTS_MAX + 1)]
    error = assert_raises_and_writes_nothing(books, LimitExceeded, books.create_transfers, transfers)
    assert error.code == "batch_too_large"  # type: ignore[attr-defined]
    accounts = [Account(10_000 + k, "USD", 1) for k in range(BATCH_EVENTS_MAX + 1)]
    assert_raises_and_writes_nothing(books, LimitExceeded, books.create_accounts, accounts)
    # Exactly the maximum is accepted.
    assert books.create_transfers(transfers[:BATCH_EVENTS_MAX]) == [R.OK] * BATCH_EVENTS_MAX
    assert books.lookup_accounts([BOB])[0].credits_posted == 30 + BATCH_EVENTS_MAX


@pytest.mark.parametrize("ids", [[-1], [2**128], ["1"], [1.0]])
def test_lookup_with_bad_ids_raises(books: Ledger, ids: list[object]) -> None:
    with pytest.raises(InvalidInput):
        books.lookup_accounts(ids)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        books.lookup_transfers(ids)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"limit": 0}, "limit_invalid"),
        ({"limit": 8191}, "limit_invalid"),
        ({"limit": 1.0}, "limit_invalid"),
        ({"cursor": "abc"}, "cursor_invalid"),
    ],
)
def test_bad_page_arguments_raise(books: Ledger, kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        books.account_transfers(ALICE, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == code
    with pytest.raises(InvalidInput):
        books.account_balances(ALICE, **kwargs)  # type: ignore[arg-type]


def test_bad_inputs_leave_a_verifiable_ledger(books: Ledger) -> None:
    before = state(books)
    books.create_transfers([t(amount=-1), t(51, 999, BOB), t(52, ALICE, ALICE), t(53, currency="ZZZ")])
    with pytest.raises(InvalidInput):
        books.create_transfers([t(54, amount=1.5)])  # type: ignore[arg-type]
    assert state(books) == before
    report = books.verify()
    assert report.ok, report.first_error


# -- database URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "nonsense",
        "mysql://x/y",
        "sqlite://host/x.db",
        "",
        "   ",
        "postgresql://127.0.0.1:5432",
        "postgresql://127.0.0.1:5432/",
        "sqlite://",
        "oracle://scott@localhost/db",
        "postgresql://postgres@127.0.0.1:5432/test?schema=Bad-Name",
        "postgresql://postgres@127.0.0.1:5432/test?schema=x;drop",
    ],
)
def test_malformed_database_url(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Ledger.open(url)
    assert caught.value.code == "database_url_invalid"


def test_database_url_of_wrong_type() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Ledger.open(None)  # type: ignore[arg-type]
    assert caught.value.code == "database_url_invalid"


def test_unreachable_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError) as caught:
        Ledger.open(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    assert caught.value.code == "database_unavailable"


def test_unreachable_postgresql() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Ledger.open("postgresql://postgres@127.0.0.1:1/test")
    assert caught.value.code == "database_unavailable"
