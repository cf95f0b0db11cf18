"""Pure rules of notifications: callback URLs, event types, backoff, the notification body."""

from __future__ import annotations

import random

import pytest

from netfin.core.clock import NS_PER_SECOND
from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.notifications.model import (
    CALLBACK_URL_LENGTH_MAX,
    CONSENT_AUTHORIZATION_REVOKED,
    RESOURCE_UPDATE,
    OutboxEvent,
    Subscription,
    backoff_cap_ns,
    backoff_delay_ns,
    build_notification,
    check_callback_url,
    check_client_id,
    check_event_types,
    check_limit,
    check_subject,
    notification_url,
    subscription_data,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://tpp.example/callbacks",
        "https://tpp.example:8443/a/b/",
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]:8080/hook",
    ],
)
def test_good_callback_urls_are_accepted(url: str) -> None:
    assert check_callback_url(url, allow_insecure_localhost=True) == url


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://tpp.example/hook", "callback_url_insecure"),
        ("http://127.0.0.1.evil.example/hook", "callback_url_insecure"),
        ("ftp://tpp.example/hook", "callback_url_invalid"),
        ("https:///no-host", "callback_url_invalid"),
        ("tpp.example/hook", "callback_url_invalid"),
        ("https://user:pw@tpp.example/hook", "callback_url_invalid"),
        ("https://tpp.example/hook?x=1", "callback_url_invalid"),
        ("https://tpp.example/hook#frag", "callback_url_invalid"),
        ("https://tpp.example/a b", "callback_url_invalid"),
        ("https://tpp.example:99999/hook", "callback_url_invalid"),
        ("", "callback_url_required"),
    ],
)
def test_bad_callback_urls_are_refused(url: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_callback_url(url, allow_insecure_localhost=True)
    assert refused.value.code == code


def test_plain_http_on_localhost_needs_the_embedded_switch() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_callback_url("http://127.0.0.1:9000/hook", allow_insecure_localhost=False)
    assert refused.value.code == "callback_url_insecure"
    assert check_callback_url("https://localhost/hook", allow_insecure_localhost=False)


def test_callback_url_length_is_limited() -> None:
    prefix = "https://tpp.example/"
    longest = prefix + "a" * (CALLBACK_URL_LENGTH_MAX - len(prefix))
    assert check_callback_url(longest, allow_insecure_localhost=False) == longest
    with pytest.raises(LimitExceeded) as refused:
        check_callback_url(longest + "a", allow_insecure_localhost=False)
    assert refused.value.code == "callback_url_too_long"


def test_event_types_are_checked_and_deduplicated() -> None:
    assert check_event_types(None) is None
    assert check_event_types([RESOURCE_UPDATE, CONSENT_AUTHORIZATION_REVOKED, RESOURCE_UPDATE]) == (
        RESOURCE_UPDATE,
        CONSENT_AUTHORIZATION_REVOKED,
    )
    for bad, code in [
        (["urn:uk:org:openbanking:events:made-up"], "event_type_unknown"),
        ([], "event_types_empty"),
        (RESOURCE_UPDATE, "event_types_invalid"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            check_event_types(bad)
        assert refused.value.code == code
    with pytest.raises(LimitExceeded):
        check_event_types([RESOURCE_UPDATE] * 17)


def test_ids_subjects_and_limits_are_checked() -> None:
    with pytest.raises(InvalidInput, match="client id") as refused:
        check_client_id("")
    assert refused.value.code == "client_id_invalid"
    with pytest.raises(InvalidInput) as refused:
        check_client_id("x" * 129)
    assert refused.value.code == "client_id_invalid"
    with pytest.raises(InvalidInput) as refused:
        check_subject("spaceship", "1")
    assert refused.value.code == "subject_kind_unknown"
    with pytest.raises(InvalidInput) as refused:
        check_subject("domestic-payment", "has space")
    assert refused.value.code == "subject_id_invalid"
    with pytest.raises(LimitExceeded) as too_big:
        check_limit(11, 10, "limit")
    assert too_big.value.code == "limit_too_large"
    with pytest.raises(InvalidInput):
        check_limit(0, 10, "limit")


def test_backoff_cap_doubles_up_to_the_maximum() -> None:
    caps = [backoff_cap_ns(n, base_s=1, max_s=20) // NS_PER_SECOND for n in range(1, 8)]
    assert caps == [1, 2, 4, 8, 16, 20, 20]
    assert backoff_cap_ns(10_000, base_s=2, max_s=3600) == 3600 * NS_PER_SECOND


def test_backoff_delay_is_full_jitter_and_reproducible() -> None:
    first = [backoff_delay_ns(n, base_s=1, max_s=60, rng=random.Random(5)) for n in range(1, 8)]
    again = [backoff_delay_ns(n, base_s=1, max_s=60, rng=random.Random(5)) for n in range(1, 8)]
    assert first == again
    for attempts, delay in enumerate(first, start=1):
        assert 0 <= delay <= backoff_cap_ns(attempts, base_s=1, max_s=60)
    spread = {backoff_delay_ns(3, base_s=1, max_s=60, rng=random.Random(seed)) for seed in range(50)}
    assert min(spread) < NS_PER_SECOND and max(spread) > 3 * NS_PER_SECOND


def _event(event_type: str, payload: dict[str, object]) -> OutboxEvent:
    return OutboxEvent(
        seq=1,
        event_id=0x0190_0000_0000_7000_8000_0000_0000_0001,
        event_type=event_type,
        client_id="tpp-a",
        subject_kind="domestic-payment",
        subject_id="pmt-1",
        payload=payload,
        created_ns=1_767_225_600 * NS_PER_SECOND + 5,
        dispatched_ns=None,
    )


def test_resource_update_notification_has_the_v4_shape() -> None:
    claims = build_notification(
        _event(RESOURCE_UPDATE, {"internal": 1}),
        audience="tpp-a",
        issuer="netfin",
        resource_base_url="https://bank.example/open-banking/v4.0/",
        issued_at_s=1_767_225_700,
    )
    link = "https://bank.example/open-banking/v4.0/pisp/domestic-payments/pmt-1"
    assert claims == {
        "iss": "netfin",
        "iat": 1_767_225_700,
        "jti": "01900000000070008000000000000001",
        "aud": "tpp-a",
        "sub": link,
        "txn": "01900000000070008000000000000001",
        "toe": 1_767_225_600,
        "events": {
            RESOURCE_UPDATE: {
                "subject": {
                    "subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty",
                    "http://openbanking.org.uk/rid": "pmt-1",
                    "http://openbanking.org.uk/rty": "domestic-payment",
                    "http://openbanking.org.uk/rlk": [{"version": "v4.0", "link": link}],
                }
            }
        },
    }


def test_other_event_types_carry_their_payload_members() -> None:
    claims = build_notification(
        _event(CONSENT_AUTHORIZATION_REVOKED, {"reason": "revoked by customer"}),
        audience="tpp-a",
        issuer="netfin",
        resource_base_url="https://bank.example/open-banking/v4.0",
        issued_at_s=1,
    )
    detail = claims["events"][CONSENT_AUTHORIZATION_REVOKED]
    assert detail["reason"] == "revoked by customer"
    assert detail["subject"]["http://openbanking.org.uk/rid"] == "pmt-1"


def test_notifications_go_to_the_event_notifications_resource() -> None:
    assert notification_url("https://tpp.example/cb/") == "https://tpp.example/cb/event-notifications"
    assert notification_url("https://tpp.example") == "https://tpp.example/event-notifications"


def test_subscription_data_uses_the_v4_field_names() -> None:
    every = Subscription("s1", "tpp-a", "https://tpp.example/cb", "4.0", None, 1, 1)
    assert subscription_data(every) == {
        "EventSubscriptionId": "s1",
        "CallbackUrl": "https://tpp.example/cb",
        "Version": "4.0",
    }
    some = Subscription("s2", "tpp-a", "https://tpp.example/cb", "4.0", (RESOURCE_UPDATE,), 1, 1)
    assert subscription_data(some)["EventTypes"] == [RESOURCE_UPDATE]
    assert some.wants(RESOURCE_UPDATE) and not some.wants(CONSENT_AUTHORIZATION_REVOKED)
    assert every.wants(CONSENT_AUTHORIZATION_REVOKED)
