"""``netfin ledger verify``: recompute the chain, the balances and the checkpoints.

The journal is replayed from the first entry. Each entry's leaf hash is
recomputed from the row it refers to (account, transfer or expiry), the hash
chain is recomputed, and the rows of ``transfers`` and ``accounts`` are
matched one-to-one with their journal entries, so a row that was altered,
deleted, inserted or reordered behind the ledger's back is named. The replay
rebuilds every balance, pending status and history row and compares them
with the stored ones; each signed checkpoint is checked against the replayed
Merkle root and chain head.

An account's row holds its balances as of its ``as_of`` time (``store.TAIL_MAX``): the
replay compares it with the balances it had replayed up to that time, and checks that no
transfer after it posts, voids, closes or expires a hold on the account (the writer
rewrites the row in the batch that does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from netfin.core.limits import INT64_MAX
from netfin.ledger import journal
from netfin.ledger.model import AccountFlags, JournalKind, PendingStatus, Transfer
from netfin.ledger.store import (
    ACCOUNT_COLUMNS,
    BALANCE_COLUMNS,
    JOURNAL_COLUMNS,
    TRANSFER_COLUMNS,
    LedgerStore,
    account_from_row,
    i,
    transfer_from_row,
)

_PENDING, _POST, _VOID, _CLOSE_DR, _CLOSE_CR = 2, 4, 8, 64, 128
_ACCOUNT_SCAN_COLUMNS = f"{ACCOUNT_COLUMNS}, as_of"
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY = int(AccountFlags.HISTORY)
# Journal entries between two progress reports.
PROGRESS_EVERY = 10_000


@dataclass(slots=True)
class VerifyIssue:
    table: str
    reason: str
    seq: int | None = None
    ref: str | None = None

    def __str__(self) -> str:
        where = f"journal entry {self.seq}" if self.seq is not None else f"table {self.table}"
        ref = f" ({self.table} {self.ref})" if self.ref else ""
        return f"{where}{ref}: {self.reason}"


@dataclass(slots=True)
class VerifyReport:
    ok: bool = True
    journal_entries: int = 0
    accounts: int = 0
    transfers: int = 0
    checkpoints: int = 0
    first_error: VerifyIssue | None = None
    currencies: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "journal_entries": self.journal_entries,
            "accounts": self.accounts,
            "transfers": self.transfers,
            "checkpoints": self.checkpoints,
            "first_error": None
            if self.first_error is None
            else {
                "table": self.first_error.table,
                "seq": self.first_error.seq,
                "ref": self.first_error.ref,
                "reason": self.first_error.reason,
                "message": str(self.first_error),
            },
            "currencies": self.currencies,
        }


class _Bad(Exception):
    def __init__(self, issue: VerifyIssue) -> None:
        self.issue = issue


class _Peek:
    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self.row: tuple[Any, ...] | None = next(rows, None)

    def take(self) -> tuple[Any, ...] | None:
        row = self.row
        self.row = next(self._rows, None)
        return row


class _Replay:
    def __init__(self, store: LedgerStore, progress: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.progress = progress
        self.balances: dict[int, list[int]] = {}  # dp, dpo, cp, cpo, closed
        self.as_of: dict[int, int] = {}  # each account row's as_of
        self.at_row: dict[int, list[int]] = {}  # balances at as_of, where a tail follows it
        self.meta: dict[int, tuple[str, int]] = {}  # currency, flags
        self.pending: dict[int, list[Any]] = {}  # debit, credit, amount, flags, status
        self.history: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        self.leaves: list[bytes] = []
        self.chains: list[bytes] = []
        self.report = VerifyReport()

    def run(self) -> None:
        accounts = _Peek(self.store.scan("accounts", "timestamp", _ACCOUNT_SCAN_COLUMNS))
        transfers = _Peek(self.store.scan("transfers", "timestamp", TRANSFER_COLUMNS))
        chain = journal.GENESIS_CHAIN_HASH
        expected_seq = 1
        for row in self.store.scan("journal", "seq", JOURNAL_COLUMNS):
            seq, kind, ref = row[0], row[1], i(row[2])
            if seq != expected_seq:
                raise _Bad(VerifyIssue("journal", f"sequence gap or reorder: expected {expected_seq}", seq))
            chain = journal.chain_hash(chain, bytes(row[4]))
            if chain != bytes(row[5]):
                raise _Bad(
                    VerifyIssue("journal", "hash chain broken (entry altered, inserted or reordered)", seq)
                )
            payload = self._entry(seq, kind, ref, row[3], accounts, transfers)
            leaf = journal.leaf_hash(payload)
            if leaf != bytes(row[4]):
                raise _Bad(
                    VerifyIssue(
                        _table(kind), "row does not match its journal leaf hash (altered)", seq, f"{ref:032x}"
                    )
                )
            self.leaves.append(leaf)
            self.chains.append(chain)
            expected_seq += 1
            if self.progress is not None and (expected_seq - 1) % PROGRESS_EVERY == 0:
                self.progress(expected_seq - 1)
        for peek, table in ((accounts, "accounts"), (transfers, "transfers")):
            if peek.row is not None:
                raise _Bad(
                    VerifyIssue(
                        table,
                        "row has no journal entry (inserted behind the ledger's back)",
                        ref=f"{i(peek.row[0]):032x}",
                    )
                )
        self.report.journal_entries = expected_seq - 1

    def _entry(
        self, seq: int, kind: int, ref: int, timestamp: int, accounts: _Peek, transfers: _Peek
    ) -> bytes:
        if kind == JournalKind.ACCOUNT:
            row = accounts.take()
            if row is None or i(row[0]) != ref or row[12] != timestamp:
                raise _Bad(
                    VerifyIssue(
                        "accounts", "account row missing, moved or re-timestamped", seq, f"{ref:032x}"
                    )
                )
            account = account_from_row(row)
            if len(account.currency) != 3:
                raise _Bad(VerifyIssue("accounts", "currency is not 3 letters", seq, f"{ref:032x}"))
            creation_flags = row[3]
            self.balances[ref] = [0, 0, 0, 0, 0]
            self.as_of[ref] = row[13]
            self.meta[ref] = (account.currency, creation_flags)
            self.report.accounts += 1
            return journal.encode_account(account, creation_flags)
        if kind == JournalKind.TRANSFER:
            if transfers.row is not None and transfers.row[12] < timestamp:
                raise _Bad(
                    VerifyIssue(
                        "transfers",
                        "row has no journal entry (inserted behind the ledger's back)",
                        seq,
                        f"{i(transfers.row[0]):032x}",
                    )
                )
            row = transfers.take()
            if row is None or i(row[0]) != ref or row[12] != timestamp:
                raise _Bad(
                    VerifyIssue(
                        "transfers", "transfer row missing, moved or re-timestamped", seq, f"{ref:032x}"
                    )
                )
            transfer = transfer_from_row(row)
            self._apply(seq, transfer)
            self.report.transfers += 1
            return journal.encode_transfer(transfer)
        if kind == JournalKind.EXPIRY:
            p = self.pending.get(ref)
            if p is not None and not 0 < p[5] <= timestamp:
                raise _Bad(
                    VerifyIssue("journal", "expires a transfer before its timeout", seq, f"{ref:032x}")
                )
            self._release(seq, ref, PendingStatus.EXPIRED, timestamp)
            return journal.encode_expiry(ref, timestamp)
        raise _Bad(VerifyIssue("journal", f"unknown entry kind {kind}", seq))

    def _accounts_of(self, seq: int, t: Transfer) -> tuple[list[int], list[int]]:
        dr = self.balances.get(t.debit_account_id)
        cr = self.balances.get(t.credit_account_id)
        if dr is None or cr is None:
            raise _Bad(
                VerifyIssue(
                    "transfers", "transfer names an account created after it or never", seq, f"{t.id:032x}"
                )
            )
        for account_id in (t.debit_account_id, t.credit_account_id):
            if self.meta[account_id][0] != t.currency:
                raise _Bad(
                    VerifyIssue("transfers", "currency differs from its accounts", seq, f"{t.id:032x}")
                )
        return dr, cr

    def _apply(self, seq: int, t: Transfer) -> None:
        if not 0 <= t.amount <= INT64_MAX:
            raise _Bad(VerifyIssue("transfers", "amount out of range", seq, f"{t.id:032x}"))
        if t.flags & (_POST | _VOID):
            status = PendingStatus.POSTED if t.flags & _POST else PendingStatus.VOIDED
            p = self._release(seq, t.pending_id, status, t.timestamp)
            if t.flags & _POST:
                if t.amount > p[2]:
                    raise _Bad(VerifyIssue("transfers", "posts more than was pending", seq, f"{t.id:032x}"))
                self.balances[p[0]][1] += t.amount
                self.balances[p[1]][3] += t.amount
            self._record_history(t.timestamp, p[0], p[1])
            return
        dr, cr = self._accounts_of(seq, t)
        closing = bool(t.flags & (_CLOSE_DR | _CLOSE_CR))
        self._passing(seq, t.timestamp, t.debit_account_id, closing)
        self._passing(seq, t.timestamp, t.credit_account_id, closing)
        if t.flags & _PENDING:
            dr[0] += t.amount
            cr[2] += t.amount
            self.pending[t.id] = [
                t.debit_account_id,
                t.credit_account_id,
                t.amount,
                t.flags,
                PendingStatus.PENDING,
                t.timestamp + t.timeout * 1_000_000_000 if t.timeout else 0,
            ]
            if t.flags & _CLOSE_DR:
                dr[4] = 1
            if t.flags & _CLOSE_CR:
                cr[4] = 1
        else:
            dr[1] += t.amount
            cr[3] += t.amount
        self._check_limits(seq, t)
        self._record_history(t.timestamp, t.debit_account_id, t.credit_account_id)

    def _passing(self, seq: int, timestamp: int, account_id: int, barred: bool) -> None:
        """Before an entry at ``timestamp`` changes an account: keep the balances its row
        should hold when the entry is past the row's ``as_of``; such an entry must not be
        one that only a rewritten row can carry (``barred``)."""
        if timestamp <= self.as_of[account_id]:
            return
        if barred:
            raise _Bad(
                VerifyIssue(
                    "accounts",
                    "row not rewritten after a transfer that posts, voids, closes or expires a hold "
                    "on it (altered)",
                    seq,
                    f"{account_id:032x}",
                )
            )
        if account_id not in self.at_row:
            self.at_row[account_id] = list(self.balances[account_id])

    def _release(self, seq: int, pending_id: int, status: PendingStatus, timestamp: int) -> list[Any]:
        p = self.pending.get(pending_id)
        if p is None or p[4] != PendingStatus.PENDING:
            raise _Bad(
                VerifyIssue(
                    "pending_transfers", "resolves a transfer that is not pending", seq, f"{pending_id:032x}"
                )
            )
        self._passing(seq, timestamp, p[0], True)
        self._passing(seq, timestamp, p[1], True)
        dr, cr = self.balances[p[0]], self.balances[p[1]]
        dr[0] -= p[2]
        cr[2] -= p[2]
        if status is not PendingStatus.POSTED:
            if p[3] & _CLOSE_DR:
                dr[4] = 0
            if p[3] & _CLOSE_CR:
                cr[4] = 0
        p[4] = status
        return p

    def _record_history(self, timestamp: int, *account_ids: int) -> None:
        for account_id in account_ids:
            if self.meta[account_id][1] & _HISTORY:
                self.history[(account_id, timestamp)] = tuple(self.balances[account_id][:4])  # type: ignore[assignment]

    def _check_limits(self, seq: int, t: Transfer) -> None:
        dr, cr = self.balances[t.debit_account_id], self.balances[t.credit_account_id]
        if self.meta[t.debit_account_id][1] & _DMNEC and dr[0] + dr[1] > dr[3]:
            raise _Bad(VerifyIssue("transfers", "debit account crosses its limit", seq, f"{t.id:032x}"))
        if self.meta[t.credit_account_id][1] & _CMNED and cr[2] + cr[3] > cr[1]:
            raise _Bad(VerifyIssue("transfers", "credit account crosses its limit", seq, f"{t.id:032x}"))


def _table(kind: int) -> str:
    return {1: "accounts", 2: "transfers", 3: "journal"}.get(kind, "journal")


def verify_ledger(
    store: LedgerStore, public_key: bytes, progress: Callable[[int], None] | None = None
) -> VerifyReport:
    """Replay and check everything; ``progress(entries_done)`` is called as it goes."""
    replay = _Replay(store, progress)
    report = replay.report
    try:
        with store.snapshot():
            replay.run()
            _compare_state(store, replay)
            _check_head(store, replay)
            _check_checkpoints(store, replay, public_key)
    except _Bad as bad:
        report.ok = False
        report.first_error = bad.issue
    report.currencies = _totals(replay)
    if report.ok and any(v["debits"] != v["credits"] for v in report.currencies.values()):
        report.ok = False
        report.first_error = VerifyIssue("accounts", "debits and credits differ in a currency")
    return report


def _compare_state(store: LedgerStore, replay: _Replay) -> None:
    head_timestamp = store.head().timestamp
    for row in store.scan("accounts", "timestamp", _ACCOUNT_SCAN_COLUMNS):
        account_id = i(row[0])
        if not row[12] <= row[13] <= head_timestamp:
            raise _Bad(
                VerifyIssue("accounts", "row's as_of is outside the ledger's time", ref=f"{account_id:032x}")
            )
        expected = replay.at_row.get(account_id) or replay.balances[account_id]
        if [row[7], row[8], row[9], row[10], row[11]] != expected:
            raise _Bad(
                VerifyIssue(
                    "accounts", "stored balances differ from the journal's replay", ref=f"{account_id:032x}"
                )
            )
    pending_rows = 0
    for row in store.scan("pending_transfers", "id", "id, status, expires_at"):
        pending_rows += 1
        p = replay.pending.get(i(row[0]))
        if p is None or int(p[4]) != row[1] or p[5] != row[2]:
            raise _Bad(
                VerifyIssue(
                    "pending_transfers", "status differs from the journal's replay", ref=f"{i(row[0]):032x}"
                )
            )
    if pending_rows != len(replay.pending):
        raise _Bad(VerifyIssue("pending_transfers", "a pending transfer's status row is missing"))
    history_rows = 0
    for row in store.scan("account_balances", "account_id, timestamp", BALANCE_COLUMNS):
        history_rows += 1
        if replay.history.get((i(row[0]), row[1])) != tuple(row[2:6]):
            raise _Bad(
                VerifyIssue(
                    "account_balances",
                    "history row differs from the journal's replay",
                    ref=f"{i(row[0]):032x}",
                )
            )
    if history_rows != len(replay.history):
        raise _Bad(VerifyIssue("account_balances", "history rows are missing"))


def _check_head(store: LedgerStore, replay: _Replay) -> None:
    head = store.head()
    size = len(replay.leaves)
    if head.seq != size or (size and head.chain_hash != replay.chains[-1]):
        raise _Bad(VerifyIssue("ledger_head", f"head says {head.seq} entries, the journal holds {size}"))


def _check_checkpoints(store: LedgerStore, replay: _Replay, public_key: bytes) -> None:
    tree = journal.LeafTree(replay.leaves)
    for checkpoint in store.checkpoints():
        replay.report.checkpoints += 1
        where = VerifyIssue("checkpoints", "", ref=str(checkpoint.seq))
        if checkpoint.public_key != public_key or not journal.checkpoint_signature_valid(
            checkpoint, public_key
        ):
            where.reason = "signature invalid or signed by another key"
            raise _Bad(where)
        if checkpoint.tree_size > len(replay.leaves):
            where.reason = (
                f"signed {checkpoint.tree_size} entries but the journal holds "
                f"{len(replay.leaves)} (entries deleted)"
            )
            raise _Bad(where)
        if checkpoint.tree_size and (
            tree.get_root(checkpoint.tree_size) != checkpoint.root
            or replay.chains[checkpoint.tree_size - 1] != checkpoint.chain_hash
        ):
            where.reason = "Merkle root or chain head differs from the journal"
            raise _Bad(where)


def _totals(replay: _Replay) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for account_id, bal in replay.balances.items():
        currency = replay.meta[account_id][0]
        entry = totals.setdefault(currency, {"debits": 0, "credits": 0})
        entry["debits"] += bal[0] + bal[1]
        entry["credits"] += bal[2] + bal[3]
    return totals
