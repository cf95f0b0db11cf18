"""The message audit: every message that crosses a party boundary, as it crossed.

Each party keeps its own append-only JSON-lines file; a line records one
message sent or received: the session, both parties, the message kind, its
sequence number, its size, its SHA-256 and (by default) the payload itself in
base64, so an auditor can replay what left and what arrived. With
``payloads="digest"`` only the digest is kept (for long runs whose ciphertexts
would fill the disk); the digest still proves what was exchanged.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson

from netfin.core.errors import InvalidInput

Direction = Literal["sent", "received"]
PayloadMode = Literal["full", "digest"]


@dataclass(frozen=True, slots=True)
class AuditedMessage:
    at: str
    party: str
    direction: Direction
    peer: str
    session: str
    kind: str
    seq: int
    size: int
    sha256: str
    payload: bytes | None


class MessageAudit:
    """One party's append-only record of the messages it sent and received."""

    def __init__(self, path: Path, party: str, *, payloads: PayloadMode = "full") -> None:
        if payloads not in ("full", "digest"):
            raise InvalidInput(f"audit payloads must be 'full' or 'digest', not {payloads!r}")
        self.path = path
        self.party = party
        self.payloads = payloads
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()

    def record(
        self, *, direction: Direction, peer: str, session: str, kind: str, seq: int, payload: bytes
    ) -> None:
        line: dict[str, object] = {
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "party": self.party,
            "direction": direction,
            "peer": peer,
            "session": session,
            "kind": kind,
            "seq": seq,
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        if self.payloads == "full":
            line["payload"] = base64.b64encode(payload).decode("ascii")
        data = orjson.dumps(line) + b"\n"
        with self._lock:
            self._file.write(data)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_audit(path: Path) -> Iterator[AuditedMessage]:
    """The messages of one audit file, in the order they were recorded."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}: not an audit line ({exc})") from exc
            encoded = line.get("payload")
            payload = base64.b64decode(encoded) if encoded is not None else None
            if payload is not None and hashlib.sha256(payload).hexdigest() != line["sha256"]:
                raise InvalidInput(f"{path}:{number}: the payload does not match its digest")
            yield AuditedMessage(
                at=line["at"],
                party=line["party"],
                direction=line["direction"],
                peer=line["peer"],
                session=line["session"],
                kind=line["kind"],
                seq=int(line["seq"]),
                size=int(line["size"]),
                sha256=line["sha256"],
                payload=payload,
            )
