"""Domain types and pure rules of event notifications: no I/O.

The names follow the UK Open Banking Read/Write API v4.0: an event
subscription has a ``CallbackUrl``, a ``Version`` and ``EventTypes``; a
notification is a security event token (RFC 8417) with ``iss``, ``iat``,
``jti``, ``aud``, ``sub``, ``txn``, ``toe`` and ``events``.
"""

from __future__ import annotations

import enum
import ipaddress
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from netfin.core.clock import NS_PER_SECOND
from netfin.core.errors import InvalidInput, LimitExceeded, invariant
from netfin.core.ids import format_id

# The event types of the UK Open Banking v4.0 event notification API.
RESOURCE_UPDATE = "urn:uk:org:openbanking:events:resource-update"
CONSENT_AUTHORIZATION_REVOKED = "urn:uk:org:openbanking:events:consent-authorization-revoked"
LINKED_ACCOUNT_UPDATE = "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"
EVENT_TYPES: tuple[str, ...] = (RESOURCE_UPDATE, CONSENT_AUTHORIZATION_REVOKED, LINKED_ACCOUNT_UPDATE)

# Resource types (``http://openbanking.org.uk/rty``) that events may name, and
# where each lives under the API's base URL, so that ``sub`` and the resource
# link point at the resource a TPP can read.
SUBJECT_PATHS: Mapping[str, str] = {
    "account-access-consent": "aisp/account-access-consents",
    "account": "aisp/accounts",
    "domestic-payment-consent": "pisp/domestic-payment-consents",
    "domestic-payment": "pisp/domestic-payments",
    "funds-confirmation-consent": "cbpii/funds-confirmation-consents",
}
RESOURCE_VERSION = "v4.0"
SUBJECT_TYPE = "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty"
NOTIFICATION_PATH = "/event-notifications"

SUBSCRIPTIONS_PER_CLIENT_MAX = 10
CALLBACK_URL_LENGTH_MAX = 2048
# ``aud``, ``jti``, ``txn`` and the resource id are at most 128 characters in
# the v4.0 schema; client ids become ``aud`` and subject ids the resource id.
CLIENT_ID_LENGTH_MAX = 128
SUBJECT_ID_LENGTH_MAX = 128
VERSION_LENGTH_MAX = 10
EVENT_TYPES_LIST_MAX = 16
EVENT_PAYLOAD_BYTES_MAX = 16_384
# The longest error text kept on a delivery; receivers choose what they say.
LAST_ERROR_LENGTH_MAX = 500
FAN_OUT_BATCH_MAX = 5_000
DELIVERY_BATCH_MAX = 1_000
DELIVERY_PAGE_MAX = 500
ATTEMPTS_MAX_LIMIT = 32
BACKOFF_MAX_S_LIMIT = 7 * 24 * 3600
LOCALHOST_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

_VERSION = re.compile(r"^[0-9A-Za-z.]{1,10}$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Subscription:
    """One TPP's event subscription; ``event_types`` None means every type."""

    subscription_id: str
    client_id: str
    callback_url: str
    version: str
    event_types: tuple[str, ...] | None
    created_ns: int
    updated_ns: int

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int
    event_id: int
    event_type: str
    client_id: str | None
    subject_kind: str
    subject_id: str
    payload: dict[str, Any]
    created_ns: int
    dispatched_ns: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: int
    event_seq: int
    event_id: int
    subscription_id: str
    client_id: str
    callback_url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_ns: int
    last_error: str | None
    last_status_code: int | None
    created_ns: int
    delivered_ns: int | None
    replays: int


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """What one ``deliver_due`` pass did; ``released`` ran out of lease time."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_cursor: str | None


def check_client_id(client_id: str) -> str:
    if not client_id or len(client_id) > CLIENT_ID_LENGTH_MAX or not _PRINTABLE.match(client_id):
        raise InvalidInput(
            f"a client id is 1 to {CLIENT_ID_LENGTH_MAX} printable ASCII characters",
            code="client_id_invalid",
        )
    return client_id


def check_callback_url(url: str | None, *, allow_insecure_localhost: bool) -> str:
    """Accept an absolute https URL, or http on the loopback host when allowed.

    Plain http is allowed only for 127.0.0.1, localhost and ::1, and only when
    the embedded setup says so, because a notification carries the TPP's
    resource ids and must not cross a network in the clear. v4.0 lets a TPP
    omit the CallbackUrl to poll for events instead; netfin only pushes, so a
    subscription without one is refused rather than stored unusable.
    """
    if not isinstance(url, str) or not url:
        raise InvalidInput(
            "CallbackUrl is required: netfin delivers events by push, not by polling",
            code="callback_url_required",
        )
    if len(url) > CALLBACK_URL_LENGTH_MAX:
        raise LimitExceeded(
            f"CallbackUrl is longer than {CALLBACK_URL_LENGTH_MAX} characters", code="callback_url_too_long"
        )
    if not _PRINTABLE.match(url):
        raise InvalidInput("CallbackUrl must be printable ASCII without spaces", code="callback_url_invalid")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # Reading the port is what rejects a malformed one.
    except ValueError:
        raise InvalidInput("CallbackUrl is not a valid URL", code="callback_url_invalid") from None
    if not host or parts.scheme not in ("https", "http") or parts.fragment or parts.query:
        raise InvalidInput(
            "CallbackUrl must be an absolute http(s) URL without query or fragment",
            code="callback_url_invalid",
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("CallbackUrl must not carry credentials", code="callback_url_invalid")
    if parts.scheme == "http" and not (allow_insecure_localhost and _is_localhost(host)):
        raise InvalidInput("CallbackUrl must use https", code="callback_url_insecure")
    return url


def _is_localhost(host: str) -> bool:
    if host in LOCALHOST_NAMES:
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address("::1")
    except ValueError:
        return False


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise InvalidInput(
            f"Version is 1 to {VERSION_LENGTH_MAX} letters, digits or dots", code="version_invalid"
        )
    return version


def check_event_types(event_types: Sequence[str] | None) -> tuple[str, ...] | None:
    """None subscribes to every type (as in v4.0); duplicates are dropped, order kept."""
    if event_types is None:
        return None
    if isinstance(event_types, str):
        raise InvalidInput("EventTypes is a list of event types", code="event_types_invalid")
    if len(event_types) > EVENT_TYPES_LIST_MAX:
        raise LimitExceeded(
            f"EventTypes lists at most {EVENT_TYPES_LIST_MAX} entries", code="event_types_too_many"
        )
    if not event_types:
        raise InvalidInput("EventTypes must name at least one event type", code="event_types_empty")
    for event_type in event_types:
        check_event_type(event_type)
    return tuple(dict.fromkeys(event_types))


def check_event_type(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise InvalidInput(f"unknown event type {event_type[:200]!r}", code="event_type_unknown")
    return event_type


def check_subject(subject_kind: str, subject_id: str) -> None:
    if subject_kind not in SUBJECT_PATHS:
        raise InvalidInput(f"unknown subject kind {subject_kind[:200]!r}", code="subject_kind_unknown")
    if not subject_id or len(subject_id) > SUBJECT_ID_LENGTH_MAX or not _PRINTABLE.match(subject_id):
        raise InvalidInput(
            f"a subject id is 1 to {SUBJECT_ID_LENGTH_MAX} printable ASCII characters",
            code="subject_id_invalid",
        )


def check_limit(limit: int, maximum: int, name: str) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"{name} must be a positive integer", code="limit_invalid")
    if limit > maximum:
        raise LimitExceeded(f"{name} is at most {maximum}", code="limit_too_large")
    return limit


def notification_url(callback_url: str) -> str:
    """Where a notification goes: the v4.0 TPP endpoint under the CallbackUrl."""
    return callback_url.rstrip("/") + NOTIFICATION_PATH


def backoff_cap_ns(attempts: int, *, base_s: int, max_s: int) -> int:
    """The longest wait after the ``attempts``-th failed attempt (``attempts`` ≥ 1).

    The cap doubles with each failure, ``base_s * 2**(attempts - 1)``, and
    never exceeds ``max_s``; the exponent is clamped so a large count cannot
    build a huge integer.
    """
    invariant(attempts >= 1, "backoff follows a failed attempt")
    exponent = min(attempts - 1, 62)
    return min(max_s, base_s << exponent) * NS_PER_SECOND


def backoff_delay_ns(attempts: int, *, base_s: int, max_s: int, rng: random.Random) -> int:
    """Full jitter: a whole number of nanoseconds, uniform in ``[0, cap]``.

    Spreading retries over the whole window keeps many failing deliveries from
    hitting a recovering receiver at the same instant.
    """
    return rng.randint(0, backoff_cap_ns(attempts, base_s=base_s, max_s=max_s))


def subject_link(resource_base_url: str, subject_kind: str, subject_id: str) -> str:
    return f"{resource_base_url.rstrip('/')}/{SUBJECT_PATHS[subject_kind]}/{subject_id}"


def build_notification(
    event: OutboxEvent, *, audience: str, issuer: str, resource_base_url: str, issued_at_s: int
) -> dict[str, Any]:
    """The v4.0 event notification (a security event token's claims) for one event.

    ``jti`` and ``txn`` are the event id, so every retry of one event carries
    the same ``jti`` and a receiver can tell a retry from a new event. The
    resource-update event carries only its subject, as the v4.0 schema
    requires; other types also carry the event's payload members.
    """
    link = subject_link(resource_base_url, event.subject_kind, event.subject_id)
    subject = {
        "subject_type": SUBJECT_TYPE,
        "http://openbanking.org.uk/rid": event.subject_id,
        "http://openbanking.org.uk/rty": event.subject_kind,
        "http://openbanking.org.uk/rlk": [{"version": RESOURCE_VERSION, "link": link}],
    }
    detail: dict[str, Any] = {"subject": subject}
    if event.event_type != RESOURCE_UPDATE:
        detail = {**event.payload, "subject": subject}
    return {
        "iss": issuer,
        "iat": issued_at_s,
        "jti": format_id(event.event_id),
        "aud": audience,
        "sub": link,
        "txn": format_id(event.event_id),
        "toe": event.created_ns // NS_PER_SECOND,
        "events": {event.event_type: detail},
    }


def subscription_data(subscription: Subscription) -> dict[str, Any]:
    """The ``Data`` object of OBEventSubscriptionResponse1 for one subscription."""
    data: dict[str, Any] = {
        "EventSubscriptionId": subscription.subscription_id,
        "CallbackUrl": subscription.callback_url,
        "Version": subscription.version,
    }
    if subscription.event_types is not None:
        data["EventTypes"] = list(subscription.event_types)
    return data
