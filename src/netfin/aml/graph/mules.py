"""Mule networks: accounts that collect from several payers and sweep it on to one collector.

The pattern, as the sweep of a money mule looks in a ledger: victims or
feeders pay a mule; within hours the mule pays (nearly) all of it on; several
mules pay the same handler. Two steps, both over the transfers as given:

1. **Sweeps.** For every transfer out of account *a* at time *t*, the
   transfers of *a* in ``[t - dwell_ns, t]`` are summed both ways (sorted
   composite keys and prefix sums, so the whole batch is a few vectorised
   passes). The transfer is a sweep when at least ``payers_min`` distinct
   payers paid *a* in that time and the smaller of money in and money out is
   at least ``pass_through_bps_min`` of the larger. A window with more than
   ``sweep_inflows_max`` incoming transfers belongs to a hub (a merchant, a
   payroll account) and is not a sweep: this bounds the distinct-payer count.
2. **Networks.** The targets of sweeps are grouped: a collector that received
   sweeps from at least ``mule_members_min`` distinct accounts is a network.

Unlike the communities of ``communities.py``, this does not depend on where a
community detector cuts the graph (Leiden often put each mule and its payers
in a community of their own, apart from the handler), and it looks at the
sweep's own window rather than at an account's whole history, in which a
mule's salary and rent dilute its pass-through.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from netfin.aml.graph.communities import share_bps
from netfin.aml.graph.engine import MuleParams
from netfin.aml.graph.model import EVIDENCE_EDGES_MAX, Int64Array, MuleNetwork, TxEdges

BoolArray = npt.NDArray[np.bool_]


class _Side:
    """One direction of an account's transfers, sorted by (account, time), with prefix sums."""

    def __init__(
        self, account: Int64Array, rank: Int64Array, amount: Int64Array, rows: Int64Array, span: int
    ):
        keys = account * span + rank
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.rows = rows[self.order]
        self.prefix = np.concatenate(([0], np.cumsum(amount[self.order], dtype=np.int64)))

    def window(self, first_keys: Int64Array, last_keys: Int64Array) -> tuple[Int64Array, Int64Array]:
        """Positions of the transfers with keys in ``[first, last]``; sorted queries keep this fast."""
        low = np.searchsorted(self.keys, first_keys, side="left")
        high = np.searchsorted(self.keys, last_keys, side="right")
        return low.astype(np.int64), high.astype(np.int64)

    def total(self, low: Int64Array, high: Int64Array) -> Int64Array:
        return (self.prefix[high] - self.prefix[low]).astype(np.int64)


def sweeps(edges: TxEdges, params: MuleParams) -> tuple[BoolArray, dict[int, Int64Array]]:
    """Per edge row: is it a sweep; and for each sweep row, the rows of the transfers that fed it.

    Every query runs in the outgoing side's (account, time) order, so the
    binary searches walk forward through memory (unordered queries into ten
    million keys were ten times slower).
    """
    is_sweep = np.zeros(edges.src.size, dtype=np.bool_)
    rows = np.flatnonzero(edges.src != edges.dst).astype(np.int64)
    if rows.size == 0:
        return is_sweep, {}
    src, dst, ts, amount = edges.src[rows], edges.dst[rows], edges.ts_ns[rows], edges.amount_minor[rows]
    times, rank = np.unique(ts, return_inverse=True)
    rank = rank.astype(np.int64)
    span = int(times.size)
    first_rank = np.searchsorted(times, times - params.dwell_ns, side="left").astype(np.int64)
    incoming = _Side(dst, rank, amount, rows, span)
    outgoing = _Side(src, rank, amount, rows, span)
    last_keys = outgoing.keys  # the sweep candidates, in order: (account, time rank)
    first_keys = src[outgoing.order] * span + first_rank[rank[outgoing.order]]
    in_low, in_high = incoming.window(first_keys, last_keys)
    out_low, out_high = outgoing.window(first_keys, last_keys)
    money_in, money_out = incoming.total(in_low, in_high), outgoing.total(out_low, out_high)
    count = in_high - in_low
    candidate = (
        (count >= params.payers_min)
        & (count <= params.sweep_inflows_max)
        & (
            share_bps(np.minimum(money_in, money_out), np.maximum(money_in, money_out))
            >= params.pass_through_bps_min
        )
    )
    fed: dict[int, Int64Array] = {}
    for k in np.flatnonzero(candidate).tolist():
        feeding = incoming.rows[in_low[k] : in_high[k]]
        if np.unique(edges.src[feeding]).size >= params.payers_min:
            row = int(outgoing.rows[k])
            is_sweep[row] = True
            fed[row] = feeding
    return is_sweep, fed


def find_mule_networks(edges: TxEdges, params: MuleParams) -> list[MuleNetwork]:
    """Collectors of sweeps from ``mule_members_min`` or more accounts, highest score first."""
    is_sweep, fed = sweeps(edges, params)
    sweep_rows = np.flatnonzero(is_sweep)
    if sweep_rows.size == 0:
        return []
    collected = np.zeros(edges.node_count, dtype=np.int64)
    moving = edges.src != edges.dst
    np.add.at(collected, edges.dst[moving], edges.amount_minor[moving])
    found: list[MuleNetwork] = []
    for collector in np.unique(edges.dst[sweep_rows]).tolist():
        into = sweep_rows[edges.dst[sweep_rows] == collector]
        mules = tuple(dict.fromkeys(edges.src[into].tolist()))
        if len(mules) < max(params.mule_members_min, 1):
            continue
        feeding = np.unique(np.concatenate([fed[int(r)] for r in into.tolist()]))
        feeders = tuple(
            n for n in dict.fromkeys(edges.src[feeding].tolist()) if n != collector and n not in mules
        )
        evidence = np.concatenate([into, feeding])
        swept = int(edges.amount_minor[into].sum())
        found.append(
            MuleNetwork(
                collector=int(collector),
                mules=mules,
                feeders=feeders,
                sweep_count=int(into.size),
                edge_count=int(evidence.size),
                edges=tuple(evidence[:EVIDENCE_EDGES_MAX].tolist()),
                amount_swept_minor=swept,
                amount_collected_minor=int(collected[collector]),
                score=swept / max(int(collected[collector]), 1),
            )
        )
    found.sort(key=lambda n: (-len(n.mules), -n.score, -n.amount_swept_minor, n.collector))
    return found[: params.communities_max]
