"""Tiny protocols for the runner's tests, imported by the party processes."""

from __future__ import annotations

from typing import Any

import numpy as np

from netfin.privacy.codec import BigInts
from netfin.privacy.runner import report_progress
from netfin.privacy.transport import Party


def ping(party: Party, *, values: list[int]) -> dict[str, Any]:
    peer = party.peers[0]
    party.send(peer, "ping", {"values": np.asarray(values, dtype=np.int64), "big": BigInts([2**300 + 1])})
    report_progress(step="sent")
    reply = party.recv(peer, "ping")
    return {"got": reply["values"].tolist(), "big": reply["big"][0] == 2**300 + 1}


def fail(party: Party) -> None:
    raise ValueError("this party gives up")
