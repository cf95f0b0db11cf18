"""Persistence of the audit log: two tables, append-only guards, one writer lock.

``audit_log`` holds the entries; ``audit_head`` holds one row (``id = 1``) with
the last sequence number, chain hash and time. Every append first locks the
head row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``,
which takes the database write lock), so appends from any number of
processes form one linear chain. Triggers from ``append_only_guards`` refuse
UPDATE and DELETE on ``audit_log`` and any rewind of the head. The DDL holds
no ``%`` and no ``:name``, so it runs unchanged through a DB-API cursor,
``exec_driver_sql`` or Alembic's ``op.execute``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from netfin.audit.model import (
    ACTION_LENGTH_MAX,
    ACTOR_ID_LENGTH_MAX,
    ACTOR_KIND_LENGTH_MAX,
    CONSENT_ID_LENGTH_MAX,
    GENESIS_HASH,
    HASH_BYTES,
    INTERACTION_ID_LENGTH_MAX,
    OUTCOME_LENGTH_MAX,
    REASON_LENGTH_MAX,
    SUBJECT_ID_LENGTH_MAX,
    SUBJECT_KIND_LENGTH_MAX,
    AuditEntry,
    AuditFilter,
    DetailValue,
)
from netfin.core.errors import ConfigurationError, InvariantViolation
from netfin.storage import metadata
from netfin.storage.bulk import insert_rows, rows_document

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
# How long an append waits for another writer's head lock before it fails
# (PostgreSQL; SQLite waits for its busy_timeout, also 30 s).
HEAD_LOCK_TIMEOUT_MS = 30_000
_HEAD_ID = 1

# On SQLite an INTEGER primary key is the rowid itself, which saves an index.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
    sa.Column("entry_id", sa.LargeBinary(16), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("actor_kind", sa.String(ACTOR_KIND_LENGTH_MAX), nullable=False),
    sa.Column("actor_id", sa.String(ACTOR_ID_LENGTH_MAX), nullable=False),
    sa.Column("action", sa.String(ACTION_LENGTH_MAX), nullable=False),
    sa.Column("outcome", sa.String(OUTCOME_LENGTH_MAX), nullable=False),
    sa.Column("subject_kind", sa.String(SUBJECT_KIND_LENGTH_MAX), nullable=False),
    sa.Column("subject_id", sa.String(SUBJECT_ID_LENGTH_MAX), nullable=False),
    sa.Column("consent_id", sa.String(CONSENT_ID_LENGTH_MAX), nullable=True),
    sa.Column("interaction_id", sa.String(INTERACTION_ID_LENGTH_MAX), nullable=True),
    sa.Column("reason", sa.String(REASON_LENGTH_MAX), nullable=True),
    # The canonical JSON of ``detail`` (orjson, sorted keys), as text.
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.LargeBinary(HASH_BYTES), nullable=False),
    sa.Column("entry_hash", sa.LargeBinary(HASH_BYTES), nullable=False),
    # Each index ends in seq so that a filtered page is one ordered index range.
    sa.Index("ix_audit_log_actor_id_seq", "actor_id", "seq"),
    sa.Index("ix_audit_log_consent_id_seq", "consent_id", "seq"),
    sa.Index("ix_audit_log_subject_id_seq", "subject_id", "seq"),
    sa.Index("ix_audit_log_action_seq", "action", "seq"),
    sa.Index("ix_audit_log_at_ns", "at_ns"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("chain_hash", sa.LargeBinary(HASH_BYTES), nullable=False),
    # The time of the last entry: appends never go back in time, even across processes.
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint(f"id = {_HEAD_ID}", name="single_row"),
)

AUDIT_TABLES = (audit_log, audit_head)

_SQLITE_GUARDS = [
    "CREATE TRIGGER audit_log_refuse_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_refuse_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
    "CREATE TRIGGER audit_head_refuse_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END",
    "CREATE TRIGGER audit_head_refuse_rewind BEFORE UPDATE ON audit_head "
    "WHEN NEW.seq < OLD.seq OR NEW.id <> OLD.id "
    "BEGIN SELECT RAISE(ABORT, 'audit_head cannot move backwards'); END",
]
_SQLITE_GUARDS_REMOVAL = [
    "DROP TRIGGER IF EXISTS audit_log_refuse_update",
    "DROP TRIGGER IF EXISTS audit_log_refuse_delete",
    "DROP TRIGGER IF EXISTS audit_head_refuse_delete",
    "DROP TRIGGER IF EXISTS audit_head_refuse_rewind",
]
_POSTGRESQL_GUARDS = [
    "CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION USING MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused', "
    "ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER audit_log_refuse_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()",
    "CREATE TRIGGER audit_log_refuse_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
    "CREATE OR REPLACE FUNCTION audit_head_refuse_rewind() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN IF TG_OP <> 'UPDATE' OR NEW.seq < OLD.seq OR NEW.id <> OLD.id THEN "
    "RAISE EXCEPTION 'audit_head cannot be deleted or moved backwards' "
    "USING ERRCODE = 'restrict_violation'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER audit_head_refuse_rewind BEFORE UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_refuse_rewind()",
    "CREATE TRIGGER audit_head_refuse_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_refuse_rewind()",
]
_POSTGRESQL_GUARDS_REMOVAL = [
    "DROP TRIGGER IF EXISTS audit_log_refuse_change ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_refuse_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_head_refuse_rewind ON audit_head",
    "DROP TRIGGER IF EXISTS audit_head_refuse_truncate ON audit_head",
    "DROP FUNCTION IF EXISTS audit_log_refuse_change()",
    "DROP FUNCTION IF EXISTS audit_head_refuse_rewind()",
]


def _check_dialect(dialect_name: str) -> None:
    if dialect_name not in SUPPORTED_DIALECTS:
        raise ConfigurationError(
            f"the audit log runs on {', '.join(SUPPORTED_DIALECTS)}, not {dialect_name!r}",
            code="audit_dialect_unsupported",
        )


def append_only_guards(dialect_name: str) -> list[str]:
    """DDL that makes ``audit_log`` append-only and ``audit_head`` move only forwards.

    Run each statement once, after the tables exist (the platform migration does).
    """
    _check_dialect(dialect_name)
    return list(_SQLITE_GUARDS if dialect_name == "sqlite" else _POSTGRESQL_GUARDS)


def append_only_guards_removal(dialect_name: str) -> list[str]:
    """DDL that removes the guards again (a migration's downgrade)."""
    _check_dialect(dialect_name)
    return list(_SQLITE_GUARDS_REMOVAL if dialect_name == "sqlite" else _POSTGRESQL_GUARDS_REMOVAL)


def seed_head(connection: sa.Connection) -> None:
    """Insert the genesis head row unless it exists; safe to run from many processes at once."""
    values = {"id": _HEAD_ID, "seq": 0, "chain_hash": GENESIS_HASH, "at_ns": 0}
    dialect_name = connection.dialect.name
    _check_dialect(dialect_name)
    insert = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    connection.execute(insert(audit_head).values(values).on_conflict_do_nothing(index_elements=["id"]))


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    chain_hash: bytes
    at_ns: int


_HEAD_COLUMNS = (audit_head.c.seq, audit_head.c.chain_hash, audit_head.c.at_ns)
_LOCK_HEAD = sa.select(*_HEAD_COLUMNS).where(audit_head.c.id == _HEAD_ID).with_for_update()
_READ_HEAD = sa.select(*_HEAD_COLUMNS).where(audit_head.c.id == _HEAD_ID)
_MOVE_HEAD = (
    sa.update(audit_head)
    .where(audit_head.c.id == _HEAD_ID)
    .values(
        seq=sa.bindparam("new_seq"),
        chain_hash=sa.bindparam("new_chain_hash"),
        at_ns=sa.bindparam("new_at_ns"),
    )
)
# The lowest seq above the head, in one statement and therefore one snapshot.
_BEYOND_HEAD = sa.select(sa.func.min(audit_log.c.seq)).where(
    audit_log.c.seq > sa.select(audit_head.c.seq).where(audit_head.c.id == _HEAD_ID).scalar_subquery()
)


class AuditAppend:
    """One append transaction, holding the head lock until it commits or rolls back."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def lock_head(self) -> Head | None:
        row = self._connection.execute(_LOCK_HEAD).one_or_none()
        return None if row is None else Head(int(row[0]), bytes(row[1]), int(row[2]))

    def append(self, entries: Sequence[AuditEntry], details_json: Sequence[str]) -> None:
        """Insert the entries (COPY on PostgreSQL) and move the head to the last of them."""
        rows = [_entry_row(entry, detail) for entry, detail in zip(entries, details_json, strict=True)]
        insert_rows(self._connection, audit_log, rows)
        last = entries[-1]
        self._connection.execute(
            _MOVE_HEAD, {"new_seq": last.seq, "new_chain_hash": last.entry_hash, "new_at_ns": last.at_ns}
        )


_ENTRY_NAMES = ", ".join(column.name for column in audit_log.columns)
# One statement, one round trip, one implicit transaction (the batch travels as one JSON
# document, ``bulk.rows_document``): move the head from the state this
# writer last saw to the batch's last entry and insert the batch, or do neither when another
# writer moved the head meanwhile. ``head`` takes the head's row lock first (waiting for a
# writer whose append is in flight) and, under READ COMMITTED, then reads the row as that
# writer committed it; the UPDATE goes ahead only when that row is the head the batch was
# sealed after, and the INSERT only when the UPDATE did. The statement answers with the head
# it locked, so a writer that lost the race seals its batch again after the head that beat it
# (not after the one its snapshot saw, which a lock wait leaves stale) and, unless yet another
# append lands in between, wins the next try.
_PG_APPEND_IF_HEAD = (
    "WITH head AS (SELECT seq, chain_hash, at_ns FROM audit_head WHERE id = 1 FOR UPDATE), "
    "moved AS (UPDATE audit_head AS h SET seq = %(new_seq)s, chain_hash = %(new_hash)s, "
    "at_ns = %(new_at_ns)s FROM head WHERE h.id = 1 AND head.seq = %(old_seq)s "
    "AND head.chain_hash = %(old_hash)s RETURNING h.id), "
    f"inserted AS (INSERT INTO audit_log ({_ENTRY_NAMES}) SELECT {_ENTRY_NAMES} "
    "FROM json_populate_recordset(NULL::audit_log, %(rows)s::json) "
    "WHERE EXISTS (SELECT 1 FROM moved) RETURNING 1) "
    "SELECT (SELECT count(*) FROM inserted), seq, chain_hash, at_ns FROM head"
)


class Appended(NamedTuple):
    """What ``append_if_head`` did: ``ok`` when it appended; otherwise ``seen``, the head its
    statement found instead (``None`` when it found no head row)."""

    ok: bool
    seen: Head | None


class _PostgresAppender:
    """The writer thread's own autocommit connection for ``append_if_head`` (PostgreSQL only).

    Taken out of the pool for good (no checkout, pre-ping or reset per batch);
    dropped after any error and opened again on the next batch.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._connection: Any = None

    def append_if_head(
        self, head: Head, entries: Sequence[AuditEntry], details_json: Sequence[str]
    ) -> Appended:
        import psycopg

        last = entries[-1]
        rows = [_entry_row(e, d) for e, d in zip(entries, details_json, strict=True)]
        document = rows_document(audit_log, rows)
        if document is None:  # pragma: no cover - every audit column has a JSON form
            raise InvariantViolation("an audit entry has a value without a JSON form")
        params: dict[str, Any] = {
            "rows": document, "new_seq": last.seq, "new_hash": last.entry_hash,
            "new_at_ns": last.at_ns, "old_seq": head.seq, "old_hash": head.chain_hash,
        }  # fmt: skip
        try:
            connection = self._open()
            with connection.cursor() as cursor:
                cursor.execute(_PG_APPEND_IF_HEAD, params)
                row = cursor.fetchone()
        except psycopg.Error as error:
            self.close()
            raise sa.exc.DBAPIError(_PG_APPEND_IF_HEAD, None, error) from error
        if row is None:  # no head row: the log was not seeded; the locked path says so
            return Appended(False, None)
        inserted = int(row[0])
        if inserted not in (0, len(entries)):
            raise InvariantViolation(f"an audit append inserted {inserted} of {len(entries)} entries")
        if inserted:
            return Appended(True, None)
        return Appended(False, Head(int(row[1]), bytes(row[2]), int(row[3])))

    def _open(self) -> Any:
        if self._connection is None:
            pooled = self._engine.raw_connection()
            driver = pooled.driver_connection
            pooled.detach()  # closing it closes the socket instead of returning it to the pool
            if driver is None:  # pragma: no cover - a fresh raw connection always has one
                raise InvariantViolation("the pool gave a connection without a driver connection")
            driver.autocommit = True
            driver.execute(f"SET lock_timeout = {HEAD_LOCK_TIMEOUT_MS}")
            self._connection = driver
        return self._connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _entry_row(entry: AuditEntry, detail_json: str) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "entry_id": entry.entry_id.to_bytes(16, "big"),
        "at_ns": entry.at_ns,
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "outcome": entry.outcome,
        "subject_kind": entry.subject_kind,
        "subject_id": entry.subject_id,
        "consent_id": entry.consent_id,
        "interaction_id": entry.interaction_id,
        "reason": entry.reason,
        "detail": detail_json,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def entry_from_row(row: sa.Row[Any]) -> AuditEntry:
    """Rebuild an entry from its row; ValueError or TypeError when the row is malformed."""
    detail: Any = orjson.loads(row.detail)
    if not isinstance(detail, dict):
        raise TypeError(f"audit_log row {row.seq}: detail is not a JSON object")
    typed_detail: dict[str, DetailValue] = detail
    return AuditEntry(
        seq=int(row.seq),
        entry_id=int.from_bytes(row.entry_id, "big"),
        at_ns=int(row.at_ns),
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        outcome=row.outcome,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        consent_id=row.consent_id,
        interaction_id=row.interaction_id,
        reason=row.reason,
        detail=typed_detail,
        prev_hash=bytes(row.prev_hash),
        entry_hash=bytes(row.entry_hash),
    )


class AuditStore:
    """The audit tables on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        _check_dialect(engine.dialect.name)
        self.engine = engine
        self.dialect_name = engine.dialect.name
        self._appender = _PostgresAppender(engine) if self.dialect_name == "postgresql" else None

    @property
    def appends_in_one_statement(self) -> bool:
        """Whether ``append_if_head`` is available (PostgreSQL)."""
        return self._appender is not None

    def append_if_head(
        self, head: Head, entries: Sequence[AuditEntry], details_json: Sequence[str]
    ) -> Appended:
        """Append ``entries`` (sealed after ``head``) and move the head, in one statement.

        Returns ``Appended(False, seen)``, having written nothing, when the head
        is no longer ``head`` (another writer appended; ``seen`` is the head the
        statement found); raises ``sa.exc.DBAPIError`` when the statement failed
        (nothing written) or its outcome is unknown.
        """
        if self._appender is None:
            raise ConfigurationError("append_if_head needs PostgreSQL", code="audit_dialect_unsupported")
        return self._appender.append_if_head(head, entries, details_json)

    def close(self) -> None:
        """Close the writer's own connection (the pooled ones belong to the engine)."""
        if self._appender is not None:
            self._appender.close()

    def seed_head(self) -> None:
        with self.engine.begin() as connection:
            seed_head(connection)

    @contextmanager
    def append_transaction(self) -> Iterator[AuditAppend]:
        """Commit when the block ends normally; roll back, writing nothing, when it raises."""
        with self.engine.connect() as connection:
            # On SQLite the platform engine begins every transaction with BEGIN
            # IMMEDIATE (netfin.storage.engine), so the write lock is taken first.
            if self.dialect_name != "sqlite":
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {HEAD_LOCK_TIMEOUT_MS}")
            try:
                yield AuditAppend(connection)
                connection.commit()
            except BaseException:
                # Discard the DB-API connection rather than return it to the pool: after a
                # failed COMMIT (a deferred constraint) SQLite keeps the transaction open,
                # and the pool, believing it ended, would hand it out with the rows inside.
                connection.invalidate()
                raise

    def read_head(self) -> Head | None:
        with self.engine.connect() as connection:
            row = connection.execute(_READ_HEAD).one_or_none()
        return None if row is None else Head(int(row[0]), bytes(row[1]), int(row[2]))

    def first_seq_beyond_head(self) -> int | None:
        with self.engine.connect() as connection:
            value = connection.execute(_BEYOND_HEAD).scalar()
        return None if value is None else int(value)

    def select_rows(
        self, conditions: AuditFilter, *, after_seq: int, limit: int, through_seq: int | None = None
    ) -> list[sa.Row[Any]]:
        """Rows with ``seq > after_seq`` that meet every condition, oldest first."""
        where = _where(conditions)
        if through_seq is not None:
            where.append(audit_log.c.seq <= through_seq)
        statement = (
            sa.select(audit_log)
            .where(audit_log.c.seq > after_seq, *where)
            .order_by(audit_log.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(statement))


def _where(conditions: AuditFilter) -> list[sa.ColumnElement[bool]]:
    columns = audit_log.c
    where: list[sa.ColumnElement[bool]] = []
    equal = (
        (columns.actor_id, conditions.actor_id),
        (columns.actor_kind, conditions.actor_kind),
        (columns.action, conditions.action),
        (columns.subject_id, conditions.subject_id),
        (columns.consent_id, conditions.consent_id),
        (columns.outcome, conditions.outcome),
    )
    where.extend(column == value for column, value in equal if value is not None)
    if conditions.since_ns is not None:
        where.append(columns.at_ns >= conditions.since_ns)
    if conditions.until_ns is not None:
        where.append(columns.at_ns < conditions.until_ns)
    return where
