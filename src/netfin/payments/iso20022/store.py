"""Tables of received ISO 20022 messages and of the transactions they booked.

``iso20022_messages`` holds one row per (sender, MsgId): the primary key is
what refuses a second file with the same MsgId from the same sender, also
when two imports race (the second insert fails on the key, whichever
commits first). A row is written with status ``booking`` before any order
exists and becomes ``booked`` with its counts and totals once every
transaction has an outcome.

``iso20022_transactions`` holds one row per credit transfer of a booked
file: its ids in the file, its outcome (ISO status and reason), the payment
order it became (none when it was refused before becoming one), the ledger
transfer that moved the money, and the parts of the instruction that a
payment order does not keep (creditor name and agent, remittance) for the
pacs.008 and camt.053 written later.

Public names: ``iso20022_messages``, ``iso20022_transactions``, ``TABLES``,
``StoredMessageIdRegistry``, ``MessageRow``, ``register_message``,
``load_message``, ``reclaim_message``, ``finish_message``,
``insert_transactions``, ``transactions_by_order``, ``transactions_by_transfer``,
``STATUS_BOOKING``, ``STATUS_BOOKED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import Clock
from netfin.storage import metadata

STATUS_BOOKING = "booking"
STATUS_BOOKED = "booked"
# Ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_IN_LIST_MAX = 500

iso20022_messages = sa.Table(
    "iso20022_messages",
    metadata,
    sa.Column("sender", sa.String(140), primary_key=True),
    sa.Column("message_id", sa.String(35), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("message_name", sa.String(32), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("party_id", sa.LargeBinary(16), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("received_ns", sa.BigInteger, nullable=False),
    sa.Column("finished_ns", sa.BigInteger, nullable=True),
    sa.Column("transactions", sa.Integer, nullable=False),
    sa.Column("settled", sa.Integer, nullable=False),
    sa.Column("in_process", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
    # {"EUR": {"instructed_minor": .., "settled_minor": .., "rejected_minor": ..}}: integers only.
    sa.Column("totals", sa.JSON, nullable=False),
    sa.Column("report_message_id", sa.String(35), nullable=True),
    sa.Index("ix_iso20022_messages_status_received_ns", "status", "received_ns"),
)

iso20022_transactions = sa.Table(
    "iso20022_transactions",
    metadata,
    sa.Column("sender", sa.String(140), primary_key=True),
    sa.Column("message_id", sa.String(35), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # position in the file, from 0
    sa.Column("payment_information_id", sa.String(35), nullable=False),
    sa.Column("end_to_end_id", sa.String(35), nullable=False),
    sa.Column("instruction_id", sa.String(35), nullable=True),
    sa.Column("uetr", sa.String(36), nullable=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(4), nullable=False),  # ISO status: ACSC, ACSP or RJCT
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("order_id", sa.String(40), nullable=True, index=True),
    sa.Column("transfer_id", sa.LargeBinary(16), nullable=True, index=True),
    sa.Column("debtor_agent_bic", sa.String(11), nullable=True),
    sa.Column("creditor_name", sa.String(140), nullable=True),
    sa.Column("creditor_iban", sa.String(34), nullable=True),
    sa.Column("creditor_agent_bic", sa.String(11), nullable=True),
    sa.Column("charge_bearer", sa.String(4), nullable=True),
    sa.Column("remittance", sa.String(140), nullable=True),
    sa.Column("creditor_reference", sa.String(35), nullable=True),
)

TABLES = (iso20022_messages, iso20022_transactions)


def b16(value: int) -> bytes:
    return value.to_bytes(16, "big")


@dataclass(frozen=True, slots=True)
class MessageRow:
    """What is stored about one received message."""

    sender: str
    message_id: str
    kind: str
    message_name: str
    digest: str
    party_id: int | None
    status: str
    received_ns: int
    finished_ns: int | None
    transactions: int
    settled: int
    in_process: int
    rejected: int
    totals: dict[str, dict[str, int]]
    report_message_id: str | None


def _message_from_row(r: sa.Row[Any]) -> MessageRow:
    return MessageRow(
        sender=r.sender,
        message_id=r.message_id,
        kind=r.kind,
        message_name=r.message_name,
        digest=r.digest,
        party_id=None if r.party_id is None else int.from_bytes(r.party_id, "big"),
        status=r.status,
        received_ns=r.received_ns,
        finished_ns=r.finished_ns,
        transactions=r.transactions,
        settled=r.settled,
        in_process=r.in_process,
        rejected=r.rejected,
        totals=dict(r.totals),
        report_message_id=r.report_message_id,
    )


def register_message(
    engine: sa.Engine,
    *,
    sender: str,
    message_id: str,
    kind: str,
    message_name: str,
    digest: str,
    party_id: int | None,
    transactions: int,
    received_ns: int,
) -> bool:
    """Insert the message's row (status ``booking``) in its own transaction.

    False when (sender, message_id) is there already: the primary key decides,
    so of two concurrent imports of one MsgId exactly one registers it.
    """
    values: dict[str, Any] = {
        "sender": sender,
        "message_id": message_id,
        "kind": kind,
        "message_name": message_name,
        "digest": digest,
        "party_id": None if party_id is None else b16(party_id),
        "status": STATUS_BOOKING,
        "received_ns": received_ns,
        "finished_ns": None,
        "transactions": transactions,
        "settled": 0,
        "in_process": 0,
        "rejected": 0,
        "totals": {},
        "report_message_id": None,
    }
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(iso20022_messages), [values])
    except sa.exc.IntegrityError:
        return False
    return True


def load_message(engine: sa.Engine, sender: str, message_id: str) -> MessageRow | None:
    t = iso20022_messages
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(t).where(t.c.sender == sender, t.c.message_id == message_id)
        ).first()
    return None if row is None else _message_from_row(row)


def reclaim_message(engine: sa.Engine, found: MessageRow, *, now_ns: int) -> bool:
    """Take over a message left ``booking`` (compare-and-set on its ``received_ns``).

    True for exactly one of several callers that saw the same stale row.
    """
    t = iso20022_messages
    with engine.begin() as connection:
        changed = connection.execute(
            sa.update(t)
            .where(
                t.c.sender == found.sender,
                t.c.message_id == found.message_id,
                t.c.status == STATUS_BOOKING,
                t.c.received_ns == found.received_ns,
            )
            .values(received_ns=now_ns)
        ).rowcount
    return bool(changed == 1)


def finish_message(
    engine: sa.Engine,
    *,
    sender: str,
    message_id: str,
    counts: dict[str, int],
    totals: dict[str, dict[str, int]],
    report_message_id: str,
    transactions: Sequence[dict[str, Any]],
    finished_ns: int,
) -> None:
    """Record every transaction's outcome and mark the message ``booked``, in one transaction."""
    t = iso20022_messages
    with engine.begin() as connection:
        connection.execute(
            sa.delete(iso20022_transactions).where(
                iso20022_transactions.c.sender == sender, iso20022_transactions.c.message_id == message_id
            )
        )
        if transactions:
            _insert_transactions(connection, transactions)
        connection.execute(
            sa.update(t)
            .where(t.c.sender == sender, t.c.message_id == message_id)
            .values(
                status=STATUS_BOOKED,
                finished_ns=finished_ns,
                settled=counts["settled"],
                in_process=counts["in_process"],
                rejected=counts["rejected"],
                totals=totals,
                report_message_id=report_message_id,
            )
        )


def _insert_transactions(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outcome rows; on PostgreSQL with COPY in the same transaction.

    A multi-row INSERT of 10,000 rows of 20 columns spends most of its time
    in the driver rewriting placeholders of the huge statement; COPY sends
    the rows as data.
    """
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(iso20022_transactions), list(rows))
        return
    names = [c.name for c in iso20022_transactions.columns]
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY iso20022_transactions ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[name] for name in names))
    finally:
        cursor.close()


def _rows_where(engine: sa.Engine, column: sa.Column[Any], values: Iterable[Any]) -> list[sa.Row[Any]]:
    wanted = list(dict.fromkeys(values))
    rows: list[sa.Row[Any]] = []
    with engine.connect() as connection:
        for start in range(0, len(wanted), _IN_LIST_MAX):
            query = sa.select(iso20022_transactions).where(column.in_(wanted[start : start + _IN_LIST_MAX]))
            rows.extend(connection.execute(query).all())
    return rows


def transactions_by_order(engine: sa.Engine, order_ids: Iterable[str]) -> dict[str, sa.Row[Any]]:
    """Stored transactions of these payment orders, by order id."""
    return {r.order_id: r for r in _rows_where(engine, iso20022_transactions.c.order_id, order_ids)}


def transactions_by_transfer(engine: sa.Engine, transfer_ids: Iterable[int]) -> dict[int, sa.Row[Any]]:
    """Stored transactions whose money moved in these ledger transfers, by transfer id."""
    rows = _rows_where(engine, iso20022_transactions.c.transfer_id, (b16(x) for x in transfer_ids))
    return {int.from_bytes(r.transfer_id, "big"): r for r in rows}


class StoredMessageIdRegistry:
    """A ``MessageIdRegistry`` on ``iso20022_messages`` for ``import_pain001`` callers.

    Registration inserts the row in its own transaction, so a MsgId is
    refused to a second file even when both arrive at once.
    """

    def __init__(self, engine: sa.Engine, *, clock: Clock, kind: str = "pain.001") -> None:
        self.engine = engine
        self.clock = clock
        self.kind = kind

    def register(self, sender: str, message_id: str) -> bool:
        return register_message(
            self.engine,
            sender=sender,
            message_id=message_id,
            kind=self.kind,
            message_name=self.kind,
            digest="",
            party_id=None,
            transactions=0,
            received_ns=self.clock.now_ns(),
        )
