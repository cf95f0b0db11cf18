"""Event notifications: signed, retried delivery of outbox events to TPPs.

Purpose. Other contexts record what happened with ``append_event`` on their
own open connection, so an event commits with the change it announces (the
transactional outbox). TPPs subscribe through the UK Open Banking v4.0
event-subscriptions resource (``CallbackUrl``, ``Version``, ``EventTypes``).
A dispatcher (``Notifications.run``, or ``fan_out`` then ``deliver_due``)
turns each event into one delivery per matching subscription and POSTs a
v4.0 event notification (a security event token's claims as JSON) to
``{CallbackUrl}/event-notifications``, signed with the platform's Ed25519 key
over the timestamp and the body. Failed attempts are retried with full-jitter
exponential backoff; after ``attempts_max`` a delivery is dead, listed by
``dead_letters`` and put back by ``replay``. Receivers check each request
with ``verify_notification`` and a ``ReplayGuard`` (the wire format is
documented in ``netfin.notifications.signing``).

Invariants. An outbox event exists only if the caller's transaction
committed. Each event yields at most one delivery per subscription. A
delivery is attempted by one dispatcher at a time (a lease claimed with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL and a single write statement on
SQLite). A client sees, changes and deletes only its own subscriptions;
another client's id is answered as not found. At most
``SUBSCRIPTIONS_PER_CLIENT_MAX`` subscriptions per client; CallbackUrl is
https, or plain http on the loopback host while ``allow_insecure_localhost``
is on (the embedded default).

Public names: append_event, event_statement, Notifications, Subscription, Delivery,
DeliveryStatus, DeliveryStats, DeliveryPage, OutboxEvent, EVENT_TYPES,
RESOURCE_UPDATE, CONSENT_AUTHORIZATION_REVOKED, LINKED_ACCOUNT_UPDATE,
SUBJECT_PATHS, SUBSCRIPTIONS_PER_CLIENT_MAX, build_notification,
subscription_data, sign_notification, verify_notification, key_id,
ReplayGuard, NotificationRefused, SignatureInvalid, TimestampOutOfTolerance,
NotificationReplayed, TABLES.
"""

from netfin.notifications.errors import (
    NotificationRefused,
    NotificationReplayed,
    SignatureInvalid,
    TimestampOutOfTolerance,
)
from netfin.notifications.model import (
    CONSENT_AUTHORIZATION_REVOKED,
    EVENT_TYPES,
    LINKED_ACCOUNT_UPDATE,
    RESOURCE_UPDATE,
    SUBJECT_PATHS,
    SUBSCRIPTIONS_PER_CLIENT_MAX,
    Delivery,
    DeliveryPage,
    DeliveryStats,
    DeliveryStatus,
    OutboxEvent,
    Subscription,
    build_notification,
    subscription_data,
)
from netfin.notifications.service import Notifications, append_event, event_statement
from netfin.notifications.signing import ReplayGuard, key_id, sign_notification, verify_notification
from netfin.notifications.store import TABLES

__all__ = [
    "CONSENT_AUTHORIZATION_REVOKED",
    "EVENT_TYPES",
    "LINKED_ACCOUNT_UPDATE",
    "RESOURCE_UPDATE",
    "SUBJECT_PATHS",
    "SUBSCRIPTIONS_PER_CLIENT_MAX",
    "TABLES",
    "Delivery",
    "DeliveryPage",
    "DeliveryStats",
    "DeliveryStatus",
    "NotificationRefused",
    "NotificationReplayed",
    "Notifications",
    "OutboxEvent",
    "ReplayGuard",
    "SignatureInvalid",
    "Subscription",
    "TimestampOutOfTolerance",
    "append_event",
    "build_notification",
    "event_statement",
    "key_id",
    "sign_notification",
    "subscription_data",
    "verify_notification",
]
