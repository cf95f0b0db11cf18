"""The audit log's use cases: record (group-committed), query and verify.

``record`` is called on every request that reads customer data, so writes are
group-committed: callers validate their entry, put it on a bounded queue and
wait; one writer thread takes everything waiting (up to ``batch_max``), appends
it in one transaction under the head lock and then wakes each caller with its
sealed entry, or with ``AuditWriteFailed`` when the transaction rolled back.
One commit thus serves many requests, and nothing is acknowledged before it
is durable.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from netfin.audit.errors import AuditLogClosed, AuditWriteFailed
from netfin.audit.model import (
    ACTION_LENGTH_MAX,
    ACTOR_ID_LENGTH_MAX,
    CONSENT_ID_LENGTH_MAX,
    GENESIS_HASH,
    QUERY_LIMIT_MAX,
    SUBJECT_ID_LENGTH_MAX,
    AuditDraft,
    AuditEntry,
    AuditFilter,
    AuditPage,
    AuditVerifyReport,
    DetailValue,
    check_actor_kind,
    check_outcome,
    check_text,
    decode_cursor,
    draft_entry,
    encode_cursor,
    entry_hash_of,
    seal,
)
from netfin.audit.store import AuditStore, Head, entry_from_row
from netfin.core.clock import Clock
from netfin.core.errors import ConfigurationError, InvalidInput, InvariantViolation, LimitExceeded
from netfin.core.ids import IdSource
from netfin.core.limits import INT64_MAX

# Upper bounds for the constructor's settings.
BATCH_ENTRIES_MAX = 8190
# PostgreSQL: one-statement appends a batch may try, each sealed after the head the last
# one found, before it takes the head's row lock in a transaction (two or more server
# processes appending at once lose the race to each other often; a retry costs one round
# trip, the locked path about six, all of them holding the head while the other writers'
# statements wait for it).
OPTIMISTIC_APPENDS_MAX = 8
QUEUE_ENTRIES_MAX = 1_000_000
# Rows read per statement while verifying; progress is reported after each chunk.
VERIFY_CHUNK_ROWS = 2000


class _Pending:
    """One caller's entry on its way through the writer."""

    __slots__ = ("done", "draft", "entry", "error")

    def __init__(self, draft: AuditDraft) -> None:
        self.draft = draft
        self.done = threading.Event()
        self.entry: AuditEntry | None = None
        self.error: BaseException | None = None

    def succeed(self, entry: AuditEntry) -> None:
        self.entry = entry
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()

    def wait(self) -> AuditEntry:
        """The committed entry, once its batch is; raises as ``AuditLog.record`` does."""
        self.done.wait()
        if self.error is not None:
            if isinstance(self.error, InvariantViolation):
                raise InvariantViolation(f"the audit writer stopped: {self.error}") from self.error
            raise AuditWriteFailed(
                f"the audit entry was not recorded: {type(self.error).__name__}"
            ) from self.error
        if self.entry is None:
            raise InvariantViolation("a woken audit caller has neither an entry nor an error")
        return self.entry


class AuditReceipt:
    """An entry handed to the writer by ``AuditLog.submit``; ``wait()`` returns it committed."""

    __slots__ = ("_log", "_pending")

    def __init__(self, pending: _Pending, log: AuditLog) -> None:
        self._pending = pending
        self._log = log

    def wait(self) -> AuditEntry:
        """Block until the entry's batch committed (or failed: AuditWriteFailed). An entry
        this thread still holds (``AuditLog.together``) is handed to the writer first."""
        self._log._release_held(self._pending)
        return self._pending.wait()


class AuditLog:
    """The append-only, hash-chained audit log on one engine; safe to share between threads.

    Several instances (in one process or many) may write to the same database:
    the head lock keeps the chain linear.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock,
        ids: IdSource,
        batch_max: int = 2048,
        queue_max: int = 10_000,
    ) -> None:
        _check_setting("batch_max", batch_max, BATCH_ENTRIES_MAX)
        _check_setting("queue_max", queue_max, QUEUE_ENTRIES_MAX)
        self._store = AuditStore(engine)
        try:
            self._store.seed_head()
        except sa.exc.DBAPIError as error:
            first_line = (str(error.orig).strip().splitlines() or [""])[0]
            raise ConfigurationError(
                f"cannot prepare the audit tables (were they migrated?): {first_line}",
                code="audit_store_unavailable",
            ) from error
        self._clock = clock
        self._ids = ids
        self._batch_max = batch_max
        self._queue_max = queue_max
        self._condition = threading.Condition()
        self._waiting: deque[_Pending] = deque()
        self._in_flight: list[_Pending] = []
        self._closed = False
        self._held = threading.local()  # .pendings: this thread's entries inside together()
        # The head as this writer's last append left it (PostgreSQL): the next batch is sealed
        # after it and written in one statement that checks it (AuditStore.append_if_head).
        # Only the writer thread touches it.
        self._head: Head | None = None
        # Daemon, so that a process which never calls close() can still exit; no caller
        # is told "recorded" before its commit, so nothing acknowledged is lost that way.
        self._writer = threading.Thread(target=self._write_loop, name="netfin-audit-writer", daemon=True)
        self._writer.start()

    # --- recording --------------------------------------------------------

    def record(
        self,
        *,
        actor_kind: str,
        actor_id: str,
        action: str,
        outcome: str,
        subject_kind: str = "",
        subject_id: str = "",
        consent_id: str | None = None,
        interaction_id: str | None = None,
        reason: str | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> AuditEntry:
        """Append one entry and return it once it is committed.

        Raises InvalidInput or LimitExceeded for a bad field, LimitExceeded
        ``audit_queue_full`` when ``queue_max`` entries are already waiting,
        AuditLogClosed after ``close()``, and AuditWriteFailed when the batch
        holding this entry was rolled back.
        """
        return self.submit(
            actor_kind=actor_kind, actor_id=actor_id, action=action, outcome=outcome,
            subject_kind=subject_kind, subject_id=subject_id, consent_id=consent_id,
            interaction_id=interaction_id, reason=reason, detail=detail,
        ).wait()  # fmt: skip

    def submit(
        self,
        *,
        actor_kind: str,
        actor_id: str,
        action: str,
        outcome: str,
        subject_kind: str = "",
        subject_id: str = "",
        consent_id: str | None = None,
        interaction_id: str | None = None,
        reason: str | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> AuditReceipt:
        """Hand one entry to the writer and return at once; ``wait()`` on the receipt
        returns it committed. For a caller with more work to do before it answers: the
        entry's commit overlaps that work, and the caller still waits before it answers.
        Raises what ``record`` raises before queueing (bad field, full queue, closed).
        """
        draft = draft_entry(
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            outcome=outcome,
            subject_kind=subject_kind,
            subject_id=subject_id,
            consent_id=consent_id,
            interaction_id=interaction_id,
            reason=reason,
            detail=detail,
        )
        pending = _Pending(draft)
        held: list[_Pending] | None = getattr(self._held, "pendings", None)
        with self._condition:
            if self._closed:
                raise AuditLogClosed("the audit log is closed")
            if len(self._waiting) + (0 if held is None else len(held)) >= self._queue_max:
                raise LimitExceeded(
                    f"{self._queue_max} audit entries are already waiting to be written",
                    code="audit_queue_full",
                )
            if held is None:
                self._waiting.append(pending)
                self._condition.notify()
            else:
                held.append(pending)
        return AuditReceipt(pending, self)

    @contextmanager
    def together(self) -> Iterator[None]:
        """Entries this thread ``submit``s inside the block join the writer's queue together
        when it ends, whether it returned or raised: one append where there would be one
        per entry. Waiting for one of them inside the block hands them over first; an
        inner block is part of the outer one."""
        if getattr(self._held, "pendings", None) is not None:
            yield
            return
        self._held.pendings = []
        try:
            yield
        finally:
            self._release_held(None)

    def _release_held(self, pending: _Pending | None) -> None:
        """Hand this thread's held entries to the writer (when ``pending`` is None or one of
        them); the thread holds no more after it. Closed meanwhile: they fail."""
        held: list[_Pending] | None = getattr(self._held, "pendings", None)
        if held is None or (pending is not None and pending not in held):
            return
        self._held.pendings = None
        if not held:
            return
        with self._condition:
            if not self._closed:
                self._waiting.extend(held)
                self._condition.notify()
                return
        for entry in held:
            entry.fail(AuditLogClosed("the audit log closed before the entry was handed to its writer"))

    def record_many(self, entries: Sequence[Mapping[str, Any]]) -> list[AuditEntry]:
        """Append several entries (each given as ``record``'s keyword arguments) and wait once.

        The entries join the writer's queue together, keep their order, and
        are returned once committed; a batch costs one wait instead of one
        per entry. Raises what ``record`` raises; a bad field refuses the
        whole call before anything is queued.
        """
        pendings = [_Pending(draft_entry(**dict(fields))) for fields in entries]
        if not pendings:
            return []
        self._release_held(None)  # after what this thread submitted before, in order
        with self._condition:
            if self._closed:
                raise AuditLogClosed("the audit log is closed")
            if len(self._waiting) + len(pendings) > self._queue_max:
                raise LimitExceeded(
                    f"{self._queue_max} audit entries are already waiting to be written",
                    code="audit_queue_full",
                )
            self._waiting.extend(pendings)
            self._condition.notify()
        return [pending.wait() for pending in pendings]

    @property
    def queue_depth(self) -> int:
        """Entries waiting for the writer (not counting the batch being written)."""
        with self._condition:
            return len(self._waiting)

    @property
    def in_flight(self) -> int:
        """Entries the writer has taken and not yet answered (the batch being written)."""
        return len(self._in_flight)

    def close(self) -> None:
        """Write everything already queued, then stop the writer. Idempotent."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if threading.current_thread() is not self._writer:
            self._writer.join()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _write_loop(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._in_flight = batch
                self._write_batch(batch)
                self._in_flight = []
        except BaseException as error:
            # A bug: the waiting callers must not hang on it, and it must not go quiet.
            self._stop_after_crash(error)
            raise
        finally:
            self._store.close()

    def _next_batch(self) -> list[_Pending] | None:
        with self._condition:
            while not self._waiting and not self._closed:
                self._condition.wait()
            if not self._waiting:
                return None
            count = min(len(self._waiting), self._batch_max)
            return [self._waiting.popleft() for _ in range(count)]

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            entries = self._append(batch)
        except sa.exc.SQLAlchemyError as error:
            # The transaction rolled back as a whole: no entry of this batch exists.
            for pending in batch:
                pending.fail(error)
            return
        for pending, entry in zip(batch, entries, strict=True):
            pending.succeed(entry)

    def _append(self, batch: list[_Pending]) -> list[AuditEntry]:
        """Seal and write one batch; on PostgreSQL in one statement when the head is as last
        seen. When another process moved the head first, the batch is sealed again after it
        and takes along the entries queued meanwhile (``batch`` grows): the retry costs a
        statement either way, and what it carries no later append has to."""
        head = self._head
        self._head = None  # unknown until this append's outcome is
        drafts = [pending.draft for pending in batch]
        details = [draft.detail_json for draft in drafts]
        attempts = 0
        while head is not None and attempts < OPTIMISTIC_APPENDS_MAX:
            attempts += 1
            entries = self._seal(drafts, head)
            appended = self._store.append_if_head(head, entries, details)
            if appended.ok:
                self._head = _head_after(entries)
                return entries
            head = appended.seen  # another process appended: seal again after what it wrote
            for pending in self._queued_meanwhile(len(batch)):
                batch.append(pending)
                drafts.append(pending.draft)
                details.append(pending.draft.detail_json)
        entries = self._append_locked(drafts)
        if self._store.appends_in_one_statement:
            self._head = _head_after(entries)
        return entries

    def _queued_meanwhile(self, taken: int) -> list[_Pending]:
        with self._condition:
            count = min(len(self._waiting), self._batch_max - taken)
            return [self._waiting.popleft() for _ in range(count)]

    def _seal(self, drafts: Sequence[AuditDraft], head: Head) -> list[AuditEntry]:
        # One time for the batch, never before the last entry's: time follows seq.
        at_ns = max(self._clock.now_ns(), head.at_ns)
        seq, prev_hash = head.seq, head.chain_hash
        entries: list[AuditEntry] = []
        for draft in drafts:
            seq += 1
            entry = seal(draft, seq=seq, entry_id=self._ids.new_id(), at_ns=at_ns, prev_hash=prev_hash)
            entries.append(entry)
            prev_hash = entry.entry_hash
        return entries

    def _append_locked(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        with self._store.append_transaction() as transaction:
            head = transaction.lock_head()
            if head is None:
                raise InvariantViolation("audit_head has no row; the log was not seeded")
            entries = self._seal(drafts, head)
            transaction.append(entries, [draft.detail_json for draft in drafts])
        return entries

    def _stop_after_crash(self, error: BaseException) -> None:
        with self._condition:
            self._closed = True
            stranded = [*self._in_flight, *self._waiting]
            self._waiting.clear()
        crash = error if isinstance(error, InvariantViolation) else InvariantViolation(repr(error))
        for pending in stranded:
            pending.fail(crash)

    # --- reading ----------------------------------------------------------

    def query(
        self,
        *,
        actor_id: str | None = None,
        actor_kind: str | None = None,
        action: str | None = None,
        subject_id: str | None = None,
        consent_id: str | None = None,
        outcome: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> AuditPage:
        """Entries that meet every given condition, oldest first (ascending seq).

        ``since_ns`` is inclusive and ``until_ns`` exclusive. ``cursor`` is the
        ``next_cursor`` of the page before; it holds a position only, so the
        same conditions must be passed again. Raises LimitExceeded
        ``audit_page_limit_exceeded`` above ``QUERY_LIMIT_MAX``, InvalidInput
        ``audit_page_limit_invalid``, ``audit_cursor_invalid``,
        ``audit_time_invalid`` or a field code for a bad condition.
        """
        if type(limit) is not int or limit < 1:
            raise InvalidInput("limit must be a positive integer", code="audit_page_limit_invalid")
        if limit > QUERY_LIMIT_MAX:
            raise LimitExceeded(f"limit must be at most {QUERY_LIMIT_MAX}", code="audit_page_limit_exceeded")
        conditions = AuditFilter(
            actor_id=_optional(check_text, "actor_id", actor_id, ACTOR_ID_LENGTH_MAX),
            actor_kind=None if actor_kind is None else check_actor_kind(actor_kind),
            action=_optional(check_text, "action", action, ACTION_LENGTH_MAX),
            subject_id=_optional(check_text, "subject_id", subject_id, SUBJECT_ID_LENGTH_MAX),
            consent_id=_optional(check_text, "consent_id", consent_id, CONSENT_ID_LENGTH_MAX),
            outcome=None if outcome is None else check_outcome(outcome),
            since_ns=_check_time("since_ns", since_ns),
            until_ns=_check_time("until_ns", until_ns),
        )
        after_seq = 0 if cursor is None else decode_cursor(cursor)
        rows = self._store.select_rows(conditions, after_seq=after_seq, limit=limit + 1)
        entries = tuple(_entry_or_crash(row) for row in rows[:limit])
        next_cursor = encode_cursor(entries[-1].seq) if len(rows) > limit else None
        return AuditPage(entries=entries, next_cursor=next_cursor)

    def verify(self, progress: Callable[[int], None] | None = None) -> AuditVerifyReport:
        """Recompute every leaf and chain hash in seq order and compare the head.

        Entries appended while it runs are not checked (it stops at the head
        it read first). ``progress(entries_done)`` is called after each chunk
        of ``VERIFY_CHUNK_ROWS`` entries.
        """
        return _Verification(self._store, progress).run()


def _head_after(entries: Sequence[AuditEntry]) -> Head:
    last = entries[-1]
    return Head(last.seq, last.entry_hash, last.at_ns)


def _check_setting(name: str, value: int, value_max: int) -> None:
    if type(value) is not int or not 1 <= value <= value_max:
        raise ConfigurationError(
            f"{name} must be an integer from 1 to {value_max}", code=f"audit_{name}_invalid"
        )


def _optional(
    check: Callable[[str, object, int], str], name: str, value: str | None, size: int
) -> str | None:
    return None if value is None else check(name, value, size)


def _check_time(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= INT64_MAX:
        raise InvalidInput(f"{name} must be nanoseconds since the epoch", code="audit_time_invalid")
    return value


def _entry_or_crash(row: sa.Row[Any]) -> AuditEntry:
    try:
        return entry_from_row(row)
    except (ValueError, TypeError) as error:
        # Only a write behind the log's back produces such a row; verify() names it.
        raise InvariantViolation(f"audit_log row {row.seq} is malformed: {error}") from error


class _Verification:
    """One pass over the log, stopping at the first problem."""

    def __init__(self, store: AuditStore, progress: Callable[[int], None] | None) -> None:
        self._store = store
        self._progress = progress
        self._checked = 0
        self._chain = GENESIS_HASH
        self._at_ns = 0

    def run(self) -> AuditVerifyReport:
        head = self._store.read_head()
        if head is None:
            return self._bad(None, "head_missing", "audit_head has no row")
        after_seq = 0
        while after_seq < head.seq:
            rows = self._store.select_rows(
                AuditFilter(), after_seq=after_seq, limit=VERIFY_CHUNK_ROWS, through_seq=head.seq
            )
            if not rows:
                break
            for row in rows:
                problem = self._check(row)
                if problem is not None:
                    return problem
            after_seq = int(rows[-1].seq)
            if self._progress is not None:
                self._progress(self._checked)
        if self._checked != head.seq:
            missing = self._checked + 1
            return self._bad(
                missing, "entry_missing", f"the head is at {head.seq} but entry {missing} is gone"
            )
        beyond = self._store.first_seq_beyond_head()
        if beyond is not None:
            return self._bad(beyond, "entry_beyond_head", f"entry {beyond} lies beyond the head {head.seq}")
        if self._chain != head.chain_hash:
            return self._bad(head.seq, "head_mismatch", "audit_head's chain hash is not the last entry's")
        return AuditVerifyReport(ok=True, entries=self._checked, first_bad_seq=None, problem=None)

    def _check(self, row: sa.Row[Any]) -> AuditVerifyReport | None:
        expected = self._checked + 1
        if row.seq != expected:
            return self._bad(
                expected, "seq_not_contiguous", f"entry {expected} is missing; {row.seq} follows"
            )
        try:
            entry = entry_from_row(row)
        except (ValueError, TypeError) as error:
            return self._bad(expected, "row_malformed", str(error))
        if entry.prev_hash != self._chain:
            return self._bad(expected, "prev_hash_mismatch", "prev_hash is not the entry before's hash")
        if entry_hash_of(entry, self._chain) != entry.entry_hash:
            return self._bad(expected, "entry_hash_mismatch", "the entry's hash does not match its fields")
        if entry.at_ns < self._at_ns:
            return self._bad(expected, "time_went_backwards", "at_ns is before the entry before's")
        self._chain, self._at_ns, self._checked = entry.entry_hash, entry.at_ns, expected
        return None

    def _bad(self, seq: int | None, problem: str, message: str) -> AuditVerifyReport:
        return AuditVerifyReport(
            ok=False, entries=self._checked, first_bad_seq=seq, problem=problem, message=message
        )
