"""Graph scenarios in the batch scan: scatter-gather and mule networks become alerts with their subgraph."""

from __future__ import annotations

import itertools

from netfin.aml.monitoring.batch import scan
from netfin.aml.monitoring.config import load_profile
from netfin.aml.monitoring.model import Txn, txns_to_table

H = 3_600_000
T0 = 1_760_000_000_000
_ids = itertools.count()


def tx(src: str, dst: str, amount: int, at: int) -> Txn:
    return Txn(f"g{next(_ids)}", at, src, dst, amount, "CNY")


def test_scatter_gather_alerts_every_customer_in_the_pattern() -> None:
    middles = [f"m{i}" for i in range(5)]
    txns = [tx("boss", m, 2_000_000, T0 + i * H) for i, m in enumerate(middles)]
    txns += [tx(m, "sink", 1_950_000, T0 + 10 * H + i * H) for i, m in enumerate(middles)]
    txns += [tx(f"n{i}", f"n{i + 1}", 900_000, T0 + i * H) for i in range(30)]  # a chain: no pattern
    alerts = [
        a for a in scan(txns_to_table(txns), load_profile()).alerts if a.scenario == "STR-SCATTER-GATHER"
    ]
    assert {a.account for a in alerts} == {"boss", "sink", *middles}
    one = alerts[0]
    assert one.facts["intermediaries"] == 5 and one.subgraph and len(one.txn_ids) == 10
    assert "intermediaries" in one.reason_en and "中间账户" in one.reason_zh


def test_too_few_intermediaries_or_too_slow_is_no_scatter_gather() -> None:
    three = [tx("a", f"k{i}", 2_000_000, T0) for i in range(3)] + [
        tx(f"k{i}", "z", 2_000_000, T0 + H) for i in range(3)
    ]
    slow = [tx("b", f"s{i}", 2_000_000, T0) for i in range(5)]
    slow += [tx(f"s{i}", "y", 2_000_000, T0 + 20 * 24 * H) for i in range(5)]
    alerts = scan(txns_to_table(three + slow), load_profile()).alerts
    assert not [a for a in alerts if a.scenario == "STR-SCATTER-GATHER"]


def test_a_mule_network() -> None:
    txns = []
    for m in range(4):  # each victim of a ring is told to pay two of its mules
        mule, other = f"mule{m}", f"mule{(m + 1) % 4}"
        txns += [tx(f"victim{m}-{v}", mule, 500_000, T0 + v * H) for v in range(5)]
        txns += [tx(f"victim{m}-{v}", other, 300_000, T0 + v * H + 1) for v in range(5)]
    for m in range(4):
        txns.append(tx(f"mule{m}", "handler", 3_800_000, T0 + 8 * H))
    txns.sort(key=lambda t: t.ts_ms)
    alerts = [a for a in scan(txns_to_table(txns), load_profile()).alerts if a.scenario == "STR-MULE-NETWORK"]
    flagged = {a.account for a in alerts}
    assert flagged == {f"mule{m}" for m in range(4)} | {
        "handler"
    }  # the mules and their collector, never victims
    assert alerts[0].facts["mules"] == 4 and alerts[0].facts["sweeps"] == 4 and alerts[0].subgraph
