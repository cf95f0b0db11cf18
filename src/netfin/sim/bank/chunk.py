"""A chunk of generated events as compact numpy columns, before they become Arrow.

Generation works on integer codes (party and device indexes, small enums)
rather than strings: a day of a million customers is a few million events,
and only codes keep that in tens of megabytes and let numpy do the work. The
strings of ``EVENT_SCHEMA`` are made once, at the end, by ``stream``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from netfin.core.errors import invariant
from netfin.risk.events import EventKind, Scenario

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
I8 = npt.NDArray[np.int8]
Bools = npt.NDArray[np.bool_]


class Channel(enum.StrEnum):
    """How the payment was made; ``batch`` payments (payroll, direct debit) carry no device or location."""

    APP = "app"
    QR = "qr"
    ONLINE = "online"
    BATCH = "batch"


KINDS: tuple[EventKind, ...] = tuple(EventKind)
CHANNELS: tuple[Channel, ...] = tuple(Channel)
SCENARIOS: tuple[Scenario, ...] = tuple(Scenario)
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
CHANNEL_CODE = {channel: code for code, channel in enumerate(CHANNELS)}
SCENARIO_CODE = {scenario: code for code, scenario in enumerate(SCENARIOS)}
NO_DEVICE = 0  # device index 0 is the empty device id


@dataclass(slots=True, eq=False)
class EventChunk:
    """Events as parallel columns; ``payer``/``payee`` index the population's party table."""

    ts_ms: I64
    payer: I32
    payee: I32
    kind: I8
    amount_minor: I64
    device: I32
    lat: F64
    lon: F64
    channel: I8
    scenario: I8

    def __len__(self) -> int:
        return int(self.ts_ms.size)

    def take(self, index: npt.NDArray[np.intp] | I64 | slice) -> EventChunk:
        """The rows at ``index`` (an index array or a slice), in that order."""
        return EventChunk(*(getattr(self, f.name)[index] for f in fields(self)))

    def sorted_by_time(self) -> EventChunk:
        """Rows in time order; ties keep generation order, so the result is deterministic."""
        return self.take(np.argsort(self.ts_ms, kind="stable"))

    @classmethod
    def concat(cls, parts: Sequence[EventChunk]) -> EventChunk:
        invariant(len(parts) > 0, "concat needs at least one chunk")
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


def make_chunk(
    *,
    ts_ms: I64,
    payer: npt.NDArray[np.integer],
    payee: npt.NDArray[np.integer],
    kind: EventKind | I8,
    amount_minor: I64,
    device: npt.NDArray[np.integer],
    lat: F64,
    lon: F64,
    channel: Channel | I8,
    scenario: Scenario = Scenario.NONE,
) -> EventChunk:
    """A chunk from columns, broadcasting a single kind, channel or scenario to every row."""
    n = ts_ms.size
    for name, column in (("payer", payer), ("payee", payee), ("amount", amount_minor), ("lat", lat)):
        invariant(column.size == n, f"column {name} has {column.size} rows, expected {n}")
    invariant(bool(np.all(amount_minor > 0)), "amounts must be positive")
    return EventChunk(
        ts_ms=ts_ms.astype(np.int64, copy=False),
        payer=payer.astype(np.int32, copy=False),
        payee=payee.astype(np.int32, copy=False),
        kind=_codes(KIND_CODE[kind] if isinstance(kind, EventKind) else kind, n),
        amount_minor=amount_minor.astype(np.int64, copy=False),
        device=device.astype(np.int32, copy=False),
        lat=lat,
        lon=lon,
        channel=_codes(CHANNEL_CODE[channel] if isinstance(channel, Channel) else channel, n),
        scenario=np.full(n, SCENARIO_CODE[scenario], dtype=np.int8),
    )


def _codes(value: int | I8, n: int) -> I8:
    if isinstance(value, np.ndarray):
        invariant(value.size == n, "code column has the wrong length")
        return value.astype(np.int8, copy=False)
    return np.full(n, value, dtype=np.int8)
