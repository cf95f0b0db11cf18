"""Features computed per event as it happens, from state kept in-process or in Redis.

``OnlineFeatures.observe(event)`` updates the state of the event's payer,
device and payee and returns every feature of the catalogue for it. The
state lives behind a ``StateStore``: ``MemoryStateStore`` for one process
(bounded: idle entities expire and an entity cap evicts the least recently
used), ``RedisStateStore`` when several processes share it (each entity one
key with a time to live of the retention, updated under optimistic locking).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

import orjson
import redis

from netfin.core.errors import NetfinError
from netfin.risk.events import RiskEvent
from netfin.risk.features.catalogue import (
    RETENTION_MS,
    SPANS_MS,
    WINDOW_FEATURES,
    Aggregate,
    Entity,
    FeatureConfig,
)
from netfin.risk.features.state import EntityWindows, Number, PayerHistory

FLOW_SPAN_MS = SPANS_MS["24h"]


def _spans(entity: Entity) -> tuple[tuple[int, ...], frozenset[int]]:
    mine = [f for f in WINDOW_FEATURES if f.entity is entity]
    spans = {f.span_ms for f in mine}
    if entity is Entity.PAYER:
        spans.add(FLOW_SPAN_MS)  # the payee-outflow feature reads a payer's 24 h sum
    distinct = frozenset(f.span_ms for f in mine if f.aggregate is Aggregate.DISTINCT)
    return tuple(sorted(spans)), distinct


ENTITY_SPANS = {entity: _spans(entity) for entity in Entity}


class PayerState:
    __slots__ = ("history", "windows")

    def __init__(self, windows: EntityWindows | None = None, history: PayerHistory | None = None) -> None:
        self.windows = windows or EntityWindows(*ENTITY_SPANS[Entity.PAYER])
        self.history = history or PayerHistory()

    def last_ms(self) -> int:
        return self.history.last_ms


State = PayerState | EntityWindows


class StateStore(Protocol):
    """Where entity state lives between events."""

    def load(self, keys: list[str]) -> dict[str, State | None]: ...

    def save(self, states: Mapping[str, State], now_ms: int) -> None: ...


class FeatureStateError(NetfinError):
    code = "feature_state_unavailable"


class MemoryStateStore:
    """In-process state, bounded: at most ``entities_max`` entities, least recently used out first.

    An entity untouched for longer than the retention holds nothing any
    window could still count, so dropping it changes no feature; the cap is
    the guard against memory exhaustion and, when it bites, the evicted
    entity's history is lost (``evicted`` counts how often).
    """

    def __init__(self, entities_max: int = 2_000_000) -> None:
        self.entities_max = entities_max
        self.states: OrderedDict[str, tuple[int, State]] = OrderedDict()
        self.evicted = 0

    def load(self, keys: list[str]) -> dict[str, State | None]:
        found: dict[str, State | None] = {}
        for key in keys:
            item = self.states.get(key)
            found[key] = None if item is None else item[1]
        return found

    def save(self, states: Mapping[str, State], now_ms: int) -> None:
        for key, state in states.items():
            self.states[key] = (now_ms, state)
            self.states.move_to_end(key)
        while self.states:
            key, (touched, _) = next(iter(self.states.items()))
            if touched > now_ms - RETENTION_MS and len(self.states) <= self.entities_max:
                break
            if touched > now_ms - RETENTION_MS:
                self.evicted += 1
            del self.states[key]

    def __len__(self) -> int:
        return len(self.states)


def _dump(state: State) -> bytes:
    if isinstance(state, PayerState):
        return orjson.dumps({"w": state.windows.to_plain(), "h": state.history.to_plain()})
    return orjson.dumps({"w": state.to_plain()})


def _load(raw: bytes | str) -> State:
    plain = orjson.loads(raw)
    windows = EntityWindows.from_plain(plain["w"])
    if "h" in plain:
        return PayerState(windows, PayerHistory.from_plain(plain["h"]))
    return windows


class RedisStateStore:
    """State shared by processes: one JSON value per entity with a time to live of the retention.

    ``update`` runs a whole event under WATCH on its keys and retries when
    another process changed one of them first, so no update is lost.
    """

    def __init__(self, client: redis.Redis, prefix: str = "netfin:risk:f:", retries_max: int = 20) -> None:
        self.client = client
        self.prefix = prefix
        self.retries_max = retries_max

    def load(self, keys: list[str]) -> dict[str, State | None]:
        values = self.client.mget([self.prefix + k for k in keys])
        return {k: None if v is None else _load(v) for k, v in zip(keys, values, strict=True)}

    def save(self, states: Mapping[str, State], now_ms: int) -> None:
        ttl_ms = RETENTION_MS + 60_000
        with self.client.pipeline(transaction=True) as pipe:
            for key, state in states.items():
                pipe.set(self.prefix + key, _dump(state), px=ttl_ms)
            pipe.execute()

    def update(self, keys: list[str], compute: Any, now_ms: int) -> Any:
        """Load ``keys``, let ``compute(states)`` change them, and write them back atomically."""
        names = [self.prefix + k for k in keys]
        for _ in range(self.retries_max):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(*names)  # type: ignore[no-untyped-call]
                    values = pipe.mget(names)
                    states = {k: None if v is None else _load(v) for k, v in zip(keys, values, strict=True)}
                    result, changed = compute(states)
                    pipe.multi()
                    for key, state in changed.items():
                        pipe.set(self.prefix + key, _dump(state), px=RETENTION_MS + 60_000)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise FeatureStateError("feature state kept changing under this event; retries exhausted")

    def clear(self) -> None:
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            self.client.delete(key)


class OnlineFeatures:
    """The catalogue's features, one event at a time, in stream order."""

    def __init__(self, store: StateStore | None = None, config: FeatureConfig | None = None) -> None:
        self.store: StateStore = store or MemoryStateStore()
        self.config = config or FeatureConfig()
        self._lock = threading.Lock()

    def observe(self, event: RiskEvent) -> dict[str, Number]:
        """Count the event into its entities' state and return its features."""
        keys = _keys(event)
        if isinstance(self.store, RedisStateStore):
            result: dict[str, Number] = self.store.update(
                keys, lambda states: self._apply(event, states), event.ts_ms
            )
            return result
        with self._lock:
            features, changed = self._apply(event, self.store.load(keys))
            self.store.save(changed, event.ts_ms)
            return features

    def _apply(
        self, event: RiskEvent, states: Mapping[str, State | None]
    ) -> tuple[dict[str, Number], dict[str, State]]:
        config = self.config
        small = int(event.payee_kind == "merchant" and event.amount_minor <= config.small_merchant_max_minor)
        payer_key, payee_key = "p:" + event.payer, "e:" + event.payee
        payer = states[payer_key]
        payer = payer if isinstance(payer, PayerState) else PayerState()
        features = payer.history.features(
            event.ts_ms, event.amount_minor, event.payee, event.device, event.lat, event.lon, config
        )
        payer.history.observe(
            event.ts_ms, event.amount_minor, event.payee, event.device, event.lat, event.lon, config
        )
        payer.windows.add(event.ts_ms, event.amount_minor, event.payee, small)
        changed: dict[str, State] = {payer_key: payer}
        payee = states[payee_key]
        payee = payee if isinstance(payee, EntityWindows) else EntityWindows(*ENTITY_SPANS[Entity.PAYEE])
        payee.add(event.ts_ms, event.amount_minor, event.payer, 0)
        changed[payee_key] = payee
        windows: dict[Entity, EntityWindows | None] = {Entity.PAYER: payer.windows, Entity.PAYEE: payee}
        windows[Entity.DEVICE] = None
        if event.device:
            device_key = "d:" + event.device
            device = states[device_key]
            device = (
                device if isinstance(device, EntityWindows) else EntityWindows(*ENTITY_SPANS[Entity.DEVICE])
            )
            device.add(event.ts_ms, event.amount_minor, event.payer, 0)
            changed[device_key] = windows[Entity.DEVICE] = device
        features.update(_window_values(windows))
        outflow_state = payer if event.payee == event.payer else states.get("p:" + event.payee)
        features["payee_outflow_ratio_24h"] = _outflow_ratio(outflow_state, event, payee)
        received = payee if event.payee == event.payer else states.get("e:" + event.payer)
        low = event.ts_ms - FLOW_SPAN_MS
        if isinstance(received, EntityWindows):
            features["payer_fanin_24h"] = received.distinct_after(FLOW_SPAN_MS, low)
            features["payer_inflow_24h"] = received.sum_after(FLOW_SPAN_MS, low)
        else:
            features["payer_fanin_24h"] = features["payer_inflow_24h"] = 0
        return features, changed


def _keys(event: RiskEvent) -> list[str]:
    keys = ["p:" + event.payer, "e:" + event.payee]
    if event.device:
        keys.append("d:" + event.device)
    if event.payee != event.payer:
        keys.append("p:" + event.payee)
        keys.append("e:" + event.payer)
    return keys


def _window_values(windows: Mapping[Entity, EntityWindows | None]) -> dict[str, Number]:
    values: dict[str, Number] = {}
    for feature in WINDOW_FEATURES:
        state = windows[feature.entity]
        if state is None:
            values[feature.name] = 0
            continue
        i = state.index(feature.span_ms)
        if feature.aggregate is Aggregate.COUNT:
            values[feature.name] = state.counts[i]
        elif feature.aggregate is Aggregate.SUM:
            values[feature.name] = state.sums[i]
        elif feature.aggregate is Aggregate.SMALL_MERCHANT_COUNT:
            values[feature.name] = state.smalls[i]
        else:
            seen = state.distinct[i]
            values[feature.name] = 0 if seen is None else len(seen)
    return values


def _outflow_ratio(state: State | None, event: RiskEvent, payee: EntityWindows) -> float:
    """Of what the payee received in 24 h (this event included), the share it already paid out."""
    inflow = payee.sums[payee.index(FLOW_SPAN_MS)]
    if not isinstance(state, PayerState) or inflow <= 0:
        return 0.0
    outflow = state.windows.sum_after(FLOW_SPAN_MS, event.ts_ms - FLOW_SPAN_MS)
    return min(1.0, outflow / inflow)
