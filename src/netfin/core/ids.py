"""128-bit, time-ordered identifiers (UUIDv7, RFC 9562).

Ids are plain Python ints in ``[1, 2**128 - 2]`` so that they compare, hash and
serialise cheaply; ``to_bytes`` gives the 16-byte big-endian form that the
stores index (big-endian keeps time order).
"""

from __future__ import annotations

import random
from typing import Protocol

import uuid_utils

from netfin.core.clock import Clock


class IdSource(Protocol):
    def new_id(self) -> int: ...


class Uuid7Ids:
    """Production ids: UUIDv7 from the system clock and the OS random source."""

    def new_id(self) -> int:
        return int(uuid_utils.uuid7())


class SeededIds:
    """Deterministic UUIDv7 layout from an injected clock and a seed (for replay)."""

    def __init__(self, clock: Clock, seed: int = 0) -> None:
        self._clock = clock
        self._random = random.Random(seed)
        self._last_ms = -1
        self._counter = 0

    def new_id(self) -> int:
        ms = self._clock.now_ns() // 1_000_000
        if ms <= self._last_ms:
            ms = self._last_ms
            self._counter += 1
            if self._counter > 0xFFF:  # counter overflow: borrow the next millisecond (RFC 9562 6.2)
                ms = self._last_ms = self._last_ms + 1
                self._counter = 0
        else:
            self._last_ms, self._counter = ms, 0
        rand_a = self._counter & 0xFFF
        rand_b = self._random.getrandbits(62)
        return (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b


def id_to_bytes(value: int) -> bytes:
    return value.to_bytes(16, "big")


def id_from_bytes(value: bytes) -> int:
    return int.from_bytes(value, "big")


def format_id(value: int) -> str:
    """The canonical text form: 32 lowercase hex digits."""
    return f"{value:032x}"


def parse_id(text: str) -> int:
    """Accept 32 hex digits, a UUID with dashes, or a decimal integer."""
    cleaned = text.strip().replace("-", "")
    if len(cleaned) == 32:
        return int(cleaned, 16)
    return int(cleaned, 10)
