"""One party of a multi-party protocol: an HTTP mailbox to receive, a client to send.

Each party runs in its own process and listens on its own port. A message is
one HTTP POST to the receiver's ``/v1/messages`` carrying the session, the
sender, the message kind and a per-pair sequence number in headers, and the
encoded message (``codec``) as the body. The receiver refuses a sender it was
not introduced to, another session, a wrong session token, a sequence number
out of order (a replay or a loss) and a body over ``codec.MESSAGE_BYTES_MAX``.
Both sides write the message to their ``MessageAudit``.

The session token is a shared secret handed to every party by whoever starts
the session; between organisations the same channel runs behind mutual TLS
at the edge (docs/privacy.md), which this module does not terminate itself.
"""

from __future__ import annotations

import hmac
import http.client
import queue
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from netfin.core.errors import Conflict, InvalidInput, NetfinError, Unauthenticated
from netfin.privacy import codec
from netfin.privacy.audit import MessageAudit

RECEIVE_TIMEOUT_S = 600.0
CONNECT_WAIT_S = 30.0
KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class ProtocolError(NetfinError):
    """A peer broke the protocol, went away or did not answer in time."""

    code = "protocol_error"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    party: Party


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the audit is the record."""

    def do_POST(self) -> None:
        party = self.server.party
        if self.path != "/v1/messages":
            self._reply(404, b"unknown path")
            return
        try:
            length = int(self.headers.get("Content-Length", "-1"))
            if length < 0 or length > codec.MESSAGE_BYTES_MAX:
                self._reply(413, b"message too large or without a length")
                return
            body = self.rfile.read(length)
            party._deliver(
                sender=self.headers.get("X-Netfin-From", ""),
                session=self.headers.get("X-Netfin-Session", ""),
                token=self.headers.get("X-Netfin-Token", ""),
                kind=self.headers.get("X-Netfin-Kind", ""),
                seq=int(self.headers.get("X-Netfin-Seq", "-1")),
                payload=body,
            )
        except Unauthenticated as exc:
            self._reply(401, str(exc).encode())
            return
        except (NetfinError, ValueError) as exc:
            self._reply(409, str(exc).encode())
            return
        self._reply(204, b"")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class Party:
    """This process's end of a session: ``send`` to a peer, ``recv`` from one."""

    def __init__(
        self,
        name: str,
        *,
        session: str,
        token: str,
        audit: MessageAudit,
        host: str = "127.0.0.1",
        port: int = 0,
        receive_timeout_s: float = RECEIVE_TIMEOUT_S,
    ) -> None:
        if not name or len(name) > 64 or not set(name) <= KIND_CHARS:
            raise InvalidInput(f"party name {name!r} must be 1-64 characters of a-z, 0-9, _ . -")
        if len(token) < 16:
            raise InvalidInput("the session token must have at least 16 characters")
        self.name = name
        self.session = session
        self._token = token
        self.audit = audit
        self.receive_timeout_s = receive_timeout_s
        self._peers: dict[str, tuple[str, int]] = {}
        self._connections: dict[str, http.client.HTTPConnection] = {}
        self._send_locks: dict[str, threading.Lock] = {}
        self._sent_seq: dict[str, int] = {}
        self._recv_seq: dict[str, int] = {}
        self._mailboxes: dict[tuple[str, str], queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.party = self
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"party-{name}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def peers(self) -> list[str]:
        return sorted(self._peers)

    def connect(self, peers: Mapping[str, str]) -> None:
        """Introduce the other parties of the session by name and URL."""
        for peer, url in peers.items():
            if peer == self.name:
                continue
            parts = urlsplit(url)
            if parts.scheme != "http" or parts.hostname is None or parts.port is None:
                raise InvalidInput(f"peer {peer!r}: {url!r} is not an http://host:port URL")
            with self._lock:
                self._peers[peer] = (parts.hostname, parts.port)
                self._send_locks[peer] = threading.Lock()
                self._sent_seq[peer] = 0
                self._recv_seq[peer] = 0
        self._connected.set()

    def send(self, peer: str, kind: str, message: Mapping[str, Any]) -> None:
        address = self._peers.get(peer)
        if address is None:
            raise InvalidInput(f"{peer!r} is not a peer of this session")
        _check_kind(kind)
        payload = codec.dumps(message)
        with self._send_locks[peer]:
            seq = self._sent_seq[peer] + 1
            headers = {
                "X-Netfin-From": self.name,
                "X-Netfin-Session": self.session,
                "X-Netfin-Token": self._token,
                "X-Netfin-Kind": kind,
                "X-Netfin-Seq": str(seq),
                "Content-Type": "application/octet-stream",
            }
            status, reason = self._post(peer, address, payload, headers)
            if status != 204:
                raise ProtocolError(f"{peer} refused {kind!r} (HTTP {status}): {reason}")
            self._sent_seq[peer] = seq
            self.audit.record(
                direction="sent", peer=peer, session=self.session, kind=kind, seq=seq, payload=payload
            )

    def _post(
        self, peer: str, address: tuple[str, int], payload: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        for attempt in (1, 2):
            connection = self._connections.get(peer)
            if connection is None:
                connection = http.client.HTTPConnection(*address, timeout=self.receive_timeout_s)
                self._connections[peer] = connection
            try:
                connection.request("POST", "/v1/messages", body=payload, headers=headers)
                response = connection.getresponse()
                return response.status, response.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self._connections.pop(peer, None)
                if attempt == 2:
                    raise ProtocolError(f"cannot reach {peer} at {address[0]}:{address[1]}: {exc}") from exc
        raise ProtocolError(f"cannot reach {peer}")  # pragma: no cover - the loop returns or raises

    def recv(self, peer: str, kind: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """The next message of ``kind`` from ``peer``; waits for it."""
        if peer not in self._peers:
            raise InvalidInput(f"{peer!r} is not a peer of this session")
        _check_kind(kind)
        try:
            return self._mailbox(peer, kind).get(timeout=timeout_s or self.receive_timeout_s)
        except queue.Empty as exc:
            raise ProtocolError(
                f"no {kind!r} from {peer} within {timeout_s or self.receive_timeout_s} s"
            ) from exc

    def _mailbox(self, peer: str, kind: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._mailboxes.setdefault((peer, kind), queue.Queue())

    def _deliver(self, *, sender: str, session: str, token: str, kind: str, seq: int, payload: bytes) -> None:
        if not hmac.compare_digest(token.encode(), self._token.encode()):
            raise Unauthenticated("wrong session token")
        # a peer may start before this party has read the table of peers
        self._connected.wait(timeout=CONNECT_WAIT_S)
        if session != self.session:
            raise Conflict(f"session {session!r} is not this party's session")
        if sender not in self._peers:
            raise Unauthenticated(f"{sender!r} is not a peer of this session")
        _check_kind(kind)
        message = codec.loads(payload)
        with self._lock:
            if seq != self._recv_seq[sender] + 1:
                raise Conflict(
                    f"message {seq} from {sender} out of order (expected {self._recv_seq[sender] + 1})"
                )
            self._recv_seq[sender] = seq
            self.audit.record(
                direction="received", peer=sender, session=session, kind=kind, seq=seq, payload=payload
            )
            self._mailboxes.setdefault((sender, kind), queue.Queue()).put(message)

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._server.shutdown()
        self._server.server_close()
        self.audit.close()


def _check_kind(kind: str) -> None:
    if not kind or len(kind) > 64 or not set(kind) <= KIND_CHARS:
        raise InvalidInput(f"message kind {kind!r} must be 1-64 characters of a-z, 0-9, _ . -")
