"""Notifications over real HTTP to a receiver on loopback, on every store.

The receiver is a small threaded ``http.server`` that checks each request
with ``verify_notification`` and its own ``ReplayGuard``, as a TPP would.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.ids import SeededIds, format_id
from netfin.notifications import (
    RESOURCE_UPDATE,
    TABLES,
    DeliveryStatus,
    NotificationRefused,
    Notifications,
    ReplayGuard,
    append_event,
    verify_notification,
)
from netfin.notifications.model import backoff_cap_ns
from netfin.storage import metadata, open_engine

BODY_BYTES_MAX = 65_536
WAIT_S_MAX = 20


class Receiver:
    """A TPP's notification endpoint.

    ``mode``: healthy; failing (500); redirect (307); slow (accepts, and a
    minute passes on the shared clock while it answers).
    """

    def __init__(self, clock: ManualClock, public_key: Ed25519PublicKey) -> None:
        self.clock = clock
        self.public_key = public_key
        self.guard = ReplayGuard()
        self.mode = "healthy"
        self.accepted: list[dict[str, object]] = []
        self.refused: list[str] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def callback_url(self) -> str:
        return self.base_url + "/tpp"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append((path, headers, body))
        if self.mode == "failing":
            return 500, b"down"
        if self.mode == "redirect":
            return 307, b""
        try:
            claims = verify_notification(
                headers,
                body,
                self.public_key,
                now_s=self.clock.now_ns() // NS_PER_SECOND,
                replay_guard=self.guard,
            )
        except NotificationRefused as refused:
            with self._lock:
                self.refused.append(refused.code)
            return 401, refused.code.encode()
        with self._lock:
            self.accepted.append(claims)
            if self.mode == "slow":
                self.clock.advance(seconds=60)
        return 202, b""

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            if length > BODY_BYTES_MAX:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            status, answer = receiver.handle(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            if status == 307:
                self.send_header("location", receiver.base_url + "/elsewhere")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(opened, tables=list(TABLES))
    yield opened
    opened.dispose()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def receiver(clock: ManualClock, key: Ed25519PrivateKey) -> Iterator[Receiver]:
    opened = Receiver(clock, key.public_key())
    yield opened
    opened.close()


def _service(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, **options: object
) -> Notifications:
    return Notifications(engine, clock=clock, ids=SeededIds(clock, seed=9), signing_key=key, **options)  # type: ignore[arg-type]


def _append(engine: sa.Engine, clock: ManualClock, event_id: int, client_id: str = "tpp-a") -> None:
    with engine.begin() as connection:
        append_event(
            connection,
            event_id=event_id,
            event_type=RESOURCE_UPDATE,
            client_id=client_id,
            subject_kind="domestic-payment",
            subject_id=f"pmt-{event_id}",
            payload={},
            created_ns=clock.now_ns(),
        )


def test_a_receiver_accepts_a_signed_notification_once(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, receiver: Receiver
) -> None:
    with _service(engine, clock, key) as service:
        service.subscribe("tpp-a", callback_url=receiver.callback_url, version="4.0")
        _append(engine, clock, 101)
        assert service.fan_out() == 1
        stats = service.deliver_due()
    assert (stats.claimed, stats.delivered) == (1, 1)
    [claims] = receiver.accepted
    assert claims["jti"] == format_id(101) and claims["aud"] == "tpp-a" and claims["iss"] == "netfin"
    assert RESOURCE_UPDATE in claims["events"]  # type: ignore[operator]
    [(path, headers, body)] = receiver.requests
    assert path == "/tpp/event-notifications"
    lowered = {name.lower(): value for name, value in headers.items()}
    assert lowered["content-type"] == "application/json"
    assert lowered["x-netfin-event-id"] == format_id(101)
    assert lowered["x-netfin-signature"].startswith(
        f"t={clock.now_ns() // NS_PER_SECOND},kid={service.key_id},"
    )

    with httpx.Client() as client:
        replayed = client.post(receiver.base_url + path, content=body, headers=headers)
        assert (replayed.status_code, replayed.text) == (401, "notification_replayed")

        tampered = client.post(
            receiver.base_url + path, content=body.replace(b"pmt-101", b"pmt-999"), headers=headers
        )
        assert (tampered.status_code, tampered.text) == (401, "signature_invalid")

        receiver.public_key = Ed25519PrivateKey.generate().public_key()
        receiver.guard = ReplayGuard()
        wrong_key = client.post(receiver.base_url + path, content=body, headers=headers)
        assert (wrong_key.status_code, wrong_key.text) == (401, "signature_invalid")

        receiver.public_key = key.public_key()
        clock.advance(seconds=301)
        stale = client.post(receiver.base_url + path, content=body, headers=headers)
        assert (stale.status_code, stale.text) == (401, "timestamp_out_of_tolerance")
    assert len(receiver.accepted) == 1


def test_a_failing_receiver_gets_backed_off_retries_then_a_dead_letter_and_a_replay(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, receiver: Receiver
) -> None:
    receiver.mode = "failing"
    seed = 7
    expected = random.Random(seed)
    options = {"attempts_max": 4, "backoff_base_s": 1, "backoff_max_s": 3, "rng": random.Random(seed)}
    with _service(engine, clock, key, **options) as service:
        service.subscribe("tpp-a", callback_url=receiver.callback_url, version="4.0")
        _append(engine, clock, 202)
        service.fan_out()
        caps = []
        for attempt in range(1, 4):
            stats = service.deliver_due()
            assert (stats.claimed, stats.retried) == (1, 1)
            [delivery] = service.deliveries().deliveries
            cap = backoff_cap_ns(attempt, base_s=1, max_s=3)
            delay = delivery.next_attempt_ns - clock.now_ns()
            assert delay == expected.randint(0, cap)
            assert 0 <= delay <= cap
            assert (delivery.attempts, delivery.last_status_code, delivery.status) == (
                attempt,
                500,
                DeliveryStatus.PENDING,
            )
            caps.append(cap // NS_PER_SECOND)
            if delay > 0:
                clock.set(delivery.next_attempt_ns - 1)
                assert service.deliver_due().claimed == 0  # not due yet
            clock.set(delivery.next_attempt_ns)
        assert caps == [1, 2, 3]
        assert service.deliver_due().dead == 1
        assert len(receiver.requests) == 4

        [dead] = service.dead_letters(client_id="tpp-a").deliveries
        assert (dead.status, dead.attempts, dead.last_error) == (DeliveryStatus.DEAD, 4, "HTTP 500")
        assert service.dead_letters(client_id="tpp-b").deliveries == []
        clock.advance(seconds=3600)
        assert service.deliver_due().claimed == 0

        receiver.mode = "healthy"
        service.replay(dead.delivery_id, actor="ops-7")
        stats = service.deliver_due()
        assert (stats.claimed, stats.delivered) == (1, 1)
        delivered = service.get_delivery(dead.delivery_id)
        assert (delivered.status, delivered.replays) == (DeliveryStatus.DELIVERED, 1)
        assert service.dead_letters().deliveries == []
    assert [claims["jti"] for claims in receiver.accepted] == [format_id(202)]


def test_redirects_are_not_followed_and_refused_connections_are_retried(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, receiver: Receiver
) -> None:
    receiver.mode = "redirect"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with _service(engine, clock, key) as service:
        service.subscribe("tpp-a", callback_url=receiver.callback_url, version="4.0")
        service.subscribe("tpp-b", callback_url=f"http://127.0.0.1:{closed_port}/tpp", version="4.0")
        _append(engine, clock, 301, "tpp-a")
        _append(engine, clock, 302, "tpp-b")
        service.fan_out()
        stats = service.deliver_due()
        assert (stats.claimed, stats.retried) == (2, 2)
        by_client = {d.client_id: d for d in service.deliveries().deliveries}
    assert [path for path, _, _ in receiver.requests] == ["/tpp/event-notifications"]
    assert (by_client["tpp-a"].last_status_code, by_client["tpp-a"].last_error) == (307, "HTTP 307")
    assert by_client["tpp-b"].last_status_code is None
    assert (by_client["tpp-b"].last_error or "").startswith("ConnectError")


def test_two_dispatchers_never_deliver_the_same_notification_twice(
    empty_store_url: str, engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, receiver: Receiver
) -> None:
    events = 30
    with _service(engine, clock, key) as service:
        service.subscribe("tpp-a", callback_url=receiver.callback_url, version="4.0")
        for event_id in range(1, events + 1):
            _append(engine, clock, event_id)
        service.fan_out()
    second_engine = open_engine(empty_store_url, run_migrations=False)
    totals: list[int] = []
    failures: list[BaseException] = []

    def dispatch(on: sa.Engine, seed: int) -> None:
        delivered = 0
        try:
            with Notifications(
                on, clock=clock, ids=SeededIds(clock, seed=seed), signing_key=key
            ) as dispatcher:
                while (stats := dispatcher.deliver_due(limit=4)).claimed:
                    delivered += stats.delivered
        except BaseException as error:
            failures.append(error)
        totals.append(delivered)

    threads = [threading.Thread(target=dispatch, args=(e, s)) for e, s in ((engine, 1), (second_engine, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S_MAX)
    second_engine.dispose()
    assert failures == []
    assert sum(totals) == events, totals
    assert receiver.refused == []
    assert sorted(str(claims["jti"]) for claims in receiver.accepted) == [
        format_id(n) for n in range(1, events + 1)
    ]


def test_run_fans_out_and_delivers_until_stopped(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, receiver: Receiver
) -> None:
    stop = threading.Event()
    with _service(engine, clock, key) as service:
        service.subscribe("tpp-a", callback_url=receiver.callback_url, version="4.0")
        runner = threading.Thread(target=service.run, args=(stop,), kwargs={"interval_s": 0.01})
        runner.start()
        try:
            _append(engine, clock, 401)
            deadline = time.monotonic() + WAIT_S_MAX
            while not receiver.accepted and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            runner.join(WAIT_S_MAX)
    assert not runner.is_alive()
    assert [claims["jti"] for claims in receiver.accepted] == [format_id(401)]


def test_a_dispatcher_gives_back_what_its_lease_no_longer_covers(
    engine: sa.Engine, clock: ManualClock, key: Ed25519PrivateKey, receiver: Receiver
) -> None:
    receiver.mode = "slow"
    with _service(engine, clock, key) as service:
        service.subscribe("tpp-a", callback_url=receiver.callback_url, version="4.0")
        for event_id in range(1, 5):
            _append(engine, clock, event_id)
        service.fan_out()
        first = service.deliver_due()
        # A 120 s lease: two one-minute answers leave less than one request's
        # worst case, so the other two go back at once rather than risk a race.
        assert (first.claimed, first.delivered, first.released) == (4, 2, 2)
        second = service.deliver_due()
        assert (second.claimed, second.delivered, second.released) == (2, 2, 0)
    assert sorted(str(claims["jti"]) for claims in receiver.accepted) == [format_id(n) for n in range(1, 5)]
