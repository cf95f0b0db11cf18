"""Online and offline feature engines agree exactly on the same stream.

The stream is random but dense: few payers, payees who also pay (mules,
self-payments), shared devices, missing devices and locations, bursts inside
one millisecond, tiny merchant payments, and gaps longer than the retention.
"""

from __future__ import annotations

import math
import os
import random

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_data import missing

from netfin.risk.events import RiskEvent, events_to_table
from netfin.risk.features import (
    FEATURE_NAMES,
    FeatureConfig,
    OnlineFeatures,
    RedisStateStore,
    compute_offline,
)
from netfin.risk.features.catalogue import DAY_MS, MINUTE_MS
from netfin.risk.features.offline import HistoryOrderError
from netfin.risk.features.online import MemoryStateStore

REDIS_URL = os.environ.get("NETFIN_TEST_REDIS", "redis://127.0.0.1:6379/0")


def stream(seed: int, n: int) -> list[RiskEvent]:
    rng = random.Random(seed)
    people = [f"c{i}" for i in range(8)]
    merchants = [f"m{i}" for i in range(3)]
    ts = 1_767_225_600_000
    events = []
    for seq in range(n):
        ts += rng.choice(
            [
                0,
                0,
                1,
                250,
                MINUTE_MS // 2,
                MINUTE_MS,
                3_600_000,
                DAY_MS // 3,
                31 * DAY_MS if rng.random() < 0.02 else 5,
            ]
        )
        payer = rng.choice(people)
        if rng.random() < 0.4:
            payee, kind = rng.choice(merchants), "merchant"
            amount = rng.choice([1, 99, 500, 501, 12_000])
        else:
            payee, kind = rng.choice(people), "person"
            amount = rng.choice([100, 5_000, 5_000, 80_000, 2_000_000])
        located = rng.random() < 0.7
        events.append(
            RiskEvent(
                seq=seq * 3 + 1,
                ts_ms=ts,
                payer=payer,
                payee=payee,
                payee_kind=kind,
                kind="p2p",
                amount_minor=amount,
                currency="CNY",
                device=rng.choice(["", "d1", "d2", "d3", f"d{payer}"]),
                lat=rng.uniform(20, 45) if located else math.nan,
                lon=rng.uniform(100, 125) if located else math.nan,
            )
        )
    return events


def assert_agree(events: list[RiskEvent], online: OnlineFeatures, config: FeatureConfig) -> None:
    offline = compute_offline(events_to_table(events), config).to_pylist()
    assert [row["seq"] for row in offline] == [e.seq for e in events]
    for event, row in zip(events, offline, strict=True):
        got = online.observe(event)
        assert set(got) == set(FEATURE_NAMES)
        for name in FEATURE_NAMES:
            assert got[name] == row[name], (event.seq, name, got[name], row[name])
            assert type(got[name]) is type(row[name]) or isinstance(got[name], (int, float)), name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(1, 160))
def test_memory_engine_agrees_with_offline(seed: int, n: int) -> None:
    config = FeatureConfig(z_history_min=3, rare_hour_history_min=4)
    assert_agree(stream(seed, n), OnlineFeatures(MemoryStateStore(), config), config)


def test_long_stream_agrees() -> None:
    config = FeatureConfig()
    assert_agree(stream(7, 3_000), OnlineFeatures(MemoryStateStore(), config), config)


def test_redis_engine_agrees_with_offline() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        missing(f"Redis is not reachable at {REDIS_URL}: {error}")
    store = RedisStateStore(client, prefix=f"netfin:test:{random.getrandbits(64):x}:")
    try:
        config = FeatureConfig(z_history_min=3)
        assert_agree(stream(11, 600), OnlineFeatures(store, config), config)
    finally:
        store.clear()


def test_unordered_history_is_refused() -> None:
    first, second = stream(3, 2)
    backwards = [
        first,
        RiskEvent(**{**{f: getattr(second, f) for f in second.__slots__}, "ts_ms": first.ts_ms - 1}),
    ]
    with pytest.raises(HistoryOrderError, match="must not decrease"):
        compute_offline(events_to_table(backwards))
    twice = [first, RiskEvent(**{**{f: getattr(second, f) for f in second.__slots__}, "seq": first.seq})]
    with pytest.raises(HistoryOrderError, match="unique"):
        compute_offline(events_to_table(twice))


def test_state_is_bounded_by_the_retention() -> None:
    store = MemoryStateStore(entities_max=5)
    online = OnlineFeatures(store)
    events = stream(5, 400)
    for event in events:
        online.observe(event)
    assert len(store) <= 5
    late = RiskEvent(
        **{
            **{f: getattr(events[-1], f) for f in events[-1].__slots__},
            "ts_ms": events[-1].ts_ms + 40 * DAY_MS,
            "seq": 10**9,
        }
    )
    features = online.observe(late)
    assert features["payer_count_30d"] == 1 and features["payer_history_count"] == 0
    assert len(store) <= 4  # everything idle for longer than the retention is gone


def test_history_replayed_in_small_chunks_gives_the_same_features(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks hold whole payers, whatever their size, so chunking changes no value."""
    from netfin.risk.features import offline

    table = events_to_table(stream(13, 2_000))
    whole = compute_offline(table)
    monkeypatch.setattr(offline, "HISTORY_CHUNK_ROWS", 37)
    assert compute_offline(table).equals(whole)
