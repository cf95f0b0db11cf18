"""The ledger's use cases: the only way money moves in netfin."""

from __future__ import annotations

import functools
import gc
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from typing import Any, Concatenate, ParamSpec, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netfin.core.clock import Clock, SystemClock
from netfin.core.errors import InvalidInput, LimitExceeded, NotFound
from netfin.core.limits import BATCH_EVENTS_MAX, INT64_MAX, LOOKUP_IDS_MAX, PAGE_LIMIT_MAX
from netfin.ledger import journal
from netfin.ledger.engine import TransferBatch, expire_pending, run_account_batch
from netfin.ledger.model import (
    Account,
    AccountBalance,
    Checkpoint,
    CreateAccountResult,
    CreateTransferResult,
    InclusionProof,
    JournalKind,
    PendingState,
    Transfer,
    TransferFlags,
)
from netfin.ledger.store import (
    TAIL_BARRED_FLAGS,
    TAIL_MAX,
    BatchReads,
    Head,
    LedgerStore,
    WriteTransaction,
    b,
    open_store,
)
from netfin.ledger.verify import VerifyReport, verify_ledger

_POST_OR_VOID = 4 | 8
# Pending transfers expired per batch before the batch's own events; the rest
# wait for the next batch or an explicit ``expire_pending``.
EXPIRY_PER_BATCH_MAX = 8190
_RETRIES_MAX = 8
# Accounts whose balances a Ledger keeps in memory between its own batches: about 400 bytes
# each (measured), so at most ~400 MB, reached only by a ledger with that many accounts in
# use. A cache that holds every account in use spares a batch reading its accounts back; a
# million-account ledger's batches then cost what a small ledger's do (docs/benchmarks.md).
# ``NETFIN_LEDGER_ACCOUNT_CACHE`` sets it for a bank (``BankSettings``).
ACCOUNT_CACHE_MAX = 1_048_576
_INT_FIELDS = (
    "id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "code",
    "flags",
    "pending_id",
    "timeout",
    "user_data_128",
    "user_data_64",
    "user_data_32",
    "timestamp",
)
_ACCOUNT_INT_FIELDS = (
    "id",
    "code",
    "flags",
    "user_data_128",
    "user_data_64",
    "user_data_32",
    "debits_pending",
    "debits_posted",
    "credits_pending",
    "credits_posted",
    "timestamp",
)

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def _serialised(method: Callable[Concatenate[Ledger, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """Run a public ``Ledger`` method under the ledger's lock (see ``Ledger.__init__``)."""

    @functools.wraps(method)
    def locked(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def _reading(method: Callable[Concatenate[Ledger, P], R]) -> Callable[Concatenate[Ledger, P], R]:
    """A read that touches neither the account cache nor the write connection.

    Serialised like a write on a store with one connection (SQLite); on a store
    with ``concurrent_reads`` (PostgreSQL's read pool) it runs beside the
    writers, which is what keeps a busy API's balance reads off the ledger lock.
    """

    @functools.wraps(method)
    def read(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.store.concurrent_reads:
            return method(self, *args, **kwargs)
        with self._lock:
            return method(self, *args, **kwargs)

    return read


@dataclass(slots=True, eq=False)
class _Submission:
    """One caller's ``create_transfers`` batch waiting to be booked in a group."""

    transfers: Sequence[Transfer]
    results: list[CreateTransferResult] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class TransferPage:
    transfers: list[Transfer]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class BalancePage:
    balances: list[AccountBalance]
    next_cursor: str | None


class Ledger:
    """A double-entry ledger after TigerBeetle's model, on SQLite or PostgreSQL.

    Open with ``Ledger.open(url)``. Batches return one result per event, in
    order; a batch either commits all its successful events or, on an error
    of the database, none of them.
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        clock: Clock | None = None,
        signing_key: Ed25519PrivateKey | None = None,
        key_file: str | None = None,
        account_cache_max: int = ACCOUNT_CACHE_MAX,
    ) -> None:
        if type(account_cache_max) is not int or account_cache_max < 0:
            raise InvalidInput("account_cache_max must be a non-negative int", code="cache_size_invalid")
        self.store = store
        self._cache_max = account_cache_max
        self.clock = clock or SystemClock()
        self._signing_key = signing_key
        self._key_file = key_file
        # Balances this process wrote last; see _load_accounts. ``_tails`` counts, for
        # the cached accounts, the transfers since each one's row was last written
        # (``store.TAIL_MAX``; absent: none).
        self._accounts: dict[int, Account] = {}
        self._tails: dict[int, int] = {}
        self._cache_seq = -1
        # One store connection and one account cache: callers on several threads
        # (the API's worker pool) take turns, so no read runs inside another
        # thread's write transaction and the cache is never seen half-updated.
        self._lock = threading.RLock()
        # Group commit: batches that callers on several threads submit while
        # another batch is being booked wait here, and the first of them books
        # them all in one transaction (see create_transfers).
        self._submissions: deque[_Submission] = deque()
        self._submitted = threading.Condition(threading.Lock())

    @classmethod
    def open(
        cls,
        url: str = "sqlite:///netfin.db",
        *,
        clock: Clock | None = None,
        signing_key: Ed25519PrivateKey | None = None,
        key_file: str | None = None,
        account_cache_max: int = ACCOUNT_CACHE_MAX,
    ) -> Ledger:
        """Open (and migrate) the ledger at ``url``. ``account_cache_max`` bounds the
        accounts kept in memory between batches (about 400 bytes each); a batch
        always holds the accounts it touches, whatever the bound."""
        return cls(
            open_store(url),
            clock=clock,
            signing_key=signing_key,
            key_file=key_file,
            account_cache_max=account_cache_max,
        )

    @_serialised
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        if self._signing_key is None:
            self._signing_key = journal.load_signing_key(self._key_file)
        return self._signing_key

    @property
    def public_key(self) -> bytes:
        return journal.public_key_bytes(self.signing_key)

    # -- writes -------------------------------------------------------------

    @_serialised
    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        _check_batch(accounts, Account, _ACCOUNT_INT_FIELDS)
        if not accounts:
            return []
        return self._with_retry(lambda: self._create_accounts(accounts))

    def _create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        try:
            results, head, new_head, created = self._run_accounts(accounts)
        except BaseException:
            self._forget_accounts()
            raise
        if created:
            self._cache_created(head, new_head, created)
        return results

    def _cache_created(self, head: Head, new_head: Head, created: list[Account]) -> None:
        """Keep the accounts a batch has just created, as they stand at ``new_head`` (no
        tail yet), while the cache has room: a new ledger's first transfers then read
        none of them back. A cache another writer had left behind starts again from them."""
        if head.seq != self._cache_seq:
            self._forget_accounts()
        room = self._cache_max - len(self._accounts)
        self._accounts.update((a.id, a) for a in islice(created, max(room, 0)))
        self._cache_seq = new_head.seq

    def _run_accounts(
        self, accounts: Sequence[Account]
    ) -> tuple[list[CreateAccountResult], Head, Head, list[Account]]:
        with self.store.write() as tx:
            head = tx.head()
            new_head = head
            start = self._timestamp(head)
            existing = tx.load_accounts(a.id for a in accounts if 0 < a.id < 2**128)
            results, created = run_account_batch(list(accounts), existing, start)
            if created:
                rows, new_head = _chain(
                    head,
                    [
                        (JournalKind.ACCOUNT, a.id, a.timestamp, journal.encode_account(a, a.flags))
                        for a in created
                    ],
                )
                tx.insert_accounts(created)
                tx.insert_journal(rows)
                tx.set_head(new_head)
            return results, head, new_head, created

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        """Book a batch; one result per event, in order.

        Callers on several threads share transactions (group commit): while
        one batch is being booked, the batches submitted meanwhile queue, and
        the first in the queue books them together, in arrival order, as one
        batch of at most ``BATCH_EVENTS_MAX`` events with one durable commit.
        Each caller gets exactly the results its own events would have had
        booked one batch after another (events only see earlier events, as
        within a batch). A batch whose last event is ``linked`` (an open chain,
        refused on its own) is booked alone, so that it never joins another
        caller's events. When a group fails with an error, nothing of it was
        written and each batch of the group is booked again alone, so that one
        caller's failure is never another's.
        """
        _check_batch(transfers, Transfer, _INT_FIELDS)
        if not transfers:
            return []
        if transfers[-1].flags & TransferFlags.LINKED:
            with self._lock, _no_cyclic_gc():
                return self._with_retry(lambda: self._create_transfers(transfers))
        mine = _Submission(transfers)
        with self._submitted:
            self._submissions.append(mine)
            while not mine.done and self._submissions[0] is not mine:
                self._submitted.wait()
        if not mine.done:
            self._book_group()
        if mine.error is not None:
            raise mine.error
        return mine.results  # type: ignore[return-value]

    def _next_group(self) -> list[_Submission]:
        """The submissions at the head of the queue that fit one batch (the first always does)."""
        group: list[_Submission] = []
        size = 0
        for submission in self._submissions:
            if group and (
                size + len(submission.transfers) > BATCH_EVENTS_MAX
                or submission.transfers[-1].flags & TransferFlags.LINKED
            ):
                break
            group.append(submission)
            size += len(submission.transfers)
        return group

    def _book_group(self) -> None:
        """Called by the submission at the head of the queue: take the ledger lock, then
        the queue's head group (everything that queued meanwhile), book it, hand out the
        results and wake the waiters."""
        group: list[_Submission] = []
        try:
            with self._lock, _no_cyclic_gc():
                with self._submitted:
                    group = self._next_group()
                if len(group) == 1:
                    self._book_alone(group[0])
                else:
                    events = [t for submission in group for t in submission.transfers]
                    try:
                        results = self._with_retry(lambda: self._create_transfers(events))
                    except Exception:  # noqa: BLE001 - whatever it was, each batch is tried alone
                        for submission in group:
                            self._book_alone(submission)
                    else:
                        start = 0
                        for submission in group:
                            end = start + len(submission.transfers)
                            submission.results = results[start:end]
                            start = end
        except BaseException as error:  # e.g. KeyboardInterrupt while waiting for the lock
            with self._submitted:
                group = group or [self._submissions[0]]
            for submission in group:
                if submission.results is None and submission.error is None:
                    submission.error = error
            raise
        finally:
            with self._submitted:
                for submission in group:
                    submission.done = True
                    self._submissions.popleft()
                self._submitted.notify_all()

    def _book_alone(self, submission: _Submission) -> None:
        try:
            submission.results = self._with_retry(lambda: self._create_transfers(submission.transfers))
        except Exception as error:  # noqa: BLE001 - raised again in the submitting caller's thread
            submission.error = error

    def _create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        reads = _batch_reads(self.clock.now_ns(), transfers)
        try:
            with self.store.write(len(transfers)) as tx:
                head = tx.begin_batch(reads)
                if head.seq != self._cache_seq:
                    self._forget_accounts()  # another writer moved the ledger on
                results, new_head = self._run_transfers(tx, head, transfers, reads)
        except BaseException:
            self._forget_accounts()  # the batch may have changed cached balances
            raise
        self._cache_seq = new_head.seq
        return results

    def _run_transfers(
        self, tx: WriteTransaction, head: Head, transfers: Sequence[Transfer], reads: BatchReads
    ) -> tuple[list[CreateTransferResult], Head]:
        now = max(reads.clock_ns, head.timestamp + 1)  # the clock as read before the batch began
        due = tx.due_pending(now, reads.due_max)
        pendings, not_pending = _load_pendings(tx, due, reads.pending_ids)
        account_ids = set(reads.account_ids)
        for p in pendings.values():
            account_ids.add(p.transfer.debit_account_id)
            account_ids.add(p.transfer.credit_account_id)
        accounts = self._load_accounts(tx, account_ids)
        expired = [pendings[x] for x in due]
        for state in expired:
            expire_pending(state, accounts)
        existing = tx.load_transfers(reads.transfer_ids)
        outcome = TransferBatch(accounts, existing, pendings, not_pending).run(
            list(transfers), now + len(expired)
        )
        if not outcome.created and not expired:
            return outcome.results, head
        entries = [
            (JournalKind.EXPIRY, s.transfer.id, now + k, journal.encode_expiry(s.transfer.id, now + k))
            for k, s in enumerate(expired)
        ]
        entries += [
            (JournalKind.TRANSFER, t.id, t.timestamp, journal.encode_transfer(t)) for t in outcome.created
        ]
        rows, new_head = _chain(head, entries)
        touched = dict(outcome.touched)
        rewrite: set[int] = set()
        for state in expired:
            for account_id in (state.transfer.debit_account_id, state.transfer.credit_account_id):
                touched[account_id] = accounts[account_id]
                rewrite.add(account_id)
        changed = {s.transfer.id: s for s in expired}
        changed.update(outcome.pending_changes)
        tx.insert_transfers(outcome.created)
        tx.update_accounts(self._rows_to_rewrite(outcome.created, touched, rewrite), new_head.timestamp)
        tx.write_pending(
            [s for k, s in changed.items() if k in outcome.pending_new],
            [s for k, s in changed.items() if k not in outcome.pending_new],
        )
        if outcome.history:
            tx.insert_history(outcome.history)
        tx.insert_journal(rows)
        tx.set_head(new_head)
        return outcome.results, new_head

    def _rows_to_rewrite(
        self, created: list[Transfer], touched: dict[int, Account], rewrite: set[int]
    ) -> list[Account]:
        """The touched accounts whose rows the batch writes (``store.TAIL_MAX``): those whose
        tail would reach ``TAIL_MAX`` transfers, and those a transfer posts, voids or closes
        a hold on (or ``rewrite`` names: expiries). Their tails start again."""
        counts: dict[int, int] = {}  # the batch's own, small: the cache's maps are large
        for t in created:
            if t.flags & TAIL_BARRED_FLAGS:
                rewrite.add(t.debit_account_id)
                rewrite.add(t.credit_account_id)
            else:
                counts[t.debit_account_id] = counts.get(t.debit_account_id, 0) + 1
                counts[t.credit_account_id] = counts.get(t.credit_account_id, 0) + 1
        tails = self._tails
        rows = []
        for account_id, account in touched.items():
            before = tails.get(account_id, 0)
            after = before + counts.get(account_id, 0)
            if after >= TAIL_MAX or account_id in rewrite:
                rows.append(account)
                if before:
                    del tails[account_id]
            elif after != before:
                tails[account_id] = after
        return rows

    def _load_accounts(self, tx: WriteTransaction, ids: set[int]) -> dict[int, Account]:
        """The accounts of ``ids`` that exist, from the cache where it is still valid, else
        the store (and then kept in the cache).

        The cache holds the balances as of ``_cache_seq``; it is valid only
        while this process was the last writer (checked under the head lock).
        """
        cache = self._accounts
        # The batch's accounts in a dict of their own: the engine looks each one up several
        # times, and a small dict stays in the CPU's caches where a million-entry one does not.
        batch: dict[int, Account] = {}
        missing = []
        for account_id in ids:
            account = cache.get(account_id)
            if account is not None:
                batch[account_id] = account
            elif 0 < account_id < 2**128:
                missing.append(account_id)
        overflow = len(cache) + len(missing) - self._cache_max
        if overflow > 0:
            # Evict the oldest-loaded accounts (dicts keep insertion order), at
            # least a quarter of the cache so that eviction stays rare; never
            # one this batch needs.
            evict = max(overflow, self._cache_max // 4)
            for key in [k for k in islice(cache, evict + len(ids)) if k not in ids][:evict]:
                del cache[key]
                self._tails.pop(key, None)
        if missing:
            tails = self._tails
            for key in missing:
                tails.pop(key, None)
            loaded = tx.load_accounts(missing, tails)
            cache.update(loaded)
            batch.update(loaded)
        return batch

    def _forget_accounts(self) -> None:
        self._accounts.clear()
        self._tails.clear()
        self._cache_seq = -1

    @_serialised
    def expire_pending(self) -> int:
        """Expire every pending transfer whose timeout has passed; returns how many."""
        total = 0
        while True:
            before = self.store.head().seq
            self._with_retry(lambda: self._create_transfers([]))
            expired = self.store.head().seq - before
            total += expired
            if expired < EXPIRY_PER_BATCH_MAX:
                return total

    def _timestamp(self, head: Head) -> int:
        return max(self.clock.now_ns(), head.timestamp + 1)

    def _with_retry(self, attempt: Callable[[], T]) -> T:
        """Retry a batch that the database aborted for a transient reason
        (deadlock, serialisation failure, busy); the batch is recomputed from
        scratch each time, so a retry can never apply money twice."""
        delay = 0.005
        for tries in range(_RETRIES_MAX):
            try:
                return attempt()
            except Exception as error:
                if tries == _RETRIES_MAX - 1 or not _is_transient(error):
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    # -- reads --------------------------------------------------------------

    @_reading
    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        _check_ids(ids)
        found = self.store.lookup_accounts(ids)
        return [found[x] for x in ids if x in found]

    @_reading
    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        _check_ids(ids)
        found = self.store.lookup_transfers(ids)
        return [found[x] for x in ids if x in found]

    @_reading
    def account_transfers(
        self,
        account_id: int,
        *,
        cursor: str | None = None,
        limit: int = 100,
        timestamp_min: int = 0,
        timestamp_max: int = 0,
        reverse: bool = False,
        debits: bool = True,
        credits: bool = True,
    ) -> TransferPage:
        after, before = _window(cursor, limit, timestamp_min, timestamp_max, reverse)
        rows = self.store.account_transfers(account_id, after, before, limit, reverse, debits, credits)
        last = rows[-1].timestamp if len(rows) == limit else None
        return TransferPage(rows, None if last is None else str(last))

    @_reading
    def account_balances(
        self,
        account_id: int,
        *,
        cursor: str | None = None,
        limit: int = 100,
        timestamp_min: int = 0,
        timestamp_max: int = 0,
        reverse: bool = False,
    ) -> BalancePage:
        after, before = _window(cursor, limit, timestamp_min, timestamp_max, reverse)
        rows = self.store.account_balances(account_id, after, before, limit, reverse)
        last = rows[-1].timestamp if len(rows) == limit else None
        return BalancePage(rows, None if last is None else str(last))

    @_reading
    def list_accounts(
        self, *, cursor: str | None = None, limit: int = 100
    ) -> tuple[list[Account], str | None]:
        after, _ = _window(cursor, limit, 0, 0, False)
        rows = self.store.accounts_page(after, limit)
        return rows, (str(rows[-1].timestamp) if len(rows) == limit else None)

    @_reading
    def list_transfers(self, *, cursor: str | None = None, limit: int = 100) -> TransferPage:
        after, _ = _window(cursor, limit, 0, 0, False)
        rows = self.store.transfers_page(after, limit)
        return TransferPage(rows, str(rows[-1].timestamp) if len(rows) == limit else None)

    # -- verification ---------------------------------------------------------

    @_serialised
    def checkpoint(self) -> Checkpoint:
        """Sign the Merkle root of the whole journal and the chain head."""
        key = self.signing_key
        with self.store.write() as tx:
            head = tx.head()
            checkpoints = self.store.checkpoints()
            seq = checkpoints[-1].seq + 1 if checkpoints else 1
            root = journal.merkle_root(self.store.leaf_hashes(head.seq))
            signed = journal.sign_checkpoint(key, seq, head.seq, self._timestamp(head), root, head.chain_hash)
            tx.insert_checkpoint(signed)
            return signed

    @_serialised
    def checkpoints(self) -> list[Checkpoint]:
        return self.store.checkpoints()

    @_serialised
    def prove(self, transfer_id: int) -> tuple[InclusionProof, Checkpoint, Transfer]:
        """An inclusion proof for one transfer against the newest checkpoint."""
        found = self.lookup_transfers([transfer_id])
        if not found:
            raise NotFound(f"transfer {transfer_id:032x} not found", code="transfer_not_found")
        transfer = found[0]
        seq = self._journal_seq(transfer.timestamp)
        checkpoints = [c for c in self.store.checkpoints() if c.tree_size >= seq]
        if not checkpoints:
            raise NotFound(
                "no checkpoint covers this transfer yet; run `netfin ledger checkpoint`",
                code="transfer_not_checkpointed",
            )
        latest = checkpoints[-1]
        leaves = self.store.leaf_hashes(latest.tree_size)
        return journal.build_proof(leaves, transfer_id, seq, latest), latest, transfer

    def _journal_seq(self, timestamp: int) -> int:
        """Journal timestamps rise with seq, so a binary search finds the entry."""
        low, high = 1, self.store.head().seq
        while low <= high:
            mid = (low + high) // 2
            entry = self.store.journal_entry(mid)
            if entry is None:
                break
            if entry.timestamp == timestamp:
                return mid
            if entry.timestamp < timestamp:
                low = mid + 1
            else:
                high = mid - 1
        raise NotFound("transfer has no journal entry", code="journal_entry_missing")

    @_serialised
    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Replay the journal and check every table against it (see ``ledger.verify``);
        ``progress(entries_done)`` is called every few thousand entries."""
        return verify_ledger(self.store, self.public_key, progress)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A batch allocates tens of thousands of short-lived, acyclic objects; a
    cyclic collection in the middle would traverse every cached account for
    nothing (12% of a 1M-account batch's wall time when measured). Reference
    counting still frees everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _batch_reads(clock_ns: int, transfers: Sequence[Transfer]) -> BatchReads:
    accounts: set[int] = set()
    for t in transfers:
        accounts.add(t.debit_account_id)
        accounts.add(t.credit_account_id)
    return BatchReads(
        clock_ns=clock_ns,
        due_max=EXPIRY_PER_BATCH_MAX,
        account_ids=frozenset(x for x in accounts if 0 < x < 2**128),
        transfer_ids=frozenset(t.id for t in transfers if 0 < t.id < 2**128),
        pending_ids=frozenset(
            t.pending_id for t in transfers if t.flags & _POST_OR_VOID and 0 < t.pending_id < 2**128
        ),
    )


def _load_pendings(
    tx: WriteTransaction, due: list[int], pending_ids: frozenset[int]
) -> tuple[dict[int, PendingState], set[int]]:
    wanted = set(due)
    wanted.update(pending_ids)
    if not wanted:
        return {}, set()
    found = tx.load_transfers(wanted)
    status = tx.load_pending(x for x, t in found.items() if t.flags & 2)
    pendings = {x: PendingState(found[x], s, expires) for x, (s, expires) in status.items()}
    not_pending = {x for x in found if x not in pendings}
    return pendings, not_pending


def _chain(
    head: Head, entries: list[tuple[JournalKind, int, int, bytes]]
) -> tuple[list[tuple[int, int, bytes, int, bytes, bytes]], Head]:
    rows = []
    chain = head.chain_hash
    seq = head.seq
    leaf_hash = journal.leaf_hash
    chain_hash = journal.chain_hash
    for kind, ref, timestamp, payload in entries:
        seq += 1
        leaf = leaf_hash(payload)
        chain = chain_hash(chain, leaf)
        rows.append((seq, int(kind), b(ref), timestamp, leaf, chain))
    return rows, Head(seq, chain, entries[-1][2] if entries else head.timestamp)


def _check_batch(events: Sequence[Any], kind: type, int_fields: tuple[str, ...]) -> None:
    """Reject wrong types before anything runs: the batch then writes nothing."""
    if not isinstance(events, (list, tuple)):
        raise InvalidInput("a batch is a list of events", code="batch_not_a_list")
    if len(events) > BATCH_EVENTS_MAX:
        raise LimitExceeded(
            f"batch of {len(events)} events exceeds the maximum of {BATCH_EVENTS_MAX}",
            code="batch_too_large",
        )
    fields = attrgetter(*int_fields, "currency")
    expected = (int,) * len(int_fields) + (str,)
    for index, event in enumerate(events):
        if type(event) is not kind:
            raise InvalidInput(f"event {index} is not a {kind.__name__}", code="event_type_invalid")
        values = fields(event)
        if tuple(map(type, values)) != expected:  # fast path: exact types
            _check_types(index, int_fields, values)


def _check_types(index: int, int_fields: tuple[str, ...], values: tuple[Any, ...]) -> None:
    """Slow path: int subclasses (IntFlag) are fine, bool and everything else not."""
    for name, value in zip(int_fields, values, strict=False):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"event {index}: field {name} must be an int", code="field_type_invalid")
    if type(values[-1]) is not str:
        raise InvalidInput(f"event {index}: currency must be a str", code="field_type_invalid")


def _check_ids(ids: Sequence[int]) -> None:
    if len(ids) > LOOKUP_IDS_MAX:
        raise LimitExceeded(f"at most {LOOKUP_IDS_MAX} ids per lookup", code="lookup_too_large")
    for x in ids:
        if type(x) is not int or not 0 <= x < 2**128:
            raise InvalidInput(f"id {x!r} is not a 128-bit unsigned int", code="id_invalid")


def _window(
    cursor: str | None, limit: int, timestamp_min: int, timestamp_max: int, reverse: bool
) -> tuple[int, int]:
    if type(limit) is not int or not 0 < limit <= PAGE_LIMIT_MAX:
        raise InvalidInput(f"limit must be 1..{PAGE_LIMIT_MAX}", code="limit_invalid")
    after = max(timestamp_min - 1, 0)
    before = timestamp_max + 1 if timestamp_max else INT64_MAX
    if cursor is not None:
        try:
            position = int(cursor)
        except ValueError:
            raise InvalidInput("malformed cursor", code="cursor_invalid") from None
        if reverse:
            before = min(before, position)
        else:
            after = max(after, position)
    return after, before


def _is_transient(error: BaseException) -> bool:
    import sqlite3

    if isinstance(error, sqlite3.OperationalError):
        return "locked" in str(error) or "busy" in str(error)
    try:
        import psycopg.errors as pg_errors
    except ImportError:  # pragma: no cover - psycopg is a core dependency
        return False
    return isinstance(
        error, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)
    )
