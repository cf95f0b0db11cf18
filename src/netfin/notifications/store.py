"""Tables and queries of event notifications (SQLAlchemy 2 Core, SQLite and PostgreSQL).

Every function takes an open ``Connection`` so the caller decides the
transaction. A claim (of outbox events or of due deliveries) is an
``UPDATE ... WHERE <key in picked> AND <still claimable> RETURNING``; the
still-claimable condition decides who wins, so two dispatchers never claim
the same row on either store. On PostgreSQL the pick is a statement of its
own with ``FOR UPDATE SKIP LOCKED``, so a second dispatcher picks other rows
instead of waiting. (There the pick must not be an ``IN`` subquery of the
``UPDATE``: a generic plan may run it again per row, skip the rows it has just
updated itself, and claim more than the limit.) On SQLite the pick is that
subquery, read under the write lock the ``UPDATE`` takes. Writes whose check
depends on existing rows begin with the write (an ``INSERT`` then a count) so
SQLite takes its write lock first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from netfin.core.ids import id_from_bytes, id_to_bytes
from netfin.notifications.model import (
    CALLBACK_URL_LENGTH_MAX,
    CLIENT_ID_LENGTH_MAX,
    LAST_ERROR_LENGTH_MAX,
    SUBJECT_ID_LENGTH_MAX,
    VERSION_LENGTH_MAX,
    Delivery,
    DeliveryStatus,
    OutboxEvent,
    Subscription,
)
from netfin.storage import metadata

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SUBSCRIPTION_ID_LENGTH_MAX = 40
_CLIENT_LOCK_CONTEXT = b"netfin.notifications.client\x00"

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("client_id", sa.String(CLIENT_ID_LENGTH_MAX), nullable=True),
    sa.Column("subject_kind", sa.String(64), nullable=False),
    sa.Column("subject_id", sa.String(SUBJECT_ID_LENGTH_MAX), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("created_ns", sa.BigInteger(), nullable=False),
    sa.Column("dispatched_ns", sa.BigInteger(), nullable=True),
)
# Only undispatched events are scanned, so the index holds only them.
sa.Index(
    "ix_outbox_undispatched",
    outbox.c.seq,
    sqlite_where=outbox.c.dispatched_ns.is_(None),
    postgresql_where=outbox.c.dispatched_ns.is_(None),
)

event_subscriptions = sa.Table(
    "event_subscriptions",
    metadata,
    sa.Column("subscription_id", sa.String(_SUBSCRIPTION_ID_LENGTH_MAX), primary_key=True),
    sa.Column("client_id", sa.String(CLIENT_ID_LENGTH_MAX), nullable=False, index=True),
    sa.Column("callback_url", sa.String(CALLBACK_URL_LENGTH_MAX), nullable=False),
    sa.Column("version", sa.String(VERSION_LENGTH_MAX), nullable=False),
    sa.Column("event_types", sa.Text(), nullable=True),
    sa.Column("created_ns", sa.BigInteger(), nullable=False),
    sa.Column("updated_ns", sa.BigInteger(), nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("delivery_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("event_seq", _SEQ, nullable=False),
    sa.Column("event_id", sa.LargeBinary(16), nullable=False),
    sa.Column("subscription_id", sa.String(_SUBSCRIPTION_ID_LENGTH_MAX), nullable=False),
    sa.Column("client_id", sa.String(CLIENT_ID_LENGTH_MAX), nullable=False),
    sa.Column("callback_url", sa.String(CALLBACK_URL_LENGTH_MAX), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_ns", sa.BigInteger(), nullable=False),
    sa.Column("last_error", sa.String(LAST_ERROR_LENGTH_MAX), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("created_ns", sa.BigInteger(), nullable=False),
    sa.Column("delivered_ns", sa.BigInteger(), nullable=True),
    sa.Column("replays", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("claim_token", sa.LargeBinary(16), nullable=True),
    sa.Column("claimed_until_ns", sa.BigInteger(), nullable=True),
    sa.UniqueConstraint("event_seq", "subscription_id"),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status_known"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_ns"),
    sa.Index("ix_deliveries_client_status", "client_id", "status", "delivery_id"),
    sa.Index("ix_deliveries_status_id", "status", "delivery_id"),
    sa.Index("ix_deliveries_subscription", "subscription_id", "status"),
)

delivery_replays = sa.Table(
    "delivery_replays",
    metadata,
    sa.Column("replay_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("delivery_id", sa.LargeBinary(16), nullable=False, index=True),
    sa.Column("actor", sa.String(CLIENT_ID_LENGTH_MAX), nullable=False),
    sa.Column("replayed_ns", sa.BigInteger(), nullable=False),
    sa.Column("attempts_before", sa.Integer(), nullable=False),
    sa.Column("last_error_before", sa.String(LAST_ERROR_LENGTH_MAX), nullable=True),
)

TABLES: tuple[sa.Table, ...] = (outbox, event_subscriptions, deliveries, delivery_replays)


# --- outbox -----------------------------------------------------------------


def insert_event(connection: sa.Connection, event: OutboxEvent) -> None:
    connection.execute(outbox.insert().values(**_event_values(event), dispatched_ns=None))


def _event_values(event: OutboxEvent) -> dict[str, Any]:
    return {
        "event_id": id_to_bytes(event.event_id),
        "event_type": event.event_type,
        "client_id": event.client_id,
        "subject_kind": event.subject_kind,
        "subject_id": event.subject_id,
        "payload": orjson.dumps(event.payload).decode(),
        "created_ns": event.created_ns,
    }


# ``insert_event`` as the body of a data-modifying CTE (PostgreSQL); the caller adds its WHERE.
_EVENT_COLUMNS = (
    "event_id", "event_type", "client_id", "subject_kind", "subject_id", "payload", "created_ns",
)  # fmt: skip
INSERT_EVENT_SELECT_SQL = (
    f"INSERT INTO outbox ({', '.join(_EVENT_COLUMNS)}) "
    f"SELECT {', '.join(f'%(event_{name})s' for name in _EVENT_COLUMNS)}"
)


def event_params(event: OutboxEvent) -> dict[str, Any]:
    """The parameters of ``INSERT_EVENT_SELECT_SQL`` for ``event``."""
    return {f"event_{name}": value for name, value in _event_values(event).items()}


def claim_undispatched(connection: sa.Connection, *, now_ns: int, limit: int) -> list[OutboxEvent]:
    """Mark up to ``limit`` undispatched events dispatched and return them, oldest first."""
    oldest = (
        sa.select(outbox.c.seq)
        .where(outbox.c.dispatched_ns.is_(None))
        .order_by(outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    picked = _picked(connection, oldest)
    if picked is None:
        return []
    rows = connection.execute(
        outbox.update()
        .where(outbox.c.seq.in_(picked), outbox.c.dispatched_ns.is_(None))
        .values(dispatched_ns=now_ns)
        .returning(*outbox.c)
    ).all()
    return sorted((_event(row) for row in rows), key=lambda event: event.seq)


def _picked(connection: sa.Connection, candidates: sa.Select[Any]) -> sa.Select[Any] | list[Any] | None:
    """The keys a claim may take: fetched first on PostgreSQL, a subquery on SQLite.

    On SQLite the pick stays inside the claiming ``UPDATE`` so it reads under
    the write lock; picking first there would let two dispatchers pick the
    same rows, and the loser would claim nothing while work remained. None
    means there is nothing to claim.
    """
    if connection.dialect.name != "postgresql":
        return candidates
    keys = list(connection.execute(candidates).scalars())
    return keys or None


def select_event(connection: sa.Connection, event_id: int) -> OutboxEvent | None:
    row = connection.execute(sa.select(outbox).where(outbox.c.event_id == id_to_bytes(event_id))).first()
    return None if row is None else _event(row)


def _event(row: sa.Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        seq=row.seq,
        event_id=id_from_bytes(row.event_id),
        event_type=row.event_type,
        client_id=row.client_id,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        payload=orjson.loads(row.payload),
        created_ns=row.created_ns,
        dispatched_ns=row.dispatched_ns,
    )


# --- subscriptions ----------------------------------------------------------


def lock_client(connection: sa.Connection, client_id: str) -> None:
    """Serialise one client's subscription writes on PostgreSQL (SQLite has one writer)."""
    if connection.dialect.name != "postgresql":
        return
    digest = hashlib.sha256(_CLIENT_LOCK_CONTEXT + client_id.encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def insert_subscription(connection: sa.Connection, subscription: Subscription) -> None:
    connection.execute(
        event_subscriptions.insert().values(
            subscription_id=subscription.subscription_id,
            client_id=subscription.client_id,
            callback_url=subscription.callback_url,
            version=subscription.version,
            event_types=_event_types_text(subscription.event_types),
            created_ns=subscription.created_ns,
            updated_ns=subscription.updated_ns,
        )
    )


def count_subscriptions(connection: sa.Connection, client_id: str) -> int:
    query = sa.select(sa.func.count()).where(event_subscriptions.c.client_id == client_id)
    return int(connection.execute(query).scalar_one())


def select_subscriptions(connection: sa.Connection, client_id: str) -> list[Subscription]:
    rows = connection.execute(
        sa.select(event_subscriptions)
        .where(event_subscriptions.c.client_id == client_id)
        .order_by(event_subscriptions.c.created_ns, event_subscriptions.c.subscription_id)
    )
    return [_subscription(row) for row in rows]


def select_subscription(
    connection: sa.Connection, client_id: str, subscription_id: str
) -> Subscription | None:
    row = connection.execute(
        sa.select(event_subscriptions).where(
            event_subscriptions.c.subscription_id == subscription_id,
            event_subscriptions.c.client_id == client_id,
        )
    ).first()
    return None if row is None else _subscription(row)


def update_subscription(connection: sa.Connection, subscription: Subscription) -> bool:
    """Replace the mutable fields; False when the client owns no such subscription."""
    result = connection.execute(
        event_subscriptions.update()
        .where(
            event_subscriptions.c.subscription_id == subscription.subscription_id,
            event_subscriptions.c.client_id == subscription.client_id,
        )
        .values(
            callback_url=subscription.callback_url,
            version=subscription.version,
            event_types=_event_types_text(subscription.event_types),
            updated_ns=subscription.updated_ns,
        )
    )
    return result.rowcount == 1


def delete_subscription(connection: sa.Connection, client_id: str, subscription_id: str) -> bool:
    result = connection.execute(
        event_subscriptions.delete().where(
            event_subscriptions.c.subscription_id == subscription_id,
            event_subscriptions.c.client_id == client_id,
        )
    )
    return result.rowcount == 1


def subscriptions_for(
    connection: sa.Connection, client_ids: Iterable[str], *, every_client: bool
) -> list[Subscription]:
    """The subscriptions of the named clients, or of every client when ``every_client``."""
    query = sa.select(event_subscriptions).order_by(event_subscriptions.c.subscription_id)
    if not every_client:
        query = query.where(event_subscriptions.c.client_id.in_(sorted(set(client_ids))))
    return [_subscription(row) for row in connection.execute(query)]


def _event_types_text(event_types: tuple[str, ...] | None) -> str | None:
    return None if event_types is None else orjson.dumps(list(event_types)).decode()


def _subscription(row: sa.Row[Any]) -> Subscription:
    return Subscription(
        subscription_id=row.subscription_id,
        client_id=row.client_id,
        callback_url=row.callback_url,
        version=row.version,
        event_types=None if row.event_types is None else tuple(orjson.loads(row.event_types)),
        created_ns=row.created_ns,
        updated_ns=row.updated_ns,
    )


# --- deliveries -------------------------------------------------------------


def insert_deliveries(connection: sa.Connection, rows: Sequence[Delivery]) -> None:
    if not rows:
        return
    connection.execute(
        deliveries.insert(),
        [
            {
                "delivery_id": id_to_bytes(row.delivery_id),
                "event_seq": row.event_seq,
                "event_id": id_to_bytes(row.event_id),
                "subscription_id": row.subscription_id,
                "client_id": row.client_id,
                "callback_url": row.callback_url,
                "status": row.status.value,
                "attempts": row.attempts,
                "next_attempt_ns": row.next_attempt_ns,
                "last_error": row.last_error,
                "last_status_code": row.last_status_code,
                "created_ns": row.created_ns,
                "delivered_ns": row.delivered_ns,
                "replays": row.replays,
            }
            for row in rows
        ],
    )


def claim_due(
    connection: sa.Connection, *, token: bytes, now_ns: int, lease_until_ns: int, limit: int
) -> list[tuple[Delivery, OutboxEvent]]:
    """Lease up to ``limit`` due pending deliveries to ``token``; earliest due first.

    A delivery whose lease has run out (its dispatcher died mid-attempt) is
    due again; one leased to a live dispatcher is not.
    """
    free = sa.or_(deliveries.c.claimed_until_ns.is_(None), deliveries.c.claimed_until_ns <= now_ns)
    due = (deliveries.c.status == DeliveryStatus.PENDING.value, deliveries.c.next_attempt_ns <= now_ns, free)
    candidates = (
        sa.select(deliveries.c.delivery_id)
        .where(*due)
        .order_by(deliveries.c.next_attempt_ns, deliveries.c.delivery_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    picked = _picked(connection, candidates)
    if picked is None:
        return []
    claimed = connection.execute(
        deliveries.update()
        .where(deliveries.c.delivery_id.in_(picked), *due)
        .values(claim_token=token, claimed_until_ns=lease_until_ns)
        .returning(deliveries.c.delivery_id)
    ).all()
    if not claimed:
        return []
    rows = connection.execute(
        sa.select(deliveries, outbox)
        .join(outbox, outbox.c.seq == deliveries.c.event_seq)
        .where(deliveries.c.claim_token == token)
        .order_by(deliveries.c.next_attempt_ns, deliveries.c.delivery_id)
    ).all()
    return [(_delivery(row), _event_from_join(row)) for row in rows]


def _event_from_join(row: sa.Row[Any]) -> OutboxEvent:
    mapping = row._mapping
    return OutboxEvent(
        seq=mapping[outbox.c.seq],
        event_id=id_from_bytes(mapping[outbox.c.event_id]),
        event_type=mapping[outbox.c.event_type],
        client_id=mapping[outbox.c.client_id],
        subject_kind=mapping[outbox.c.subject_kind],
        subject_id=mapping[outbox.c.subject_id],
        payload=orjson.loads(mapping[outbox.c.payload]),
        created_ns=mapping[outbox.c.created_ns],
        dispatched_ns=mapping[outbox.c.dispatched_ns],
    )


def record_outcome(
    connection: sa.Connection, delivery_id: int, *, token: bytes, values: dict[str, Any]
) -> bool:
    """Write an attempt's outcome and end the lease; False if the lease was lost.

    A delivery buried while its attempt was in flight (its subscription was
    deleted) stays dead whatever the attempt's outcome.
    """
    result = connection.execute(
        deliveries.update()
        .where(
            deliveries.c.delivery_id == id_to_bytes(delivery_id),
            deliveries.c.claim_token == token,
            deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(**values, claim_token=None, claimed_until_ns=None)
    )
    return result.rowcount == 1


def release(connection: sa.Connection, delivery_ids: Iterable[int], *, token: bytes) -> int:
    """End the lease on deliveries not attempted, so they are due again at once."""
    keys = [id_to_bytes(delivery_id) for delivery_id in delivery_ids]
    if not keys:
        return 0
    result = connection.execute(
        deliveries.update()
        .where(deliveries.c.delivery_id.in_(keys), deliveries.c.claim_token == token)
        .values(claim_token=None, claimed_until_ns=None)
    )
    return int(result.rowcount)


def select_delivery(connection: sa.Connection, delivery_id: int) -> Delivery | None:
    row = connection.execute(
        sa.select(deliveries).where(deliveries.c.delivery_id == id_to_bytes(delivery_id))
    ).first()
    return None if row is None else _delivery(row)


def select_deliveries(
    connection: sa.Connection,
    *,
    client_id: str | None,
    status: DeliveryStatus | None,
    after_id: int | None,
    limit: int,
) -> list[Delivery]:
    query = sa.select(deliveries).order_by(deliveries.c.delivery_id).limit(limit)
    if client_id is not None:
        query = query.where(deliveries.c.client_id == client_id)
    if status is not None:
        query = query.where(deliveries.c.status == status.value)
    if after_id is not None:
        query = query.where(deliveries.c.delivery_id > id_to_bytes(after_id))
    return [_delivery(row) for row in connection.execute(query)]


def revive(connection: sa.Connection, delivery_id: int, *, now_ns: int) -> bool:
    """Put a dead delivery whose subscription still exists back to pending."""
    subscription_exists = (
        sa.select(event_subscriptions.c.subscription_id)
        .where(event_subscriptions.c.subscription_id == deliveries.c.subscription_id)
        .exists()
    )
    result = connection.execute(
        deliveries.update()
        .where(
            deliveries.c.delivery_id == id_to_bytes(delivery_id),
            deliveries.c.status == DeliveryStatus.DEAD.value,
            subscription_exists,
        )
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_ns=now_ns,
            replays=deliveries.c.replays + 1,
            claim_token=None,
            claimed_until_ns=None,
        )
    )
    return result.rowcount == 1


def insert_replay(
    connection: sa.Connection, *, replay_id: int, before: Delivery, actor: str, replayed_ns: int
) -> None:
    connection.execute(
        delivery_replays.insert().values(
            replay_id=id_to_bytes(replay_id),
            delivery_id=id_to_bytes(before.delivery_id),
            actor=actor,
            replayed_ns=replayed_ns,
            attempts_before=before.attempts,
            last_error_before=before.last_error,
        )
    )


def count_replays(connection: sa.Connection, delivery_id: int) -> int:
    query = sa.select(sa.func.count()).where(delivery_replays.c.delivery_id == id_to_bytes(delivery_id))
    return int(connection.execute(query).scalar_one())


def retarget_pending(connection: sa.Connection, subscription_id: str, callback_url: str) -> None:
    """Send a subscription's undelivered notifications to its new CallbackUrl."""
    connection.execute(
        deliveries.update()
        .where(
            deliveries.c.subscription_id == subscription_id,
            deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(callback_url=callback_url)
    )


def bury_pending(connection: sa.Connection, subscription_id: str, *, reason: str) -> None:
    """A deleted subscription's undelivered notifications become dead letters."""
    connection.execute(
        deliveries.update()
        .where(
            deliveries.c.subscription_id == subscription_id,
            deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.DEAD.value,
            last_error=reason[:LAST_ERROR_LENGTH_MAX],
            claim_token=None,
            claimed_until_ns=None,
        )
    )


def _delivery(row: sa.Row[Any]) -> Delivery:
    mapping = row._mapping
    return Delivery(
        delivery_id=id_from_bytes(mapping[deliveries.c.delivery_id]),
        event_seq=mapping[deliveries.c.event_seq],
        event_id=id_from_bytes(mapping[deliveries.c.event_id]),
        subscription_id=mapping[deliveries.c.subscription_id],
        client_id=mapping[deliveries.c.client_id],
        callback_url=mapping[deliveries.c.callback_url],
        status=DeliveryStatus(mapping[deliveries.c.status]),
        attempts=mapping[deliveries.c.attempts],
        next_attempt_ns=mapping[deliveries.c.next_attempt_ns],
        last_error=mapping[deliveries.c.last_error],
        last_status_code=mapping[deliveries.c.last_status_code],
        created_ns=mapping[deliveries.c.created_ns],
        delivered_ns=mapping[deliveries.c.delivered_ns],
        replays=mapping[deliveries.c.replays],
    )
