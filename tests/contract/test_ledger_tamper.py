"""Contract tests: changes made behind the ledger's back are caught.

After a realistic history and a checkpoint, each test edits the database
with raw SQL (as an attacker or a buggy script with database access would)
and checks that ``verify()`` fails and names the right table, journal entry
and row. Also: inclusion proofs verify without a database and fail for any
change to the transfer, the proof, the checkpoint or the key.

Runs on both stores through the ``ledger`` fixture.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netfin.core.clock import ManualClock
from netfin.core.errors import NotFound
from netfin.ledger import (
    AMOUNT_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Ledger,
    Transfer,
    TransferFlags,
    journal,
    verify_proof,
)
from netfin.ledger.store import TRANSFER_COLUMNS, transfer_from_row

A = CreateAccountResult
R = CreateTransferResult
TF = TransferFlags

BANK, ALICE, BOB, CAROL = 1, 2, 3, 4
PLAIN, LAST = 11, 50


def ref(x: int) -> str:
    return f"{x:032x}"


def b(x: int) -> bytes:
    return x.to_bytes(16, "big")


def sql(ledger: Ledger, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run raw SQL behind the ledger's back (``?`` placeholders on both stores)."""
    c: Any = ledger.store.c  # type: ignore[attr-defined]  # both stores expose their connection
    if ledger.store.dialect == "postgresql":
        with c.transaction():
            cursor = c.execute(text.replace("?", "%s"), tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
    return list(c.execute(text, tuple(params)).fetchall())


def journal_seq(ledger: Ledger, kind: int, ref_id: int) -> int:
    rows = sql(ledger, "SELECT seq FROM journal WHERE kind = ? AND ref_id = ?", (kind, b(ref_id)))
    assert len(rows) == 1
    return int(rows[0][0])


def transfer_seq(ledger: Ledger, transfer_id: int) -> int:
    return journal_seq(ledger, 2, transfer_id)


def account_seq(ledger: Ledger, account_id: int) -> int:
    return journal_seq(ledger, 1, account_id)


def stamp(ledger: Ledger, transfer_id: int) -> int:
    return ledger.lookup_transfers([transfer_id])[0].timestamp


@pytest.fixture
def books(ledger: Ledger, clock: ManualClock) -> Ledger:
    """A realistic history, then a checkpoint over all of it."""
    assert (
        ledger.create_accounts(
            [
                Account(BANK, "USD", 1),
                Account(ALICE, "USD", 2, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY),
                Account(BOB, "USD", 2),
                Account(CAROL, "USD", 2, user_data_64=7),
            ]
        )
        == [A.OK] * 4
    )
    batches = [
        [Transfer(10, BANK, ALICE, 1000, "USD", 1), Transfer(PLAIN, BANK, BOB, 500, "USD", 1)],
        [
            Transfer(20, ALICE, BOB, 100, "USD", 1, TF.PENDING),
            Transfer(21, BOB, CAROL, 50, "USD", 1, TF.PENDING),
            Transfer(22, ALICE, CAROL, 30, "USD", 1, TF.PENDING, timeout=1),
        ],
        [
            Transfer(23, amount=60, flags=TF.POST_PENDING, pending_id=20),
            Transfer(24, flags=TF.VOID_PENDING, pending_id=21),
        ],
    ]
    for batch in batches:
        assert ledger.create_transfers(batch) == [R.OK] * len(batch)
        clock.advance(seconds=1)
    clock.advance(seconds=1)
    # This batch first expires transfer 22.
    assert ledger.create_transfers([Transfer(30, BOB, CAROL, 25, "USD", 1)]) == [R.OK]
    clock.advance(seconds=1)
    assert ledger.create_transfers([Transfer(40, ALICE, BOB, 5, "USD", 1, user_data_128=9)]) == [R.OK]
    clock.advance(seconds=1)
    assert ledger.create_transfers([Transfer(LAST, BANK, CAROL, 7, "USD", 1)]) == [R.OK]
    assert ledger.lookup_accounts([ALICE])[0].debits_pending == 0
    assert ledger.checkpoint().tree_size == ledger.store.head().seq == 4 + 10 + 1
    report = ledger.verify()
    assert report.ok, report.first_error
    return ledger


def failure(ledger: Ledger) -> tuple[str, int | None, str | None]:
    report = ledger.verify()
    assert not report.ok
    issue = report.first_error
    assert issue is not None
    return issue.table, issue.seq, issue.ref


# -- the untampered ledger ---------------------------------------------------------------


def test_untampered_ledger_verifies(books: Ledger) -> None:
    report = books.verify()
    assert report.ok
    assert report.first_error is None
    assert (report.journal_entries, report.accounts, report.transfers, report.checkpoints) == (15, 4, 10, 1)
    assert report.currencies == {"USD": {"debits": 1597, "credits": 1597}}


def test_verify_is_read_only(books: Ledger) -> None:
    head = books.store.head()
    books.verify()
    assert books.store.head() == head
    assert books.create_transfers([Transfer(60, BOB, CAROL, 1, "USD", 1)]) == [R.OK]
    assert books.verify().ok


# -- rows altered -------------------------------------------------------------------------


def test_transfer_amount_altered(books: Ledger) -> None:
    sql(books, "UPDATE transfers SET amount = amount + 1 WHERE id = ?", (b(PLAIN),))
    assert failure(books) == ("transfers", transfer_seq(books, PLAIN), ref(PLAIN))


@pytest.mark.parametrize(
    ("column", "value"),
    [("credit_account_id", b(CAROL)), ("user_data_32", 1), ("code", 2), ("currency", "EUR")],
)
def test_transfer_other_field_altered(books: Ledger, column: str, value: object) -> None:
    sql(books, f"UPDATE transfers SET {column} = ? WHERE id = ?", (value, b(40)))
    assert failure(books) == ("transfers", transfer_seq(books, 40), ref(40))


def test_account_balance_altered(books: Ledger) -> None:
    sql(books, "UPDATE accounts SET credits_posted = credits_posted + 100 WHERE id = ?", (b(BOB),))
    assert failure(books) == ("accounts", None, ref(BOB))


def test_account_balances_moved_between_accounts(books: Ledger) -> None:
    # Totals per currency still balance; the replay still disagrees.
    sql(books, "UPDATE accounts SET credits_posted = credits_posted - 10 WHERE id = ?", (b(BOB),))
    sql(books, "UPDATE accounts SET credits_posted = credits_posted + 10 WHERE id = ?", (b(CAROL),))
    assert failure(books) == ("accounts", None, ref(BOB))


def test_account_closed_flag_altered(books: Ledger) -> None:
    sql(books, "UPDATE accounts SET closed = 1 WHERE id = ?", (b(CAROL),))
    assert failure(books) == ("accounts", None, ref(CAROL))


@pytest.mark.parametrize(
    ("column", "value", "target"),
    [("code", 99, CAROL), ("currency", "EUR", CAROL), ("user_data_64", 8, CAROL), ("flags", 0, ALICE)],
)
def test_account_immutable_field_altered(books: Ledger, column: str, value: object, target: int) -> None:
    sql(books, f"UPDATE accounts SET {column} = ? WHERE id = ?", (value, b(target)))
    assert failure(books) == ("accounts", account_seq(books, target), ref(target))


@pytest.mark.parametrize("target", [CAROL, 9])
def test_account_currency_lengthened(books: Ledger, target: int) -> None:
    """The canonical encoding packs the currency as 3 bytes; a 4-letter value
    written behind the ledger's back must not slip through the leaf hash."""
    if target == 9:
        assert books.create_accounts([Account(9, "USD", 1)]) == [A.OK]  # an idle account
    if books.store.dialect == "postgresql":
        import psycopg

        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            sql(books, "UPDATE accounts SET currency = ? WHERE id = ?", ("USDX", b(target)))
        assert books.verify().ok
        return
    sql(books, "UPDATE accounts SET currency = ? WHERE id = ?", ("USDX", b(target)))
    assert failure(books) == ("accounts", account_seq(books, target), ref(target))


def test_pending_status_altered(books: Ledger) -> None:
    sql(books, "UPDATE pending_transfers SET status = 2 WHERE id = ?", (b(21),))  # voided -> posted
    assert failure(books) == ("pending_transfers", None, ref(21))


def test_expired_pending_made_pending_again(books: Ledger) -> None:
    sql(books, "UPDATE pending_transfers SET status = 1 WHERE id = ?", (b(22),))
    assert failure(books) == ("pending_transfers", None, ref(22))


def _open_hold(books: Ledger) -> int:
    """A pending transfer that is still open (one hour timeout), checkpointed."""
    assert books.create_transfers([Transfer(70, ALICE, BOB, 5, "USD", 1, TF.PENDING, timeout=3600)]) == [R.OK]
    books.checkpoint()
    assert books.verify().ok
    (row,) = sql(books, "SELECT expires_at FROM pending_transfers WHERE id = ?", (b(70),))
    assert row[0] == stamp(books, 70) + 3600 * 1_000_000_000
    return int(row[0])


@pytest.mark.parametrize("change", ["never", "sooner", "later"])
def test_pending_expiry_time_altered(books: Ledger, change: str) -> None:
    """expires_at follows from the transfer's timestamp and timeout; a hold
    made to never expire (or to expire early or late) must be caught."""
    expires_at = _open_hold(books)
    value = {"never": 0, "sooner": expires_at - 3500 * 1_000_000_000, "later": expires_at + 1}[change]
    sql(books, "UPDATE pending_transfers SET expires_at = ? WHERE id = ?", (value, b(70)))
    assert failure(books) == ("pending_transfers", None, ref(70))


def test_hold_released_early_through_a_forged_expiry_time(books: Ledger, clock: ManualClock) -> None:
    """Move a hold's expiry time into the past, let the ledger expire it, then
    put the original time back: the journal now holds an expiry before the
    transfer's timeout, which the replay must reject."""
    expires_at = _open_hold(books)
    clock.advance(seconds=60)
    sql(books, "UPDATE pending_transfers SET expires_at = ? WHERE id = ?", (clock.now_ns(), b(70)))
    assert books.expire_pending() == 1
    assert books.lookup_accounts([ALICE])[0].debits_pending == 0
    sql(books, "UPDATE pending_transfers SET expires_at = ? WHERE id = ?", (expires_at, b(70)))
    _, seq, named = failure(books)
    assert (seq, named) == (journal_seq(books, 3, 70), ref(70))


def test_history_row_altered(books: Ledger) -> None:
    sql(
        books,
        "UPDATE account_balances SET credits_posted = credits_posted + 1 WHERE account_id = ? "
        "AND timestamp = ?",
        (b(ALICE), stamp(books, 10)),
    )
    assert failure(books) == ("account_balances", None, ref(ALICE))


def test_history_row_deleted(books: Ledger) -> None:
    sql(
        books,
        "DELETE FROM account_balances WHERE account_id = ? AND timestamp = ?",
        (b(ALICE), stamp(books, 40)),
    )
    table, seq, _ = failure(books)
    assert (table, seq) == ("account_balances", None)


# -- rows deleted, inserted, reordered -----------------------------------------------------


def test_transfer_row_deleted(books: Ledger) -> None:
    sql(books, "DELETE FROM transfers WHERE id = ?", (b(30),))
    assert failure(books) == ("transfers", transfer_seq(books, 30), ref(30))


def test_forged_transfer_row_appended(books: Ledger) -> None:
    head = books.store.head()
    sql(
        books,
        f"INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (b(999), b(BANK), b(BOB), 1_000_000, "USD", 1, 0, b(0), 0, b(0), 0, 0, head.timestamp + 1000),
    )
    assert failure(books) == ("transfers", None, ref(999))


def test_forged_transfer_row_inserted_in_the_middle(books: Ledger) -> None:
    """A row slipped into a gap of the timestamps (between two batches) must
    be named as the forgery, not blamed on the genuine transfer after it."""
    gap = stamp(books, 30) - 100
    sql(
        books,
        f"INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (b(999), b(BANK), b(BOB), 1_000_000, "USD", 1, 0, b(0), 0, b(0), 0, 0, gap),
    )
    table, _, named = failure(books)
    assert (table, named) == ("transfers", ref(999))


def test_transfer_timestamps_swapped(books: Ledger) -> None:
    t30, t40 = stamp(books, 30), stamp(books, 40)
    sql(books, "UPDATE transfers SET timestamp = ? WHERE id = ?", (-1, b(30)))
    sql(books, "UPDATE transfers SET timestamp = ? WHERE id = ?", (t30, b(40)))
    sql(books, "UPDATE transfers SET timestamp = ? WHERE id = ?", (t40, b(30)))
    assert failure(books) == ("transfers", transfer_seq(books, 30), ref(30))


def test_journal_entries_swapped(books: Ledger) -> None:
    """Swapping two journal rows' seq is a change to the journal; the
    transfer rows are genuine and must not be blamed."""
    s30, s40 = transfer_seq(books, 30), transfer_seq(books, 40)
    sql(books, "UPDATE journal SET seq = ? WHERE seq = ?", (-1, s30))
    sql(books, "UPDATE journal SET seq = ? WHERE seq = ?", (s30, s40))
    sql(books, "UPDATE journal SET seq = ? WHERE seq = ?", (s40, -1))
    table, seq, _ = failure(books)
    assert (table, seq) == ("journal", s30)


def test_journal_leaf_hash_altered(books: Ledger) -> None:
    """A changed leaf hash is a change to the journal; the transfer row it
    names is genuine (its recomputed leaf still continues the chain)."""
    seq = transfer_seq(books, PLAIN)
    sql(books, "UPDATE journal SET leaf_hash = ? WHERE seq = ?", (bytes(32), seq))
    table, found_seq, _ = failure(books)
    assert (table, found_seq) == ("journal", seq)


def test_journal_chain_hash_altered(books: Ledger) -> None:
    seq = transfer_seq(books, PLAIN)
    sql(books, "UPDATE journal SET chain_hash = ? WHERE seq = ?", (bytes(32), seq))
    table, found_seq, _ = failure(books)
    assert (table, found_seq) == ("journal", seq)


def test_journal_entry_deleted_in_the_middle(books: Ledger) -> None:
    seq = transfer_seq(books, 30)
    sql(books, "DELETE FROM journal WHERE seq = ?", (seq,))
    table, found_seq, _ = failure(books)
    assert (table, found_seq) == ("journal", seq + 1)


def test_expiry_entry_deleted(books: Ledger) -> None:
    seq = journal_seq(books, 3, 22)
    sql(books, "DELETE FROM journal WHERE seq = ?", (seq,))
    table, found_seq, _ = failure(books)
    assert (table, found_seq) == ("journal", seq + 1)


def _truncate_last_transfer(books: Ledger) -> None:
    """Delete the last journal entry and its transfer row, undo its effect on
    the balances and move the head back: consistent except for checkpoints. (A
    transfer in an account's tail is in no row; a row written with it is set back
    to the time before it.)"""
    head = books.store.head()
    assert transfer_seq(books, LAST) == head.seq
    (last,) = books.lookup_transfers([LAST])
    previous = books.store.journal_entry(head.seq - 1)
    assert previous is not None
    sql(books, "DELETE FROM journal WHERE seq = ?", (head.seq,))
    sql(books, "DELETE FROM transfers WHERE id = ?", (b(LAST),))
    for column, account in (("debits_posted", BANK), ("credits_posted", CAROL)):
        sql(
            books,
            f"UPDATE accounts SET {column} = {column} - ?, as_of = ? WHERE id = ? AND as_of >= ?",
            (last.amount, previous.timestamp, b(account), last.timestamp),
        )
    sql(
        books,
        "UPDATE ledger_head SET seq = ?, chain_hash = ?, timestamp = ? WHERE id = 1",
        (previous.seq, previous.chain_hash, previous.timestamp),
    )


def test_last_entry_truncated_is_caught_by_the_checkpoint(books: Ledger) -> None:
    _truncate_last_transfer(books)
    assert failure(books) == ("checkpoints", None, "1")
    assert "deleted" in books.verify().first_error.reason  # type: ignore[union-attr]


def test_last_entry_truncated_without_checkpoint_is_invisible(books: Ledger) -> None:
    """Control for the test above: the truncation is otherwise consistent, so
    only the checkpoint can catch it."""
    _truncate_last_transfer(books)
    sql(books, "DELETE FROM checkpoints")
    assert books.verify().ok


def test_history_rewritten_consistently_is_caught_by_the_checkpoint(books: Ledger) -> None:
    """Change an old transfer and recompute every leaf, the chain, the
    balances and the head: only the signed checkpoint still disagrees."""
    when = stamp(books, PLAIN)
    sql(books, "UPDATE transfers SET amount = 400 WHERE id = ?", (b(PLAIN),))
    # Only rows written after the transfer hold it (in the others it is in their tail).
    for column, account in (("debits_posted", BANK), ("credits_posted", BOB)):
        sql(
            books,
            f"UPDATE accounts SET {column} = {column} - 100 WHERE id = ? AND as_of >= ?",
            (b(account), when),
        )
    seq = transfer_seq(books, PLAIN)
    rows = sql(books, f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ?", (b(PLAIN),))
    leaf = journal.leaf_hash(journal.encode_transfer(transfer_from_row(rows[0])))
    sql(books, "UPDATE journal SET leaf_hash = ? WHERE seq = ?", (leaf, seq))
    entries = sql(books, "SELECT seq, leaf_hash FROM journal ORDER BY seq")
    chain = journal.GENESIS_CHAIN_HASH
    for entry_seq, entry_leaf in entries:
        chain = journal.chain_hash(chain, bytes(entry_leaf))
        sql(books, "UPDATE journal SET chain_hash = ? WHERE seq = ?", (chain, entry_seq))
    sql(books, "UPDATE ledger_head SET chain_hash = ? WHERE id = 1", (chain,))
    assert failure(books) == ("checkpoints", None, "1")


# -- checkpoints -----------------------------------------------------------------------------


def test_checkpoint_signature_forged(books: Ledger) -> None:
    (signature,) = sql(books, "SELECT signature FROM checkpoints WHERE seq = 1")[0]
    forged = bytes([bytes(signature)[0] ^ 1]) + bytes(signature)[1:]
    sql(books, "UPDATE checkpoints SET signature = ? WHERE seq = 1", (forged,))
    assert failure(books) == ("checkpoints", None, "1")


@pytest.mark.parametrize("column", ["root", "chain_hash"])
def test_checkpoint_root_altered(books: Ledger, column: str) -> None:
    sql(books, f"UPDATE checkpoints SET {column} = ? WHERE seq = 1", (bytes(32),))
    assert failure(books) == ("checkpoints", None, "1")


def test_checkpoint_signed_by_another_key(books: Ledger, clock: ManualClock, store_url: str) -> None:
    assert books.create_transfers([Transfer(60, BOB, CAROL, 1, "USD", 1)]) == [R.OK]
    other = Ledger.open(store_url, clock=clock, signing_key=Ed25519PrivateKey.generate())
    try:
        assert other.public_key != books.public_key
        assert other.checkpoint().seq == 2
    finally:
        other.close()
    assert failure(books) == ("checkpoints", None, "2")


def test_checkpoint_signed_by_another_key_claiming_ours(books: Ledger) -> None:
    """A checkpoint that names our public key but was signed by another."""
    (cp,) = books.checkpoints()
    forged = journal.sign_checkpoint(
        Ed25519PrivateKey.generate(), 2, cp.tree_size, cp.timestamp + 1, cp.root, cp.chain_hash
    )
    sql(
        books,
        "INSERT INTO checkpoints (seq, tree_size, root, chain_hash, timestamp, public_key, signature) "
        "VALUES (?,?,?,?,?,?,?)",
        (
            2,
            forged.tree_size,
            forged.root,
            forged.chain_hash,
            forged.timestamp,
            books.public_key,
            forged.signature,
        ),
    )
    assert failure(books) == ("checkpoints", None, "2")


# -- inclusion proofs ---------------------------------------------------------------------------


def test_proof_verifies_for_every_transfer(books: Ledger) -> None:
    for transfer_id in (10, PLAIN, 20, 21, 22, 23, 24, 30, 40, LAST):
        proof, checkpoint, transfer = books.prove(transfer_id)
        assert proof.transfer_id == transfer_id == transfer.id
        assert checkpoint.seq == 1
        assert verify_proof(proof, transfer, checkpoint, books.public_key)


def test_proof_needs_no_database(books: Ledger) -> None:
    proof, checkpoint, transfer = books.prove(30)
    key = books.public_key
    books.close()
    assert verify_proof(proof, transfer, checkpoint, key)
    # Also after a round trip through JSON, as a third party would receive it.
    proof2 = journal.proof_from_json(json.loads(json.dumps(journal.proof_to_json(proof))))
    checkpoint2 = journal.checkpoint_from_json(json.loads(json.dumps(journal.checkpoint_to_json(checkpoint))))
    assert verify_proof(proof2, transfer, checkpoint2, key)


def test_old_proof_still_verifies_after_growth(books: Ledger) -> None:
    proof, checkpoint, transfer = books.prove(PLAIN)
    assert books.create_transfers([Transfer(60, BOB, CAROL, 1, "USD", 1)]) == [R.OK]
    books.checkpoint()
    assert verify_proof(proof, transfer, checkpoint, books.public_key)
    proof2, checkpoint2, _ = books.prove(PLAIN)
    assert checkpoint2.seq == 2
    assert verify_proof(proof2, transfer, checkpoint2, books.public_key)
    assert not verify_proof(proof, transfer, checkpoint2, books.public_key)  # proof for another tree size


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"amount": 26}, id="amount=26"),
        pytest.param({"debit_account_id": CAROL}, id="debit_account_id=CAROL"),
        pytest.param({"credit_account_id": BOB}, id="credit_account_id=BOB"),
        pytest.param({"timestamp": 1}, id="timestamp=1"),
        pytest.param({"user_data_32": 1}, id="user_data_32=1"),
        pytest.param({"code": 2}, id="code=2"),
        pytest.param({"flags": TF.PENDING}, id="flags=PENDING"),
        pytest.param({"currency": "EUR"}, id="currency=EUR"),
        pytest.param({"currency": "US"}, id="currency=US"),
        pytest.param({"currency": "USDX"}, id="currency=USDX"),
        pytest.param({"currency": "USD\x00"}, id="currency=USD+NUL"),
        pytest.param({"currency": "ÉUR"}, id="currency=non-ascii"),
        pytest.param({"id": -1}, id="id=-1"),
        pytest.param({"amount": -1}, id="amount=-1"),
    ],
)
def test_proof_fails_for_a_modified_transfer(books: Ledger, changes: dict[str, int]) -> None:
    proof, checkpoint, transfer = books.prove(30)
    key = books.public_key
    books.close()
    # A verifier of untrusted input gets False, never an exception.
    assert verify_proof(proof, dataclasses.replace(transfer, **changes), checkpoint, key) is False  # type: ignore[arg-type]


def test_proof_fails_for_another_transfer(books: Ledger) -> None:
    proof, checkpoint, _ = books.prove(30)
    (other,) = books.lookup_transfers([40])
    assert not verify_proof(proof, other, checkpoint, books.public_key)
    # Even when the proof is relabelled with the other transfer's id.
    assert not verify_proof(dataclasses.replace(proof, transfer_id=40), other, checkpoint, books.public_key)


def _flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


@pytest.mark.parametrize("where", [0, -1])
def test_proof_fails_for_a_modified_path(books: Ledger, where: int) -> None:
    proof, checkpoint, transfer = books.prove(30)
    path = list(proof.merkle["path"])
    assert path
    path[where] = _flip_hex(path[where])
    modified = dataclasses.replace(proof, merkle={**proof.merkle, "path": path})
    assert not verify_proof(modified, transfer, checkpoint, books.public_key)


@pytest.mark.parametrize(
    "merkle",
    [
        {},
        {"path": ["zz"]},
        {"path": []},
        {"rule": [7, 7, 7, 7]},
        {"path": None, "rule": None, "metadata": None},
    ],
)
def test_proof_fails_for_a_malformed_path(books: Ledger, merkle: dict[str, Any]) -> None:
    proof, checkpoint, transfer = books.prove(30)
    modified = dataclasses.replace(proof, merkle={**proof.merkle, **merkle} if merkle else {})
    assert verify_proof(modified, transfer, checkpoint, books.public_key) is False


@pytest.mark.parametrize("delta", [1, -1])
def test_proof_fails_for_a_modified_leaf_index(books: Ledger, delta: int) -> None:
    proof, checkpoint, transfer = books.prove(30)
    modified = dataclasses.replace(proof, leaf_index=proof.leaf_index + delta)
    assert not verify_proof(modified, transfer, checkpoint, books.public_key)


def test_proof_fails_for_the_wrong_public_key(books: Ledger) -> None:
    proof, checkpoint, transfer = books.prove(30)
    other = journal.public_key_bytes(Ed25519PrivateKey.generate())
    assert not verify_proof(proof, transfer, checkpoint, other)
    assert not verify_proof(proof, transfer, checkpoint, b"")
    assert not verify_proof(proof, transfer, checkpoint, bytes(32))


@pytest.mark.parametrize("field", ["root", "chain_hash"])
def test_proof_fails_for_a_checkpoint_with_another_root(books: Ledger, field: str) -> None:
    proof, checkpoint, transfer = books.prove(30)
    changed = dataclasses.replace(checkpoint, **{field: bytes(32)})  # type: ignore[arg-type]
    assert not verify_proof(proof, transfer, changed, books.public_key)


def test_proof_fails_for_a_checkpoint_re_signed_by_another_key(books: Ledger) -> None:
    proof, checkpoint, transfer = books.prove(30)
    other = Ed25519PrivateKey.generate()
    resigned = journal.sign_checkpoint(
        other,
        checkpoint.seq,
        checkpoint.tree_size,
        checkpoint.timestamp,
        checkpoint.root,
        checkpoint.chain_hash,
    )
    assert verify_proof(proof, transfer, resigned, journal.public_key_bytes(other))  # consistent, other key
    assert not verify_proof(proof, transfer, resigned, books.public_key)


def test_proof_fails_for_another_tree_size(books: Ledger) -> None:
    proof, checkpoint, transfer = books.prove(30)
    assert not verify_proof(
        dataclasses.replace(proof, tree_size=proof.tree_size - 1), transfer, checkpoint, books.public_key
    )
    assert not verify_proof(
        proof, transfer, dataclasses.replace(checkpoint, tree_size=checkpoint.tree_size - 1), books.public_key
    )


def test_prove_unknown_or_uncheckpointed_transfer(books: Ledger) -> None:
    with pytest.raises(NotFound) as caught:
        books.prove(12345)
    assert caught.value.code == "transfer_not_found"
    assert books.create_transfers(
        [
            Transfer(60, BOB, CAROL, 1, "USD", 1, flags=TF.PENDING),
            Transfer(61, amount=AMOUNT_MAX, flags=TF.POST_PENDING, pending_id=60),
        ]
    ) == [
        R.OK,
        R.OK,
    ]
    with pytest.raises(NotFound) as caught:
        books.prove(61)
    assert caught.value.code == "transfer_not_checkpointed"
    books.checkpoint()
    proof, checkpoint, transfer = books.prove(61)
    assert transfer.amount == 1
    assert verify_proof(proof, transfer, checkpoint, books.public_key)
