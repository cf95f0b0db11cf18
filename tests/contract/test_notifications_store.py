"""Notifications on every store: subscriptions, the outbox, fan-out, leases, dead letters."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from netfin.core.ids import SeededIds, format_id
from netfin.notifications import (
    CONSENT_AUTHORIZATION_REVOKED,
    RESOURCE_UPDATE,
    TABLES,
    DeliveryStatus,
    Notifications,
    ReplayGuard,
    append_event,
    verify_notification,
)
from netfin.notifications import store as notification_store
from netfin.storage import metadata, open_engine

CALLBACK = "https://tpp.example/callbacks"


class Answers:
    """An in-process receiver behind httpx.MockTransport: records requests, answers ``status``."""

    def __init__(self) -> None:
        self.status = 202
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(opened, tables=list(TABLES))
    yield opened
    opened.dispose()


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def service(
    engine: sa.Engine, clock: ManualClock, answers: Answers, key: Ed25519PrivateKey
) -> Iterator[Notifications]:
    http = httpx.Client(transport=httpx.MockTransport(answers))
    with Notifications(
        engine,
        clock=clock,
        ids=SeededIds(clock, seed=1),
        signing_key=key,
        http=http,
        attempts_max=3,
        rng=random.Random(3),
    ) as opened:
        yield opened
    http.close()


def _append(
    engine: sa.Engine,
    event_id: int,
    client_id: str | None,
    *,
    event_type: str = RESOURCE_UPDATE,
    clock: ManualClock | None = None,
) -> None:
    with engine.begin() as connection:
        append_event(
            connection,
            event_id=event_id,
            event_type=event_type,
            client_id=client_id,
            subject_kind="domestic-payment",
            subject_id=f"pmt-{event_id}",
            payload={"amount_minor": 100, "currency": "GBP"},
            created_ns=ManualClock().now_ns() if clock is None else clock.now_ns(),
        )


# --- subscriptions ------------------------------------------------------------


def test_a_client_manages_its_own_subscriptions(service: Notifications, clock: ManualClock) -> None:
    created = service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0", event_types=[RESOURCE_UPDATE])
    assert len(created.subscription_id) == 32 and created.event_types == (RESOURCE_UPDATE,)
    assert service.get_subscription("tpp-a", created.subscription_id) == created
    assert service.list_subscriptions("tpp-a") == [created]
    clock.advance(seconds=5)
    updated = service.update_subscription(
        "tpp-a", created.subscription_id, callback_url=CALLBACK + "/v2", version="4.0", event_types=None
    )
    assert updated.callback_url == CALLBACK + "/v2" and updated.event_types is None
    assert updated.updated_ns == created.created_ns + 5 * NS_PER_SECOND
    assert service.get_subscription("tpp-a", created.subscription_id) == updated
    service.delete_subscription("tpp-a", created.subscription_id)
    assert service.list_subscriptions("tpp-a") == []
    with pytest.raises(NotFound):
        service.get_subscription("tpp-a", created.subscription_id)


def test_another_client_can_neither_see_nor_change_a_subscription(service: Notifications) -> None:
    owned = service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    sid = owned.subscription_id
    attempts: list[Callable[[], object]] = [
        lambda: service.get_subscription("tpp-b", sid),
        lambda: service.update_subscription("tpp-b", sid, callback_url=CALLBACK, version="4.0"),
        lambda: service.delete_subscription("tpp-b", sid),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as refused:
            attempt()
        # The answer for another client's id is the answer for an id that never existed.
        with pytest.raises(NotFound) as unknown:
            service.get_subscription("tpp-b", "0" * 32)
        assert (refused.value.code, refused.value.message) == (unknown.value.code, unknown.value.message)
        assert refused.value.code == "event_subscription_not_found"
    assert service.list_subscriptions("tpp-b") == []
    assert service.get_subscription("tpp-a", sid) == owned


def test_a_client_has_at_most_ten_subscriptions(service: Notifications) -> None:
    for number in range(10):
        service.subscribe("tpp-a", callback_url=f"{CALLBACK}/{number}", version="4.0")
    with pytest.raises(LimitExceeded) as refused:
        service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    assert refused.value.code == "event_subscriptions_per_client_exceeded"
    assert len(service.list_subscriptions("tpp-a")) == 10
    assert service.subscribe("tpp-b", callback_url=CALLBACK, version="4.0").client_id == "tpp-b"


@pytest.mark.parametrize(
    ("callback_url", "event_types", "code"),
    [
        ("http://tpp.example/cb", None, "callback_url_insecure"),
        ("javascript:alert(1)", None, "callback_url_invalid"),
        ("https://tpp.example/" + "a" * 2048, None, "callback_url_too_long"),
        (CALLBACK, ["urn:uk:org:openbanking:events:everything"], "event_type_unknown"),
        (CALLBACK, [RESOURCE_UPDATE, "resource-update"], "event_type_unknown"),
    ],
)
def test_bad_subscriptions_are_refused_and_not_stored(
    service: Notifications, callback_url: str, event_types: list[str] | None, code: str
) -> None:
    with pytest.raises((InvalidInput, LimitExceeded)) as refused:
        service.subscribe("tpp-a", callback_url=callback_url, version="4.0", event_types=event_types)
    assert refused.value.code == code
    owned = service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    with pytest.raises((InvalidInput, LimitExceeded)) as refused_update:
        service.update_subscription(
            "tpp-a", owned.subscription_id, callback_url=callback_url, version="4.0", event_types=event_types
        )
    assert refused_update.value.code == code
    assert service.list_subscriptions("tpp-a") == [owned]


def test_an_insecure_localhost_callback_needs_the_embedded_switch(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey
) -> None:
    with Notifications(
        engine, clock=clock, ids=SeededIds(clock), signing_key=key, allow_insecure_localhost=False
    ) as strict:
        with pytest.raises(InvalidInput) as refused:
            strict.subscribe("tpp-a", callback_url="http://127.0.0.1:9/cb", version="4.0")
        assert refused.value.code == "callback_url_insecure"


# --- the outbox ---------------------------------------------------------------


def test_an_event_commits_and_rolls_back_with_the_callers_transaction(
    engine: sa.Engine, service: Notifications
) -> None:
    probe = sa.Table("payments_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    probe.create(engine)
    with pytest.raises(RuntimeError, match="caller failed"), engine.begin() as connection:
        connection.execute(probe.insert().values(id=1))
        append_event(
            connection,
            event_id=11,
            event_type=RESOURCE_UPDATE,
            client_id="tpp-a",
            subject_kind="domestic-payment",
            subject_id="pmt-11",
            payload={},
            created_ns=1,
        )
        raise RuntimeError("caller failed")
    with engine.connect() as connection:
        assert notification_store.select_event(connection, 11) is None
        assert connection.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one() == 0
    assert service.fan_out() == 0
    with engine.begin() as connection:
        connection.execute(probe.insert().values(id=2))
        append_event(
            connection,
            event_id=12,
            event_type=RESOURCE_UPDATE,
            client_id="tpp-a",
            subject_kind="domestic-payment",
            subject_id="pmt-12",
            payload={"why": "committed"},
            created_ns=2,
        )
    with engine.connect() as connection:
        stored = notification_store.select_event(connection, 12)
    assert stored is not None and stored.payload == {"why": "committed"} and stored.dispatched_ns is None
    assert service.fan_out() == 1
    probe.drop(engine)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"event_type": "urn:uk:org:openbanking:events:nope"}, "event_type_unknown"),
        ({"client_id": ""}, "client_id_invalid"),
        ({"subject_kind": "rocket"}, "subject_kind_unknown"),
        ({"subject_id": ""}, "subject_id_invalid"),
        ({"event_id": 0}, "event_id_invalid"),
        ({"created_ns": -1}, "timestamp_invalid"),
        ({"payload": {"subject": 1}}, "event_payload_invalid"),
        ({"payload": {"x": object()}}, "event_payload_invalid"),
        ({"payload": {"x": "y" * 20_000}}, "event_payload_too_large"),
    ],
)
def test_bad_events_are_refused(engine: sa.Engine, changes: dict[str, object], code: str) -> None:
    arguments: dict[str, object] = {
        "event_id": 5,
        "event_type": RESOURCE_UPDATE,
        "client_id": "tpp-a",
        "subject_kind": "domestic-payment",
        "subject_id": "pmt-5",
        "payload": {},
        "created_ns": 1,
    }
    arguments.update(changes)
    with pytest.raises((InvalidInput, LimitExceeded)) as refused, engine.begin() as connection:
        append_event(connection, **arguments)  # type: ignore[arg-type]
    assert refused.value.code == code


def test_fan_out_matches_clients_and_event_types(engine: sa.Engine, service: Notifications) -> None:
    a = service.subscribe("tpp-a", callback_url=CALLBACK + "/a", version="4.0", event_types=[RESOURCE_UPDATE])
    b = service.subscribe(
        "tpp-b", callback_url=CALLBACK + "/b", version="4.0", event_types=[CONSENT_AUTHORIZATION_REVOKED]
    )
    c = service.subscribe("tpp-c", callback_url=CALLBACK + "/c", version="4.0")
    _append(engine, 1, "tpp-a")  # a only
    _append(engine, 2, None)  # broadcast resource-update: a and c
    _append(engine, 3, "tpp-b")  # b does not want resource-update
    _append(engine, 4, "tpp-b", event_type=CONSENT_AUTHORIZATION_REVOKED)  # b
    _append(engine, 5, "tpp-d")  # nobody subscribed
    assert service.fan_out(limit=2) == 2
    assert service.fan_out() == 3
    assert service.fan_out() == 0
    made = service.deliveries(limit=100).deliveries
    assert sorted((d.event_id, d.subscription_id) for d in made) == sorted(
        [(1, a.subscription_id), (2, a.subscription_id), (2, c.subscription_id), (4, b.subscription_id)]
    )
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in made)
    assert {d.callback_url for d in made if d.client_id == "tpp-c"} == {CALLBACK + "/c"}
    with pytest.raises(LimitExceeded):
        service.fan_out(limit=5_001)


# --- delivery, leases and dead letters -----------------------------------------


def test_a_delivery_is_signed_and_marked_delivered(
    engine: sa.Engine, service: Notifications, answers: Answers, key: Ed25519PrivateKey, clock: ManualClock
) -> None:
    service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    _append(engine, 7, "tpp-a", clock=clock)
    service.fan_out()
    stats = service.deliver_due()
    assert (stats.claimed, stats.delivered, stats.retried, stats.dead) == (1, 1, 0, 0)
    [request] = answers.requests
    assert str(request.url) == CALLBACK + "/event-notifications"
    assert request.headers["x-fapi-interaction-id"].count("-") == 4
    claims = verify_notification(
        request.headers,
        request.content,
        key.public_key(),
        now_s=clock.now_ns() // NS_PER_SECOND,
        replay_guard=ReplayGuard(),
    )
    assert claims["jti"] == format_id(7) and claims["aud"] == "tpp-a"
    assert claims["sub"].endswith("/pisp/domestic-payments/pmt-7")
    [delivery] = service.deliveries().deliveries
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.delivered_ns == clock.now_ns()
    assert delivery.last_status_code == 202 and delivery.attempts == 0
    assert service.deliver_due().claimed == 0


def test_a_leased_delivery_is_not_claimed_twice(engine: sa.Engine, service: Notifications) -> None:
    service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    for event_id in range(1, 6):
        _append(engine, event_id, "tpp-a")
    service.fan_out()
    now_ns = ManualClock().now_ns()
    lease_ns = now_ns + 60 * NS_PER_SECOND
    with engine.begin() as connection:
        first = notification_store.claim_due(
            connection, token=b"1" * 16, now_ns=now_ns, lease_until_ns=lease_ns, limit=3
        )
    with engine.begin() as connection:
        second = notification_store.claim_due(
            connection, token=b"2" * 16, now_ns=now_ns, lease_until_ns=lease_ns, limit=10
        )
    assert len(first) == 3 and len(second) == 2
    assert not {d.delivery_id for d, _ in first} & {d.delivery_id for d, _ in second}
    with engine.begin() as connection:
        assert (
            notification_store.claim_due(
                connection, token=b"3" * 16, now_ns=now_ns, lease_until_ns=lease_ns, limit=10
            )
            == []
        )
        # An outcome under a lost lease is not recorded.
        assert not notification_store.record_outcome(
            connection, first[0][0].delivery_id, token=b"2" * 16, values={"attempts": 1}
        )
    # A lease that ran out (its dispatcher died) frees the delivery.
    with engine.begin() as connection:
        again = notification_store.claim_due(
            connection, token=b"4" * 16, now_ns=lease_ns, lease_until_ns=lease_ns + 1, limit=10
        )
    assert len(again) == 5


def test_failures_end_as_dead_letters_that_an_operator_replays(
    engine: sa.Engine, service: Notifications, answers: Answers, clock: ManualClock
) -> None:
    service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    service.subscribe("tpp-b", callback_url=CALLBACK, version="4.0")
    _append(engine, 1, "tpp-a")
    _append(engine, 2, "tpp-b")
    service.fan_out()
    answers.status = 503
    for _ in range(3):
        clock.advance(seconds=3600)
        service.deliver_due()
    assert len(answers.requests) == 6
    dead = service.dead_letters()
    assert len(dead.deliveries) == 2 and dead.next_cursor is None
    assert all(d.attempts == 3 and d.last_error == "HTTP 503" for d in dead.deliveries)
    first_page = service.dead_letters(limit=1)
    second_page = service.dead_letters(cursor=first_page.next_cursor, limit=1)
    assert first_page.next_cursor is not None and second_page.next_cursor is None
    assert [d.event_id for d in first_page.deliveries + second_page.deliveries] == [1, 2]
    [only_b] = service.dead_letters(client_id="tpp-b").deliveries
    assert only_b.event_id == 2
    clock.advance(seconds=3600)
    assert service.deliver_due().claimed == 0
    service.replay(only_b.delivery_id, actor="ops-1")
    revived = service.get_delivery(only_b.delivery_id)
    assert (revived.status, revived.attempts, revived.replays) == (DeliveryStatus.PENDING, 0, 1)
    assert revived.next_attempt_ns == clock.now_ns()
    assert service.replay_count(only_b.delivery_id) == 1
    with pytest.raises(Conflict) as not_dead:
        service.replay(only_b.delivery_id)
    assert not_dead.value.code == "delivery_not_dead"
    answers.status = 200
    stats = service.deliver_due()
    assert (stats.claimed, stats.delivered) == (1, 1)
    assert [d.event_id for d in service.dead_letters().deliveries] == [1]


def test_replay_refuses_unknown_ids_and_deleted_subscriptions(
    engine: sa.Engine, service: Notifications
) -> None:
    owned = service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    _append(engine, 1, "tpp-a")
    service.fan_out()
    with pytest.raises(NotFound) as unknown:
        service.replay(12345)
    assert unknown.value.code == "delivery_not_found"
    service.delete_subscription("tpp-a", owned.subscription_id)
    [buried] = service.dead_letters().deliveries
    assert buried.last_error == "subscription_deleted"
    with pytest.raises(Conflict) as gone:
        service.replay(buried.delivery_id)
    assert gone.value.code == "subscription_deleted"
    assert service.deliver_due().claimed == 0


def test_an_update_moves_pending_deliveries_to_the_new_url(
    engine: sa.Engine, service: Notifications, answers: Answers
) -> None:
    owned = service.subscribe("tpp-a", callback_url=CALLBACK, version="4.0")
    _append(engine, 1, "tpp-a")
    service.fan_out()
    service.update_subscription("tpp-a", owned.subscription_id, callback_url=CALLBACK + "/new", version="4.0")
    service.deliver_due()
    assert [str(r.url) for r in answers.requests] == [CALLBACK + "/new/event-notifications"]


def test_page_cursors_and_sizes_are_checked(service: Notifications) -> None:
    for cursor in ("not-a-cursor", "0", "-5"):
        with pytest.raises(InvalidInput) as refused:
            service.dead_letters(cursor=cursor)
        assert refused.value.code == "cursor_invalid"
    with pytest.raises(LimitExceeded):
        service.dead_letters(limit=501)
    with pytest.raises(LimitExceeded):
        service.deliver_due(limit=1_001)


def test_the_stored_event_types_round_trip_as_json(engine: sa.Engine, service: Notifications) -> None:
    owned = service.subscribe(
        "tpp-a", callback_url=CALLBACK, version="4.0", event_types=[CONSENT_AUTHORIZATION_REVOKED]
    )
    with engine.connect() as connection:
        text = connection.execute(
            sa.select(notification_store.event_subscriptions.c.event_types).where(
                notification_store.event_subscriptions.c.subscription_id == owned.subscription_id
            )
        ).scalar_one()
    assert orjson.loads(text) == [CONSENT_AUTHORIZATION_REVOKED]
