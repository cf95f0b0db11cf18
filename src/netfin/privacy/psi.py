"""Private set intersection (ECDH-PSI) between the party processes of a session.

One party, the *leader* (the bank), learns which of its ids every other party
(a *follower*) also holds; every party ends with the *global* intersection of
all parties' ids, sorted, and nothing else about the others' ids. Semi-honest
model: every party follows the protocol and may study what it received.

Group. Curve25519 through X25519 (``cryptography``, OpenSSL). An id is hashed
to the curve with the RFC 9380 suite ``curve25519_XMD:SHA-512_ELL2_NU_``
(``expand_message_xmd`` with SHA-512, then Elligator 2) under a domain tag
that names the protocol, the session and the purpose, so a hash from one
session is useless in another. The Elligator 2 image may carry a component of
order 2, 4 or 8; X25519 clamps every secret scalar to a multiple of 8, which
clears that cofactor, so every blinded point lies in the prime-order subgroup.
X25519 works on u-coordinates only, that is on points up to sign, which keeps
``[a][b]P == [b][a]P``. A point from a peer is refused unless it is a
canonical u-coordinate of a point on the curve itself (not on its twist) and
of large order (X25519 then refuses an all-zero result). Measured on the
2-core machine (docs/privacy-psi.md), CPU time per operation: X25519 36 us
against 76 us for libsodium's ``crypto_scalarmult_ed25519_noclamp`` (which
checks the subgroup on every call), and 7 us for this hash to the curve
against 24 us for ``crypto_core_ed25519_from_uniform``.

Protocol, for each follower F with ids Y and the leader with ids X, fresh
secret scalars ``a`` (leader) and ``b`` (F):

1. every party tells every other the protocol version and who it thinks the
   leader is; the leader and F also exchange their set sizes;
2. F sends ``H(y)^b`` for its ids in a random order; the leader sends
   ``H(x)^a`` in a random order of its own;
3. F returns ``H(x)^{ab}`` in the order it received them; the leader computes
   ``H(y)^{ba}`` and matches, which gives it the pairwise intersection of X
   and Y;
4. once all followers are matched, the leader intersects the pairwise
   intersections and tells F the positions, in the order F sent, that lie in
   the global intersection; F maps them back to its ids.

What leaks: every party learns the set size of the parties it exchanges
points with (leader <-> follower) and the size of the global intersection;
the leader learns each pairwise intersection. A follower never sees
``H(y)^{ba}``, so it cannot tell which of its ids the leader holds unless the
id is in the global intersection. Points travel in chunks of
``CHUNK_POINTS`` so no message nears ``codec.MESSAGE_BYTES_MAX``.

Public names: ``intersect``, ``psi_party``, ``run_psi``, ``hash_to_curve``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import gmpy2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from netfin.core.errors import Conflict, InvalidInput, LimitExceeded
from netfin.privacy.audit import PayloadMode
from netfin.privacy.progress import report_progress
from netfin.privacy.runner import PartySpec, run_parties
from netfin.privacy.transport import Party, ProtocolError

__all__ = [
    "CHUNK_POINTS",
    "IDS_MAX",
    "ID_BYTES_MAX",
    "hash_to_curve",
    "intersect",
    "psi_party",
    "read_ids",
    "run_psi",
]

PROTOCOL_VERSION = 1
GROUP = "curve25519-x25519-ell2"
IDS_MAX = 10_000_000
ID_BYTES_MAX = 256
CHUNK_POINTS = 100_000
POINT_BYTES = 32
SESSION_CHARS_MAX = 128
OUTBOX_MESSAGES_MAX = 4
RESULT_WAIT_S = 24 * 3600.0
# While a party computes, its HTTP threads wait this long at most for the interpreter lock.
SWITCH_INTERVAL_S = 0.0005
KIND_HELLO = "psi.hello"
KIND_BLINDED = "psi.blinded"
KIND_REBLINDED = "psi.reblinded"
KIND_RESULT = "psi.result"
PURPOSE = "ids"

_P = 2**255 - 19
_A = 486662
_P_MPZ = gmpy2.mpz(_P)
_SUITE = "curve25519_XMD:SHA-512_ELL2_NU_"


# ---------------------------------------------------------------- the group


class _IdHasher:
    """RFC 9380 ``encode_to_curve`` onto Curve25519, u-coordinate only, under one domain tag."""

    def __init__(self, dst: bytes) -> None:
        if not 0 < len(dst) <= 255:
            raise InvalidInput("the hash-to-curve domain tag must have 1 to 255 bytes")
        self._dst_prime = dst + bytes([len(dst)])
        self._zero_pad = hashlib.sha512(bytes(128))
        # l_i_b_str (48 as two bytes) and the zero counter byte follow the message
        self._tail = (48).to_bytes(2, "big") + b"\x00" + self._dst_prime
        self._second = b"\x01" + self._dst_prime

    def field_element(self, message: bytes) -> int:
        """``hash_to_field(message, 1)``: expand_message_xmd(SHA-512) to 48 bytes, mod p."""
        first = self._zero_pad.copy()
        first.update(message)
        first.update(self._tail)
        uniform = hashlib.sha512(first.digest() + self._second).digest()[:48]
        return int.from_bytes(uniform, "big") % _P

    def point(self, message: bytes) -> bytes:
        """The X25519 encoding (32 bytes, little-endian) of Elligator 2 of the field element."""
        return _elligator2(self.field_element(message)).to_bytes(POINT_BYTES, "little")


def _elligator2(r: int) -> int:
    """RFC 9380 6.7.1 ``map_to_curve_elligator2`` for Curve25519 (Z = 2); returns x only."""
    p = _P_MPZ
    denominator = (1 + 2 * gmpy2.mpz(r) * r) % p
    x1 = (-_A * gmpy2.invert(denominator, p)) % p if denominator else gmpy2.mpz(_P - _A)
    gx1 = (x1 * x1 + _A * x1 + 1) * x1 % p
    x = x1 if gmpy2.jacobi(gx1, p) >= 0 else (-x1 - _A) % p
    return int(x)


def _domain_tag(session: str, purpose: str) -> bytes:
    if not session or len(session) > SESSION_CHARS_MAX:
        raise InvalidInput(f"a PSI session id must have 1 to {SESSION_CHARS_MAX} characters")
    return f"NETFIN-PSI-V{PROTOCOL_VERSION}-{session}-{purpose}-{_SUITE}".encode()


def hash_to_curve(message: bytes, *, session: str, purpose: str = PURPOSE) -> bytes:
    """The curve point (X25519 u-coordinate) that ``message`` hashes to in ``session``."""
    return _IdHasher(_domain_tag(session, purpose)).point(message)


def _check_point(u: bytes) -> None:
    """A peer's point must be a canonical u-coordinate of a point on Curve25519, not its twist."""
    x = gmpy2.mpz(int.from_bytes(u, "little"))
    if x >= _P_MPZ:
        raise ProtocolError("a peer sent a non-canonical curve point")
    if gmpy2.jacobi((x * x + _A * x + 1) * x % _P_MPZ, _P_MPZ) < 0:
        raise ProtocolError("a peer sent a point that is not on Curve25519")


class _Blinder:
    """One party's fresh secret scalar for one session."""

    def __init__(self) -> None:
        self._key = X25519PrivateKey.generate()

    def blind_ids(self, hasher: _IdHasher, ids: Sequence[bytes]) -> bytes:
        exchange, load, to_point = self._key.exchange, X25519PublicKey.from_public_bytes, hasher.point
        return b"".join([exchange(load(to_point(i))) for i in ids])

    def blind_points(self, blob: bytes) -> bytes:
        exchange, load = self._key.exchange, X25519PublicKey.from_public_bytes
        out: list[bytes] = []
        for start in range(0, len(blob), POINT_BYTES):
            u = blob[start : start + POINT_BYTES]
            _check_point(u)
            try:
                out.append(exchange(load(u)))
            except ValueError as exc:  # an all-zero result: a point of small order
                raise ProtocolError("a peer sent a point of small order") from exc
        return b"".join(out)


def _split_points(blob: bytes, *, check: bool) -> list[bytes]:
    points = [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]
    if check:
        for u in points:
            _check_point(u)
    return points


def _shuffle(count: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """A uniformly random permutation from the OS random source (ties are harmless)."""
    keys = np.frombuffer(os.urandom(8 * count), dtype=np.uint64)
    return np.argsort(keys, kind="stable").astype(np.int64)


# ---------------------------------------------------------------- input


def _encode_ids(ids: Sequence[str]) -> list[bytes]:
    if len(ids) > IDS_MAX:
        raise LimitExceeded(f"{len(ids)} ids exceed the limit of {IDS_MAX}")
    encoded: list[bytes] = []
    for position, value in enumerate(ids):
        if not isinstance(value, str):
            raise InvalidInput(f"id at position {position} is not a string")
        raw = value.encode("utf-8")
        if not raw:
            raise InvalidInput(f"id at position {position} is empty")
        if len(raw) > ID_BYTES_MAX:
            raise LimitExceeded(f"id at position {position} has more than {ID_BYTES_MAX} bytes")
        encoded.append(raw)
    if len(set(encoded)) != len(encoded):
        raise InvalidInput("ids must be unique: the list holds duplicates")
    return encoded


# ---------------------------------------------------------------- messages


class _Progress:
    """Points blinded so far out of all this party will blind, sent to the parent process."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled

    def add(self, count: int, step: str) -> None:
        self.done += count
        if self.enabled:
            report_progress(step=step, points_blinded=self.done, points_total=self.total)

    def finish(self, intersection: int) -> None:
        if self.enabled:
            report_progress(
                step="done", points_blinded=self.done, points_total=self.total, intersection=intersection
            )


class _Outbox:
    """Sends from a thread of its own, in order, so blinding goes on while a chunk is on the wire."""

    def __init__(self, party: Party) -> None:
        self._party = party
        self._queue: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue(OUTBOX_MESSAGES_MAX)
        self._failure: Exception | None = None
        self._thread = threading.Thread(target=self._drain, name=f"psi-outbox-{party.name}", daemon=True)
        self._thread.start()

    def send(self, peer: str, kind: str, message: dict[str, Any]) -> None:
        if self._failure is not None:
            raise ProtocolError(f"an earlier message could not be sent: {self._failure}") from self._failure
        self._queue.put((peer, kind, message))

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._party.send(*item)
                except Exception as exc:  # noqa: BLE001 - raised in the protocol thread on its next send or at the end
                    self._failure = exc

    def __enter__(self) -> _Outbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._queue.put(None)
        self._thread.join()
        if kind is None and self._failure is not None:
            raise ProtocolError(f"a message could not be sent: {self._failure}") from self._failure


def _chunk_count(total: int) -> int:
    return max(1, -(-total // CHUNK_POINTS))


def _send_points(
    outbox: _Outbox, peers: Sequence[str], kind: str, chunks: Iterator[bytes], total: int
) -> None:
    count = _chunk_count(total)
    for index, points in enumerate(chunks):
        for peer in peers:
            outbox.send(peer, kind, {"chunk": index, "chunks": count, "total": total, "points": points})


def _receive_points(party: Party, peer: str, kind: str, total: int) -> Iterator[bytes]:
    """The chunks of ``total`` points that ``peer`` sends as ``kind``, checked for layout."""
    count, received = _chunk_count(total), 0
    for index in range(count):
        message = party.recv(peer, kind)
        points = message.get("points")
        if (
            message.get("chunk") != index
            or message.get("chunks") != count
            or message.get("total") != total
            or not isinstance(points, bytes)
            or len(points) % POINT_BYTES
            or len(points) > CHUNK_POINTS * POINT_BYTES
        ):
            raise ProtocolError(f"{peer} sent a malformed {kind!r} chunk {index}")
        received += len(points) // POINT_BYTES
        yield points
    if received != total:
        raise ProtocolError(f"{peer} announced {total} points in {kind!r} but sent {received}")


def _blinded_chunks(
    blinder: _Blinder, hasher: _IdHasher, ids: Sequence[bytes], order: np.ndarray[Any, Any], meter: _Progress
) -> Iterator[bytes]:
    for start in range(0, max(len(ids), 1), CHUNK_POINTS):
        chunk = [ids[i] for i in order[start : start + CHUNK_POINTS].tolist()]
        points = blinder.blind_ids(hasher, chunk)
        meter.add(len(chunk), "blind own ids")
        yield points


def _hello(party: Party, leader: str, count: int) -> dict[str, int]:
    """Agree on the protocol and the leader with every peer; the sizes leader <-> follower."""
    for peer in party.peers:
        shares_size = party.name == leader or peer == leader
        party.send(
            peer,
            KIND_HELLO,
            {
                "version": PROTOCOL_VERSION,
                "group": GROUP,
                "leader": leader,
                "count": count if shares_size else None,
            },
        )
    sizes: dict[str, int] = {}
    for peer in party.peers:
        hello = party.recv(peer, KIND_HELLO)
        if hello.get("version") != PROTOCOL_VERSION or hello.get("group") != GROUP:
            raise ProtocolError(f"{peer} speaks another PSI version or group: {hello}")
        if hello.get("leader") != leader:
            raise ProtocolError(f"{peer} names {hello.get('leader')!r} as the leader, this party {leader!r}")
        size = hello.get("count")
        if party.name == leader or peer == leader:
            if not isinstance(size, int) or not 0 <= size <= IDS_MAX:
                raise ProtocolError(f"{peer} announced an invalid set size {size!r}")
            sizes[peer] = size
    return sizes


# ---------------------------------------------------------------- roles


@dataclass
class _Run:
    """One party's state in one session: its channel, its secret scalar, its random order."""

    party: Party
    outbox: _Outbox
    hasher: _IdHasher
    meter: _Progress
    blinder: _Blinder = field(default_factory=_Blinder)


def _lead(run: _Run, ids: list[bytes], sizes: Mapping[str, int]) -> list[int]:
    followers = run.party.peers
    order = _shuffle(len(ids))
    chunks = _blinded_chunks(run.blinder, run.hasher, ids, order, run.meter)
    _send_points(run.outbox, followers, KIND_BLINDED, chunks, len(ids))
    leader_index = order.tolist()
    matches = {follower: _match(run, follower, leader_index, sizes[follower]) for follower in followers}
    common = set(range(len(ids)))
    for matched in matches.values():
        common &= matched.keys()
    for follower, matched in matches.items():
        positions = np.array(sorted(matched[i] for i in common), dtype=np.int64)
        run.outbox.send(follower, KIND_RESULT, {"positions": positions, "size": len(common)})
    run.meter.finish(len(common))
    return sorted(common)


def _match(run: _Run, follower: str, leader_index: list[int], size: int) -> dict[int, int]:
    """The leader's ids (by index) that ``follower`` holds, each with its position in the follower's order."""
    theirs: list[bytes] = []
    for points in _receive_points(run.party, follower, KIND_BLINDED, size):
        theirs.extend(_split_points(run.blinder.blind_points(points), check=False))
        run.meter.add(len(points) // POINT_BYTES, f"blind the points of {follower}")
    ours: dict[bytes, int] = {}
    for points in _receive_points(run.party, follower, KIND_REBLINDED, len(leader_index)):
        for u in _split_points(points, check=True):
            ours[u] = leader_index[len(ours)]
    if len(ours) != len(leader_index):
        raise ProtocolError(f"{follower} returned repeated points")
    return {ours[u]: position for position, u in enumerate(theirs) if u in ours}


def _follow(run: _Run, ids: list[bytes], leader: str, size: int) -> list[int]:
    order = _shuffle(len(ids))
    chunks = _blinded_chunks(run.blinder, run.hasher, ids, order, run.meter)
    _send_points(run.outbox, [leader], KIND_BLINDED, chunks, len(ids))
    count = _chunk_count(size)
    for index, points in enumerate(_receive_points(run.party, leader, KIND_BLINDED, size)):
        out = run.blinder.blind_points(points)
        run.meter.add(len(points) // POINT_BYTES, "blind the leader's points")
        run.outbox.send(
            leader, KIND_REBLINDED, {"chunk": index, "chunks": count, "total": size, "points": out}
        )
    # the leader answers once every follower is matched, which may take longer than one receive timeout
    result = run.party.recv(leader, KIND_RESULT, timeout_s=RESULT_WAIT_S)
    positions = result.get("positions")
    if (
        not isinstance(positions, np.ndarray)
        or positions.ndim != 1
        or positions.dtype != np.int64
        or result.get("size") != len(positions)
        or (len(positions) and (positions[0] < 0 or positions[-1] >= len(ids)))
        or np.any(np.diff(positions) <= 0)
    ):
        raise ProtocolError(f"{leader} sent a malformed result")
    run.meter.finish(len(positions))
    return [int(i) for i in order[positions]]


# ---------------------------------------------------------------- API


def intersect(party: Party, ids: Sequence[str], *, leader: str, progress: bool = True) -> list[str]:
    """The global intersection of every party's ids in this session, sorted; the same on every party.

    Call it in every party's protocol function; ``leader`` names the same party
    everywhere. Ids must be non-empty, unique strings of at most
    ``ID_BYTES_MAX`` UTF-8 bytes, at most ``IDS_MAX`` of them.
    """
    if leader != party.name and leader not in party.peers:
        raise InvalidInput(f"the leader {leader!r} is not a party of this session")
    encoded = _encode_ids(ids)
    hasher = _IdHasher(_domain_tag(party.session, PURPOSE))
    sizes = _hello(party, leader, len(encoded))
    meter = _Progress(len(encoded) + sum(sizes.values()), enabled=progress)
    switch_interval_s = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval_s, SWITCH_INTERVAL_S))
    try:
        with _Outbox(party) as outbox:
            run = _Run(party, outbox, hasher, meter)
            if party.name == leader:
                chosen = _lead(run, encoded, sizes)
            else:
                chosen = _follow(run, encoded, leader, sizes[leader])
    finally:
        sys.setswitchinterval(switch_interval_s)
    return sorted(ids[i] for i in chosen)


def read_ids(path: Path, id_column: str) -> list[str]:
    """The ``id_column`` of a UTF-8 CSV file with a header row, at most ``IDS_MAX`` rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or id_column not in header:
            raise InvalidInput(f"{path.name}: no column {id_column!r} in the header row")
        column = header.index(id_column)
        ids: list[str] = []
        for line, row in enumerate(reader, start=2):
            if len(ids) == IDS_MAX:
                raise LimitExceeded(f"{path.name}: more than {IDS_MAX} rows")
            if len(row) <= column:
                raise InvalidInput(f"{path.name}:{line}: the row has no {id_column!r} value")
            ids.append(row[column])
    return ids


def _write_ids(path: Path, id_column: str, ids: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([id_column])
        writer.writerows([value] for value in ids)
    partial.replace(path)


def psi_party(
    party: Party, *, ids_file: str, id_column: str, leader: str, out_file: str | None = None
) -> dict[str, Any]:
    """A protocol function for ``run_parties``: this party's ids from its own CSV file, then ``intersect``."""
    ids = read_ids(Path(ids_file), id_column)
    started, cpu_started = time.perf_counter(), time.process_time()
    common = intersect(party, ids, leader=leader)
    elapsed_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    if out_file is not None:
        _write_ids(Path(out_file), id_column, common)
    return {
        "party": party.name,
        "role": "leader" if party.name == leader else "follower",
        "input": len(ids),
        "intersection": len(common),
        "protocol_s": round(elapsed_s, 3),
        "cpu_s": round(cpu_s, 3),
    }


def run_psi(
    files: Mapping[str, Path],
    *,
    id_column: str,
    leader: str,
    audit_dir: Path,
    out_dir: Path | None,
    timeout_s: float,
    payloads: PayloadMode = "full",
    on_progress: Callable[[str, Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run one PSI session, one process per party; a JSON-able summary (sizes, never ids).

    ``files`` maps each party's name to its own CSV file, which only that
    party's process reads; with ``out_dir`` every party writes the
    intersection to ``out_dir/<party>.csv``. The message audit of every party
    goes to ``audit_dir/<party>.jsonl``.
    """
    if leader not in files:
        raise InvalidInput(f"the leader {leader!r} has no input file")
    for name, path in files.items():
        if not Path(path).is_file():
            raise InvalidInput(f"party {name!r}: {path} is not a file")
    specs = [
        PartySpec(
            name,
            "netfin.privacy.psi:psi_party",
            {
                "ids_file": str(Path(path).resolve()),
                "id_column": id_column,
                "leader": leader,
                "out_file": None if out_dir is None else str((out_dir / f"{name}.csv").resolve()),
            },
        )
        for name, path in files.items()
    ]
    started = time.perf_counter()
    results = run_parties(
        specs, audit_dir=audit_dir, timeout_s=timeout_s, payloads=payloads, on_progress=on_progress
    )
    sizes = {result["intersection"] for result in results.values()}
    if len(sizes) != 1:
        raise Conflict(f"the parties disagree on the size of the intersection: {sorted(sizes)}")
    return {
        "leader": leader,
        "parties": [results[name] for name in files],
        "intersection": sizes.pop(),
        "elapsed_s": round(time.perf_counter() - started, 3),
        "audit_dir": str(audit_dir),
        "out_dir": None if out_dir is None else str(out_dir),
    }
