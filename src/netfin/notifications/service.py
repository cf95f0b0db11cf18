"""Use cases of event notifications: the outbox, subscriptions, delivery and dead letters."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import ConfigurationError, Conflict, InvalidInput, LimitExceeded, NotFound
from netfin.core.ids import IdSource, format_id, id_to_bytes
from netfin.core.limits import INT64_MAX, UINT128_MAX
from netfin.notifications import store
from netfin.notifications.lease import DispatchLease
from netfin.notifications.model import (
    ATTEMPTS_MAX_LIMIT,
    BACKOFF_MAX_S_LIMIT,
    CLIENT_ID_LENGTH_MAX,
    DELIVERY_BATCH_MAX,
    DELIVERY_PAGE_MAX,
    EVENT_PAYLOAD_BYTES_MAX,
    FAN_OUT_BATCH_MAX,
    LAST_ERROR_LENGTH_MAX,
    SUBSCRIPTIONS_PER_CLIENT_MAX,
    Delivery,
    DeliveryPage,
    DeliveryStats,
    DeliveryStatus,
    OutboxEvent,
    Subscription,
    backoff_delay_ns,
    build_notification,
    check_callback_url,
    check_client_id,
    check_event_type,
    check_event_types,
    check_limit,
    check_subject,
    check_version,
    notification_url,
)
from netfin.notifications.signing import key_id, sign_notification

logger = logging.getLogger(__name__)

# Events turned into deliveries, and deliveries attempted, per round of ``run``.
FAN_OUT_DEFAULT = 500
DELIVER_DEFAULT = 100
# After a round that was not full, ``run`` waits this long before the next: under a
# steady stream of payments a round then takes a batch instead of one or two events.
GATHER_S = 0.2

# One attempt's HTTP timeout (connect, write, read, pool: each).
REQUEST_TIMEOUT_S = 5.0
# How long a dispatcher holds the deliveries it claimed. An attempt starts
# only while a whole request timeout is left, so a live dispatcher never
# races a second one on the same delivery.
DELIVERY_LEASE_S = 120
_LEASE_MARGIN_NS = int(REQUEST_TIMEOUT_S * 4 + 5) * NS_PER_SECOND
RESOURCE_BASE_URL_DEFAULT = "http://127.0.0.1:8000/open-banking/v4.0"
ISSUER_DEFAULT = "netfin"
SUBSCRIPTION_DELETED = "subscription_deleted"
_CURSOR = re.compile(r"^[0-9a-f]{32}$")


def append_event(
    connection: sa.Connection,
    *,
    event_id: int,
    event_type: str,
    client_id: str | None,
    subject_kind: str,
    subject_id: str,
    payload: Mapping[str, Any],
    created_ns: int,
) -> None:
    """Add an event to the outbox inside the caller's open transaction.

    The event commits or rolls back with whatever else the caller writes on
    ``connection`` (a payment and the event announcing it are one fact).
    ``client_id`` names the TPP that should hear of it; None sends it to every
    client subscribed to ``event_type``. ``payload`` is kept in the outbox;
    for event types other than resource-update its members also go into the
    notification's event object.

    Raises ``InvalidInput`` (``event_type_unknown``, ``client_id_invalid``,
    ``subject_kind_unknown``, ``subject_id_invalid``, ``event_id_invalid``,
    ``event_payload_invalid``, ``timestamp_invalid``) and ``LimitExceeded``
    (``event_payload_too_large``).
    """
    store.insert_event(connection, _checked_event(
        event_id, event_type, client_id, subject_kind, subject_id, payload, created_ns
    ))  # fmt: skip


def event_statement(
    *,
    event_id: int,
    event_type: str,
    client_id: str | None,
    subject_kind: str,
    subject_id: str,
    payload: Mapping[str, Any],
    created_ns: int,
) -> tuple[str, dict[str, Any]]:
    """``append_event`` as the part of one statement (PostgreSQL): checks the event as
    ``append_event`` does and returns ``(sql, params)`` of an ``INSERT INTO outbox ...
    SELECT ...`` that the caller ends with its own ``WHERE`` (the event is written only
    when the change it announces was) and runs as a data-modifying CTE."""
    event = _checked_event(event_id, event_type, client_id, subject_kind, subject_id, payload, created_ns)
    return store.INSERT_EVENT_SELECT_SQL, store.event_params(event)


def _checked_event(
    event_id: int, event_type: str, client_id: str | None, subject_kind: str, subject_id: str,
    payload: Mapping[str, Any], created_ns: int,
) -> OutboxEvent:  # fmt: skip
    check_event_type(event_type)
    if client_id is not None:
        check_client_id(client_id)
    check_subject(subject_kind, subject_id)
    if isinstance(event_id, bool) or not isinstance(event_id, int) or not 1 <= event_id <= UINT128_MAX:
        raise InvalidInput("an event id is a 128-bit positive integer", code="event_id_invalid")
    if isinstance(created_ns, bool) or not isinstance(created_ns, int) or not 0 <= created_ns <= INT64_MAX:
        raise InvalidInput("created_ns is nanoseconds since the epoch", code="timestamp_invalid")
    body = _payload(payload)
    return OutboxEvent(0, event_id, event_type, client_id, subject_kind, subject_id, body, created_ns, None)


def _payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, Mapping) or "subject" in payload:
        raise InvalidInput(
            "an event payload is a JSON object without a 'subject' member", code="event_payload_invalid"
        )
    try:
        encoded = orjson.dumps(dict(payload))
    except TypeError:
        raise InvalidInput("an event payload must be JSON", code="event_payload_invalid") from None
    if len(encoded) > EVENT_PAYLOAD_BYTES_MAX:
        raise LimitExceeded(
            f"an event payload is at most {EVENT_PAYLOAD_BYTES_MAX} bytes", code="event_payload_too_large"
        )
    decoded: dict[str, Any] = orjson.loads(encoded)
    return decoded


class Notifications:
    """Event subscriptions of TPPs and the signed delivery of outbox events to them.

    ``allow_insecure_localhost`` (default True, for the embedded setup on one
    machine) lets a CallbackUrl use plain http on 127.0.0.1, localhost or
    ::1; every other CallbackUrl must be https. Turn it off in production.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock,
        ids: IdSource,
        signing_key: Ed25519PrivateKey,
        http: httpx.Client | None = None,
        attempts_max: int = 8,
        backoff_base_s: int = 1,
        backoff_max_s: int = 3600,
        rng: random.Random | None = None,
        allow_insecure_localhost: bool = True,
        issuer: str = ISSUER_DEFAULT,
        resource_base_url: str = RESOURCE_BASE_URL_DEFAULT,
    ) -> None:
        if not 1 <= attempts_max <= ATTEMPTS_MAX_LIMIT:
            raise ConfigurationError(
                f"attempts_max is 1 to {ATTEMPTS_MAX_LIMIT}", code="notification_settings_invalid"
            )
        if not 1 <= backoff_base_s <= backoff_max_s <= BACKOFF_MAX_S_LIMIT:
            raise ConfigurationError(
                f"backoff needs 1 <= backoff_base_s <= backoff_max_s <= {BACKOFF_MAX_S_LIMIT}",
                code="notification_settings_invalid",
            )
        self._engine = engine
        self._clock = clock
        self._ids = ids
        self._key = signing_key
        self._kid = key_id(signing_key.public_key())
        self._owns_http = http is None
        # Made on the first delivery: building the client's TLS context is the
        # slowest part of opening a bank, and most processes never push an event.
        self._client = http
        self._attempts_max = attempts_max
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        # Jitter needs no secrecy, but the system source keeps separate
        # dispatchers from drawing the same sequence.
        self._rng = rng if rng is not None else random.SystemRandom()
        self._allow_insecure_localhost = allow_insecure_localhost
        self._issuer = issuer
        self._resource_base_url = resource_base_url
        self._lease = DispatchLease(engine)
        # When run() last looked for due deliveries, and whether it found a full batch.
        self._deliveries_at_s = -float("inf")
        self._deliveries_full = False

    @property
    def key_id(self) -> str:
        """The ``kid`` in every signature header: the RFC 7638 thumbprint of the public key."""
        return self._kid

    @property
    def dispatching(self) -> bool:
        """Whether ``run`` may work now: it holds the dispatch lease (always, on SQLite)."""
        return self._lease.holding

    @property
    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=REQUEST_TIMEOUT_S, follow_redirects=False)
        return self._client

    def close(self) -> None:
        self._lease.release()
        if self._owns_http and self._client is not None:
            self._client.close()

    def __enter__(self) -> Notifications:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- subscriptions (always scoped to the calling client) -----------------

    def subscribe(
        self,
        client_id: str,
        *,
        callback_url: str | None,
        version: str,
        event_types: Sequence[str] | None = None,
    ) -> Subscription:
        """Create a subscription. ``event_types`` None hears every type.

        Raises ``InvalidInput`` (``client_id_invalid``, ``callback_url_invalid``,
        ``callback_url_insecure``, ``version_invalid``, ``event_type_unknown``,
        ``event_types_empty``) and ``LimitExceeded`` (``callback_url_too_long``,
        ``event_subscriptions_per_client_exceeded``).
        """
        now_ns = self._clock.now_ns()
        subscription = Subscription(
            subscription_id=format_id(self._ids.new_id()),
            client_id=check_client_id(client_id),
            callback_url=check_callback_url(
                callback_url, allow_insecure_localhost=self._allow_insecure_localhost
            ),
            version=check_version(version),
            event_types=check_event_types(event_types),
            created_ns=now_ns,
            updated_ns=now_ns,
        )
        with self._engine.begin() as connection:
            store.lock_client(connection, client_id)
            # Inserting first takes SQLite's write lock before the count.
            store.insert_subscription(connection, subscription)
            if store.count_subscriptions(connection, client_id) > SUBSCRIPTIONS_PER_CLIENT_MAX:
                raise LimitExceeded(
                    f"a client has at most {SUBSCRIPTIONS_PER_CLIENT_MAX} event subscriptions",
                    code="event_subscriptions_per_client_exceeded",
                )
        return subscription

    def list_subscriptions(self, client_id: str) -> list[Subscription]:
        with self._engine.connect() as connection:
            return store.select_subscriptions(connection, check_client_id(client_id))

    def get_subscription(self, client_id: str, subscription_id: str) -> Subscription:
        """Raises ``NotFound`` (``event_subscription_not_found``) for another client's id too."""
        with self._engine.connect() as connection:
            found = store.select_subscription(connection, check_client_id(client_id), subscription_id)
        if found is None:
            raise _subscription_not_found()
        return found

    def update_subscription(
        self,
        client_id: str,
        subscription_id: str,
        *,
        callback_url: str | None,
        version: str,
        event_types: Sequence[str] | None = None,
    ) -> Subscription:
        """Replace a subscription's fields (v4.0 PUT); pending deliveries follow the new URL.

        Raises what ``subscribe`` raises, and ``NotFound``
        (``event_subscription_not_found``) when the client owns no such id.
        """
        check_client_id(client_id)
        callback_url = check_callback_url(
            callback_url, allow_insecure_localhost=self._allow_insecure_localhost
        )
        version = check_version(version)
        checked_types = check_event_types(event_types)
        updated_ns = self._clock.now_ns()
        with self._engine.begin() as connection:
            current = store.select_subscription(connection, client_id, subscription_id)
            if current is None:
                raise _subscription_not_found()
            updated = replace(
                current,
                callback_url=callback_url,
                version=version,
                event_types=checked_types,
                updated_ns=updated_ns,
            )
            if not store.update_subscription(connection, updated):
                raise _subscription_not_found()
            store.retarget_pending(connection, subscription_id, callback_url)
        return updated

    def delete_subscription(self, client_id: str, subscription_id: str) -> None:
        """Delete; its undelivered notifications become dead letters.

        Raises ``NotFound`` (``event_subscription_not_found``) when the client
        owns no such id.
        """
        with self._engine.begin() as connection:
            if not store.delete_subscription(connection, check_client_id(client_id), subscription_id):
                raise _subscription_not_found()
            store.bury_pending(connection, subscription_id, reason=SUBSCRIPTION_DELETED)

    # --- dispatch ------------------------------------------------------------

    def fan_out(self, limit: int = FAN_OUT_DEFAULT) -> int:
        """Turn up to ``limit`` undispatched outbox events into deliveries.

        One transaction marks the events dispatched and creates one pending
        delivery per matching subscription (same client, or any client for a
        broadcast event; event type wanted). Returns the number of events
        dispatched, so 0 means the outbox is drained.
        """
        return self._fan_out(limit)[0]

    def _fan_out(self, limit: int) -> tuple[int, int]:
        """``fan_out``, also counting the deliveries it created."""
        check_limit(limit, FAN_OUT_BATCH_MAX, "limit")
        now_ns = self._clock.now_ns()
        with self._engine.begin() as connection:
            events = store.claim_undispatched(connection, now_ns=now_ns, limit=limit)
            if not events:
                return 0, 0
            targeted = {event.client_id for event in events if event.client_id is not None}
            every_client = any(event.client_id is None for event in events)
            subscriptions = store.subscriptions_for(connection, targeted, every_client=every_client)
            rows = [
                self._new_delivery(event, subscription, now_ns)
                for event in events
                for subscription in subscriptions
                if event.client_id in (None, subscription.client_id) and subscription.wants(event.event_type)
            ]
            store.insert_deliveries(connection, rows)
        return len(events), len(rows)

    def _new_delivery(self, event: OutboxEvent, subscription: Subscription, now_ns: int) -> Delivery:
        return Delivery(
            delivery_id=self._ids.new_id(),
            event_seq=event.seq,
            event_id=event.event_id,
            subscription_id=subscription.subscription_id,
            client_id=subscription.client_id,
            callback_url=subscription.callback_url,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_ns=now_ns,
            last_error=None,
            last_status_code=None,
            created_ns=now_ns,
            delivered_ns=None,
            replays=0,
        )

    def deliver_due(self, limit: int = DELIVER_DEFAULT) -> DeliveryStats:
        """POST each due delivery once; record delivered, a retry, or dead.

        Deliveries are leased to this call first, so a second dispatcher
        skips them. A 2xx answer marks a delivery delivered. Anything else (an
        error status, a redirect, which is never followed, a timeout, a
        refused connection) counts one failed attempt: the next is due after
        a full-jitter backoff, and after ``attempts_max`` failures the
        delivery is dead.
        """
        check_limit(limit, DELIVERY_BATCH_MAX, "limit")
        token = id_to_bytes(self._ids.new_id())
        now_ns = self._clock.now_ns()
        lease_until_ns = now_ns + DELIVERY_LEASE_S * NS_PER_SECOND
        with self._engine.begin() as connection:
            claimed = store.claim_due(
                connection, token=token, now_ns=now_ns, lease_until_ns=lease_until_ns, limit=limit
            )
        counts = {"delivered": 0, "retried": 0, "dead": 0, "released": 0}
        for index, (delivery, event) in enumerate(claimed):
            if self._clock.now_ns() + _LEASE_MARGIN_NS > lease_until_ns:
                with self._engine.begin() as connection:
                    rest = [item[0].delivery_id for item in claimed[index:]]
                    counts["released"] = store.release(connection, rest, token=token)
                break
            outcome = self._attempt(delivery, event, token)
            if outcome is not None:
                counts[outcome] += 1
        return DeliveryStats(claimed=len(claimed), **counts)

    def _attempt(self, delivery: Delivery, event: OutboxEvent, token: bytes) -> str | None:
        status_code, error = self._post(delivery, event)
        now_ns = self._clock.now_ns()
        values: dict[str, Any] = {"last_status_code": status_code}
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
            values.update(status=DeliveryStatus.DELIVERED.value, delivered_ns=now_ns, last_error=None)
        else:
            attempts = delivery.attempts + 1
            values.update(attempts=attempts, last_error=(error or "")[:LAST_ERROR_LENGTH_MAX])
            if attempts >= self._attempts_max:
                outcome = "dead"
                values.update(status=DeliveryStatus.DEAD.value)
            else:
                outcome = "retried"
                delay_ns = backoff_delay_ns(
                    attempts, base_s=self._backoff_base_s, max_s=self._backoff_max_s, rng=self._rng
                )
                values.update(next_attempt_ns=now_ns + delay_ns)
        with self._engine.begin() as connection:
            recorded = store.record_outcome(connection, delivery.delivery_id, token=token, values=values)
        return outcome if recorded else None

    def _post(self, delivery: Delivery, event: OutboxEvent) -> tuple[int | None, str | None]:
        """One signed POST; the status code, or None and the transport error."""
        issued_at_s = self._clock.now_ns() // NS_PER_SECOND
        claims = build_notification(
            event,
            audience=delivery.client_id,
            issuer=self._issuer,
            resource_base_url=self._resource_base_url,
            issued_at_s=issued_at_s,
        )
        body = orjson.dumps(claims)
        headers = sign_notification(
            self._key, event_id=claims["jti"], timestamp_s=issued_at_s, body=body, kid=self._kid
        )
        headers["x-fapi-interaction-id"] = _uuid_text(delivery.delivery_id)
        try:
            # Streaming without reading leaves a receiver's answer body unread:
            # only its status matters, and a huge body must not cost memory.
            with self._http.stream(
                "POST",
                notification_url(delivery.callback_url),
                content=body,
                headers=headers,
                timeout=REQUEST_TIMEOUT_S,
                follow_redirects=False,
            ) as response:
                status_code = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return None, f"{type(error).__name__}: {error}"
        if 200 <= status_code < 300:
            return status_code, None
        return status_code, f"HTTP {status_code}"

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Fan out and deliver until ``stop`` is set; sleep ``interval_s`` when idle.

        On PostgreSQL only the loop that holds the dispatch lease works; the
        others wait and take over within ``interval_s`` of its end
        (``netfin.notifications.lease``).

        A database that is briefly unreachable is waited out rather than
        ending the loop; every event stays in the outbox until it is handled.
        """
        try:
            while not stop.is_set():
                if not self._lease.held():
                    stop.wait(interval_s)  # another process dispatches; take over when it stops
                    continue
                self._round(stop, interval_s)
        finally:
            self._lease.release()

    def _round(self, stop: threading.Event, interval_s: float) -> None:
        try:
            events, created = self._fan_out(FAN_OUT_DEFAULT)
            claimed = self._deliver_if_due(created, interval_s)
        except sa.exc.OperationalError as error:
            logger.warning("notification dispatch paused: %s", str(error.orig).strip()[:200])
            stop.wait(interval_s)
            return
        if events == 0 and claimed == 0:
            stop.wait(interval_s)
        elif events < FAN_OUT_DEFAULT and claimed < DELIVER_DEFAULT:
            # Not a full round: let the next events gather instead of taking them one
            # transaction each (under a steady stream of payments a round found 1-2).
            stop.wait(min(interval_s, GATHER_S))

    def _deliver_if_due(self, created: int, interval_s: float) -> int:
        """``deliver_due`` when this round created deliveries, the last one was full, or once an interval.

        Retries and replays fall due on their own schedule, so they are looked
        for at least once per ``interval_s``; a round whose events matched no
        subscription (most payments) costs no delivery query.
        """
        now_s = time.monotonic()
        if not created and not self._deliveries_full and now_s - self._deliveries_at_s < interval_s:
            return 0
        claimed = self.deliver_due().claimed
        self._deliveries_at_s = now_s
        self._deliveries_full = claimed >= DELIVER_DEFAULT
        return claimed

    # --- operators -------------------------------------------------------------

    def get_delivery(self, delivery_id: int) -> Delivery:
        with self._engine.connect() as connection:
            found = store.select_delivery(connection, delivery_id)
        if found is None:
            raise NotFound("no such delivery", code="delivery_not_found")
        return found

    def deliveries(
        self,
        *,
        client_id: str | None = None,
        status: DeliveryStatus | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> DeliveryPage:
        """Deliveries in id (creation) order, optionally of one client or status."""
        check_limit(limit, DELIVERY_PAGE_MAX, "limit")
        if client_id is not None:
            check_client_id(client_id)
        after_id = _parse_cursor(cursor)
        with self._engine.connect() as connection:
            rows = store.select_deliveries(
                connection, client_id=client_id, status=status, after_id=after_id, limit=limit + 1
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return DeliveryPage(rows, format_id(rows[-1].delivery_id) if more else None)

    def dead_letters(
        self, client_id: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> DeliveryPage:
        """Dead deliveries for an operator to inspect and replay; cursor-paginated."""
        return self.deliveries(client_id=client_id, status=DeliveryStatus.DEAD, cursor=cursor, limit=limit)

    def replay(self, delivery_id: int, *, actor: str = "operator") -> None:
        """Put a dead delivery back to pending, attempts reset, due now; the replay is recorded.

        Raises ``NotFound`` (``delivery_not_found``), ``Conflict``
        (``delivery_not_dead``) for a pending or delivered one, and
        ``Conflict`` (``subscription_deleted``) when its subscription is gone.
        """
        if not actor or len(actor) > CLIENT_ID_LENGTH_MAX:
            raise InvalidInput(f"actor is 1 to {CLIENT_ID_LENGTH_MAX} characters", code="actor_invalid")
        now_ns = self._clock.now_ns()
        with self._engine.begin() as connection:
            before = store.select_delivery(connection, delivery_id)
            if before is None:
                raise NotFound("no such delivery", code="delivery_not_found")
            if not store.revive(connection, delivery_id, now_ns=now_ns):
                if before.status is not DeliveryStatus.DEAD:
                    raise Conflict(f"the delivery is {before.status.value}", code="delivery_not_dead")
                raise Conflict("the delivery's subscription was deleted", code="subscription_deleted")
            store.insert_replay(
                connection, replay_id=self._ids.new_id(), before=before, actor=actor, replayed_ns=now_ns
            )

    def replay_count(self, delivery_id: int) -> int:
        with self._engine.connect() as connection:
            return store.count_replays(connection, delivery_id)


def _subscription_not_found() -> NotFound:
    # The same answer for an unknown id and another client's id, so that a
    # client cannot learn which ids exist.
    return NotFound("no such event subscription", code="event_subscription_not_found")


def _parse_cursor(cursor: str | None) -> int | None:
    # Only the exact form ``format_id`` issues is accepted, so a cursor has
    # one spelling and a guessed one is refused rather than reinterpreted.
    if cursor is None:
        return None
    if not _CURSOR.match(cursor) or int(cursor, 16) == 0:
        raise InvalidInput("the cursor is not one this API issued", code="cursor_invalid")
    return int(cursor, 16)


def _uuid_text(value: int) -> str:
    text = format_id(value)
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
