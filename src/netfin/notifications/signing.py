"""Signing notifications, and the check a receiver runs on each one.

Wire format (one POST per attempt, to ``{CallbackUrl}/event-notifications``)::

    content-type: application/json
    x-netfin-event-id: <32 lowercase hex digits, equal to the body's "jti">
    x-netfin-signature: t=<unix seconds>,kid=<key id>,sig=<signature>

``sig`` is the Ed25519 signature, base64url without padding, of the ASCII
bytes ``"<t>."`` followed by the exact body bytes. ``kid`` is the RFC 7638
JWK thumbprint of the platform's public key, so a receiver holding several
keys (during a rotation) knows which one to use. Signing the timestamp with
the body lets a receiver refuse old captures; remembering each accepted
``jti`` until its timestamp leaves the tolerance window refuses a replay
inside the window (``ReplayGuard``).

A receiver does, in this order: check the signature over the raw body, check
the timestamp against its own clock, parse the body, check that the header's
event id is the body's ``jti``, and remember the ``jti``. ``verify_notification``
does all of it. A retry of an event the receiver has already accepted carries
the same ``jti`` and is refused as ``notification_replayed``; a receiver should
answer such a refusal with 2xx, since it already holds the event.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import re
import threading
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc.jwk import OKPKey

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.notifications.errors import NotificationReplayed, SignatureInvalid, TimestampOutOfTolerance

SIGNATURE_HEADER = "x-netfin-signature"
EVENT_ID_HEADER = "x-netfin-event-id"
CONTENT_TYPE = "application/json"
TOLERANCE_S_DEFAULT = 300
TOLERANCE_S_MAX = 3600
# Event ids a ReplayGuard holds at once by default. At the default tolerance
# this covers a sustained 333 accepted notifications per second.
REPLAY_GUARD_ENTRIES_MAX = 100_000
SIGNATURE_HEADER_LENGTH_MAX = 512
NOTIFICATION_BODY_BYTES_MAX = 65_536
EVENT_ID_LENGTH_MAX = 128

_SIGNATURE_FIELDS = re.compile(r"^t=(\d{1,12}),kid=([A-Za-z0-9_-]{1,128}),sig=([A-Za-z0-9_-]{86})$")


def key_id(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint of an Ed25519 public key."""
    thumbprint: str = OKPKey.import_key(public_key).thumbprint()
    return thumbprint


def signed_message(timestamp_s: int, body: bytes) -> bytes:
    return f"{timestamp_s}.".encode("ascii") + body


def sign_notification(
    key: Ed25519PrivateKey, *, event_id: str, timestamp_s: int, body: bytes, kid: str | None = None
) -> dict[str, str]:
    """The headers that carry a notification's signature and event id."""
    signature = key.sign(signed_message(timestamp_s, body))
    kid = key_id(key.public_key()) if kid is None else kid
    return {
        "content-type": CONTENT_TYPE,
        EVENT_ID_HEADER: event_id,
        SIGNATURE_HEADER: f"t={timestamp_s},kid={kid},sig={_b64url(signature)}",
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ReplayGuard:
    """The event ids a receiver has accepted, each kept until it expires.

    Bounded: at ``entries_max`` live entries a new id is refused with
    ``replay_guard_full`` rather than evicting a live one, because evicting a
    live id would reopen its replay window. Expired entries are evicted on
    every call. Safe to share between the threads of one receiver.
    """

    def __init__(self, *, entries_max: int = REPLAY_GUARD_ENTRIES_MAX) -> None:
        if entries_max < 1:
            raise InvalidInput("entries_max must be positive", code="limit_invalid")
        self._entries_max = entries_max
        self._expiry_s: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry_s)

    def remember(self, event_id: str, *, expires_s: int, now_s: int) -> None:
        """Record ``event_id`` until ``expires_s``; refuse one already recorded."""
        with self._lock:
            self._evict(now_s)
            if event_id in self._expiry_s:
                raise NotificationReplayed(f"event {event_id[:EVENT_ID_LENGTH_MAX]} was already received")
            if len(self._expiry_s) >= self._entries_max:
                raise LimitExceeded(
                    f"the replay guard holds {self._entries_max} live event ids", code="replay_guard_full"
                )
            self._expiry_s[event_id] = expires_s
            heapq.heappush(self._heap, (expires_s, event_id))

    def _evict(self, now_s: int) -> None:
        while self._heap and self._heap[0][0] < now_s:
            expires_s, event_id = heapq.heappop(self._heap)
            if self._expiry_s.get(event_id) == expires_s:
                del self._expiry_s[event_id]


def verify_notification(
    headers: Mapping[str, str],
    body: bytes,
    public_key: Ed25519PublicKey | bytes,
    *,
    now_s: int,
    tolerance_s: int = TOLERANCE_S_DEFAULT,
    replay_guard: ReplayGuard,
) -> dict[str, Any]:
    """Check one received notification and return its claims.

    Raises ``SignatureInvalid`` (``signature_invalid``) for a missing,
    malformed or wrong signature or a key id that is not ``public_key``'s,
    ``TimestampOutOfTolerance`` (``timestamp_out_of_tolerance``) when the
    signed time is more than ``tolerance_s`` from ``now_s``,
    ``NotificationReplayed`` (``notification_replayed``) for an event id seen
    before, ``InvalidInput`` (``notification_body_invalid``) for a signed body
    that is not a notification, and ``LimitExceeded`` for an oversized body or
    a full guard. Nothing is remembered unless every check passes.
    """
    if not 0 <= tolerance_s <= TOLERANCE_S_MAX:
        raise InvalidInput(f"tolerance_s is 0 to {TOLERANCE_S_MAX}", code="limit_invalid")
    if len(body) > NOTIFICATION_BODY_BYTES_MAX:
        raise LimitExceeded("the notification body is too large", code="notification_body_too_large")
    lowered = {name.lower(): value for name, value in headers.items()}
    key = public_key if isinstance(public_key, Ed25519PublicKey) else _public_key(public_key)
    timestamp_s = _check_signature(lowered.get(SIGNATURE_HEADER, ""), body, key)
    if abs(now_s - timestamp_s) > tolerance_s:
        raise TimestampOutOfTolerance(
            f"signed at {timestamp_s}, {now_s - timestamp_s} s from now; tolerance is {tolerance_s} s"
        )
    claims = _claims(body)
    event_id = claims["jti"]
    if lowered.get(EVENT_ID_HEADER) != event_id:
        raise SignatureInvalid(f"the {EVENT_ID_HEADER} header is not the signed jti")
    replay_guard.remember(event_id, expires_s=timestamp_s + tolerance_s, now_s=now_s)
    return claims


def _public_key(raw: bytes) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidInput("an Ed25519 public key is 32 bytes", code="public_key_invalid") from None


def _check_signature(header: str, body: bytes, key: Ed25519PublicKey) -> int:
    if len(header) > SIGNATURE_HEADER_LENGTH_MAX:
        raise SignatureInvalid(f"the {SIGNATURE_HEADER} header is too long")
    match = _SIGNATURE_FIELDS.match(header.strip())
    if match is None:
        raise SignatureInvalid(f"the {SIGNATURE_HEADER} header is missing or malformed")
    timestamp_s, kid, sig = int(match[1]), match[2], match[3]
    if kid != key_id(key):
        raise SignatureInvalid(f"key id {kid} is not the key this receiver trusts")
    try:
        key.verify(_b64url_decode(sig), signed_message(timestamp_s, body))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureInvalid("the signature does not match the body") from None
    return timestamp_s


def _claims(body: bytes) -> dict[str, Any]:
    try:
        claims = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("the notification is not JSON", code="notification_body_invalid") from None
    if not isinstance(claims, dict):
        raise InvalidInput("the notification is not a JSON object", code="notification_body_invalid")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= EVENT_ID_LENGTH_MAX:
        raise InvalidInput("the notification has no valid jti", code="notification_body_invalid")
    return claims
