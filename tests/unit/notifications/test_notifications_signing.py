"""Signing and the receiver's check: signature, timestamp tolerance, replays."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.notifications import (
    NotificationRefused,
    NotificationReplayed,
    ReplayGuard,
    SignatureInvalid,
    TimestampOutOfTolerance,
    key_id,
    sign_notification,
    verify_notification,
)

NOW_S = 1_767_225_600
EVENT_ID = "0190aaaabbbb7ccc8ddd000000000001"
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def _signed(event_id: str = EVENT_ID, timestamp_s: int = NOW_S) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps({"jti": event_id, "aud": "tpp-a", "events": {}})
    return sign_notification(KEY, event_id=event_id, timestamp_s=timestamp_s, body=body), body


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_a_signed_notification_is_accepted_once() -> None:
    headers, body = _signed()
    guard = ReplayGuard()
    claims = verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=guard)
    assert claims["jti"] == EVENT_ID and claims["aud"] == "tpp-a"
    assert len(guard) == 1
    with pytest.raises(NotificationReplayed) as replayed:
        verify_notification(headers, body, KEY.public_key(), now_s=NOW_S + 10, replay_guard=guard)
    assert replayed.value.code == "notification_replayed"


def test_the_header_format_is_as_documented() -> None:
    headers, _ = _signed()
    assert headers["content-type"] == "application/json"
    assert headers["x-netfin-event-id"] == EVENT_ID
    t, kid, sig = headers["x-netfin-signature"].split(",")
    assert t == f"t={NOW_S}"
    assert kid == f"kid={key_id(KEY.public_key())}" and len(kid) == 4 + 43
    assert sig.startswith("sig=") and len(sig) == 4 + 86 and "=" not in sig[4:]


def test_raw_public_key_bytes_and_any_header_case_are_accepted() -> None:
    headers, body = _signed()
    shouting = {name.upper(): value for name, value in headers.items()}
    claims = verify_notification(shouting, body, _raw_public(KEY), now_s=NOW_S, replay_guard=ReplayGuard())
    assert claims["jti"] == EVENT_ID
    with pytest.raises(InvalidInput) as bad_key:
        verify_notification(headers, body, b"short", now_s=NOW_S, replay_guard=ReplayGuard())
    assert bad_key.value.code == "public_key_invalid"


def test_a_tampered_body_is_refused_and_not_remembered() -> None:
    headers, body = _signed()
    guard = ReplayGuard()
    tampered = body.replace(b"tpp-a", b"tpp-b")
    with pytest.raises(SignatureInvalid) as refused:
        verify_notification(headers, tampered, KEY.public_key(), now_s=NOW_S, replay_guard=guard)
    assert refused.value.code == "signature_invalid"
    assert len(guard) == 0
    assert verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=guard)


def test_a_wrong_key_is_refused() -> None:
    headers, body = _signed()
    with pytest.raises(SignatureInvalid, match="key id"):
        verify_notification(headers, body, OTHER_KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())
    # A forger who also claims the receiver's key id still fails the signature check.
    forged = sign_notification(
        OTHER_KEY, event_id=EVENT_ID, timestamp_s=NOW_S, body=body, kid=key_id(KEY.public_key())
    )
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_notification(forged, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())


def test_a_changed_timestamp_breaks_the_signature() -> None:
    headers, body = _signed()
    moved = dict(headers)
    moved["x-netfin-signature"] = moved["x-netfin-signature"].replace(f"t={NOW_S}", f"t={NOW_S + 1}")
    with pytest.raises(SignatureInvalid):
        verify_notification(moved, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1,kid=x",
        f"t={NOW_S},kid=abc,sig=" + "A" * 85,
        f"kid=abc,t={NOW_S},sig=" + "A" * 86,
        "t=-1,kid=abc,sig=" + "A" * 86,
        "t=1," * 200,
    ],
)
def test_malformed_signature_headers_are_refused(header: str) -> None:
    headers, body = _signed()
    headers["x-netfin-signature"] = header
    with pytest.raises(SignatureInvalid):
        verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())


def test_a_missing_signature_header_is_refused() -> None:
    _, body = _signed()
    with pytest.raises(SignatureInvalid, match="missing or malformed"):
        verify_notification({}, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())


@pytest.mark.parametrize("skew_s", [-301, 301, -100_000])
def test_timestamps_outside_the_tolerance_are_refused(skew_s: int) -> None:
    headers, body = _signed(timestamp_s=NOW_S + skew_s)
    with pytest.raises(TimestampOutOfTolerance) as refused:
        verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())
    assert refused.value.code == "timestamp_out_of_tolerance"
    assert isinstance(refused.value, NotificationRefused)


@pytest.mark.parametrize("skew_s", [-300, 0, 300])
def test_timestamps_inside_the_tolerance_are_accepted(skew_s: int) -> None:
    headers, body = _signed(timestamp_s=NOW_S + skew_s)
    verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())


def test_the_event_id_header_must_be_the_signed_jti() -> None:
    headers, body = _signed()
    headers["x-netfin-event-id"] = "0190aaaabbbb7ccc8ddd000000000002"
    with pytest.raises(SignatureInvalid, match="jti"):
        verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())


def test_a_signed_body_that_is_no_notification_is_refused() -> None:
    for body in (b"[1, 2]", b"not json", b'{"aud": "x"}'):
        headers = sign_notification(KEY, event_id=EVENT_ID, timestamp_s=NOW_S, body=body)
        with pytest.raises(InvalidInput) as refused:
            verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())
        assert refused.value.code == "notification_body_invalid"


def test_oversized_bodies_and_bad_tolerances_are_refused() -> None:
    body = b"x" * 65_537
    headers = sign_notification(KEY, event_id=EVENT_ID, timestamp_s=NOW_S, body=body)
    with pytest.raises(LimitExceeded):
        verify_notification(headers, body, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())
    headers, body = _signed()
    with pytest.raises(InvalidInput):
        verify_notification(
            headers, body, KEY.public_key(), now_s=NOW_S, tolerance_s=-1, replay_guard=ReplayGuard()
        )


def test_the_guard_forgets_an_id_only_after_it_expires() -> None:
    guard = ReplayGuard()
    guard.remember("a", expires_s=100, now_s=0)
    guard.remember("b", expires_s=200, now_s=0)
    with pytest.raises(NotificationReplayed):
        guard.remember("a", expires_s=100, now_s=100)
    guard.remember("c", expires_s=300, now_s=101)
    assert len(guard) == 2  # "a" expired at 100 and was evicted at 101
    guard.remember("a", expires_s=400, now_s=101)
    with pytest.raises(NotificationReplayed):
        guard.remember("b", expires_s=200, now_s=150)


def test_a_full_guard_refuses_rather_than_forgetting_a_live_id() -> None:
    guard = ReplayGuard(entries_max=2)
    guard.remember("a", expires_s=10, now_s=0)
    guard.remember("b", expires_s=20, now_s=0)
    with pytest.raises(LimitExceeded) as full:
        guard.remember("c", expires_s=30, now_s=5)
    assert full.value.code == "replay_guard_full"
    with pytest.raises(NotificationReplayed):
        guard.remember("a", expires_s=10, now_s=5)
    guard.remember("c", expires_s=30, now_s=11)
    assert len(guard) == 2
    with pytest.raises(InvalidInput):
        ReplayGuard(entries_max=0)


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_breaks_the_signature(position: int, flip: int) -> None:
    headers, body = _signed()
    index = position % len(body)
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(SignatureInvalid):
        verify_notification(headers, changed, KEY.public_key(), now_s=NOW_S, replay_guard=ReplayGuard())
