"""The catalogue's features over a whole history at once, for training and backtests.

The same definitions as ``online``, computed another way: window counts and
sums with sorted arrays and binary search (numpy), distinct counterparties
with one two-pointer pass per entity, and the history features by replaying
each payer's events through the same ``PayerHistory`` arithmetic. A test
feeds one stream through both engines and requires every value to match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netfin.core.errors import NetfinError
from netfin.risk.features.catalogue import (
    BOOLEAN_FEATURES,
    HISTORY_FEATURES,
    SPANS_MS,
    WINDOW_FEATURES,
    Aggregate,
    Entity,
    FeatureConfig,
)
from netfin.risk.features.state import PayerHistory

KEY_LIMIT = 2**62
FLOW_SPAN_MS = SPANS_MS["24h"]
SPAN_MAX_MS = max(SPANS_MS.values())

Progress = Callable[[str], None]


class HistoryOrderError(NetfinError):
    code = "history_out_of_order"


class _Grouped:
    """The rows of one entity kind, grouped by entity and kept in stream order inside a group."""

    def __init__(self, group: np.ndarray, ts: np.ndarray) -> None:
        rows = np.flatnonzero(group >= 0)
        order = np.argsort(group[rows], kind="stable")
        self.rows = rows[order]  # row numbers in group order
        self.g = group[self.rows]
        self.t = ts[self.rows]
        self.t0 = int(ts.min()) if len(ts) else 0
        self.width = int(ts.max()) - self.t0 + 2 * SPAN_MAX_MS + 1 if len(ts) else 1
        self.n = len(ts) + 1
        top = int(group.max()) + 1 if len(group) else 1
        if top * max(self.width, self.n) >= KEY_LIMIT:
            raise NetfinError("history too long or too many entities for one offline pass; split it by time")
        self.time_key = self.g * self.width + (self.t - self.t0) + SPAN_MAX_MS
        self.row_key = self.g * self.n + self.rows

    def lower(self, span_ms: int, g: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Per query: the first position in group ``g`` whose time is later than ``t - span``."""
        query = g * self.width + (t - self.t0 - span_ms) + SPAN_MAX_MS
        return np.asarray(np.searchsorted(self.time_key, query, side="right"), dtype=np.int64)

    def upto(self, g: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Per query: the position just after the last row of group ``g`` at or before ``row``."""
        return np.asarray(np.searchsorted(self.row_key, g * self.n + row, side="right"), dtype=np.int64)

    def window_sums(self, values: np.ndarray, span_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Count and sum of ``values`` in each row's own window, in group order."""
        position = np.arange(len(self.rows))
        low = self.lower(span_ms, self.g, self.t)
        cumulative = np.concatenate(([0], np.cumsum(values[self.rows], dtype=np.int64)))
        return position - low + 1, cumulative[position + 1] - cumulative[low]

    def distinct(self, counterparty: np.ndarray, span_ms: int) -> np.ndarray:
        """Distinct counterparties in each row's own window, in group order (two pointers)."""
        groups, times = self.g.tolist(), self.t.tolist()
        parties = counterparty[self.rows].tolist()
        out = [0] * len(groups)
        seen: Counter[int] = Counter()
        low, current = 0, -1
        for i, group in enumerate(groups):
            if group != current:
                seen.clear()
                low, current = i, group
            seen[parties[i]] += 1
            edge = times[i] - span_ms
            while times[low] <= edge:
                party = parties[low]
                seen[party] -= 1
                if not seen[party]:
                    del seen[party]
                low += 1
            out[i] = len(seen)
        return np.asarray(out, dtype=np.int64)


def _codes(column: pa.ChunkedArray, empty_is_missing: bool = False) -> tuple[np.ndarray, pa.Array]:
    encoded = pc.dictionary_encode(column).combine_chunks()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    dictionary = encoded.dictionary
    if empty_is_missing:
        empty = pc.index(dictionary, "").as_py()
        if empty is not None and empty >= 0:
            codes = np.where(codes == empty, -1, codes)
    return codes, dictionary


def _checked(table: pa.Table) -> pa.Table:
    table = table.sort_by("seq")
    seq = table["seq"].to_numpy()
    ts = table["ts_ms"].to_numpy()
    if len(seq) > 1 and not bool(np.all(np.diff(seq) > 0)):
        raise HistoryOrderError("event seq values must be unique")
    if len(ts) > 1 and not bool(np.all(np.diff(ts) >= 0)):
        raise HistoryOrderError("timestamps must not decrease along seq (the stream order)")
    return table


def compute_offline(
    table: pa.Table, config: FeatureConfig | None = None, progress: Progress | None = None
) -> pa.Table:
    """Every catalogue feature for every event of ``table`` (``EVENT_SCHEMA`` columns), by seq."""
    config = config or FeatureConfig()
    tell = progress or (lambda stage: None)
    table = _checked(table)
    ts = np.asarray(table["ts_ms"].to_numpy(), dtype=np.int64)
    amount = np.asarray(table["amount_minor"].to_numpy(), dtype=np.int64)
    merchant = np.asarray(pc.equal(table["payee_kind"], "merchant").to_numpy(zero_copy_only=False))
    small = (merchant & (amount <= config.small_merchant_max_minor)).astype(np.int64)
    payer, payer_names = _codes(table["payer"])
    payee, payee_names = _codes(table["payee"])
    device, _ = _codes(table["device"], empty_is_missing=True)
    groups = {
        Entity.PAYER: _Grouped(payer, ts),
        Entity.PAYEE: _Grouped(payee, ts),
        Entity.DEVICE: _Grouped(device, ts),
    }
    counterparty = {Entity.PAYER: payee, Entity.PAYEE: payer, Entity.DEVICE: payer}
    columns: dict[str, pa.Array] = {"seq": table["seq"].combine_chunks()}
    for feature in WINDOW_FEATURES:
        tell(feature.name)
        grouped = groups[feature.entity]
        values = np.zeros(len(ts), dtype=np.int64)
        if feature.aggregate is Aggregate.DISTINCT:
            found = grouped.distinct(counterparty[feature.entity], feature.span_ms)
        else:
            source = {Aggregate.COUNT: np.ones_like(amount), Aggregate.SUM: amount}.get(
                feature.aggregate, small
            )
            count, total = grouped.window_sums(source, feature.span_ms)
            found = count if feature.aggregate is Aggregate.COUNT else total
        values[grouped.rows] = found
        columns[feature.name] = pa.array(values, pa.int64())
    tell("history")
    columns.update(_history(table, groups[Entity.PAYER], config))
    tell("flow")
    payee_as_payer = np.asarray(
        pc.fill_null(pc.index_in(table["payee"], value_set=payer_names), -1).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    inflow = np.asarray(columns["payee_sum_24h"].to_numpy(), dtype=np.int64)
    columns["payee_outflow_ratio_24h"] = pa.array(
        _outflow_ratio(groups[Entity.PAYER], amount, payee_as_payer, ts, inflow), pa.float64()
    )
    payer_as_payee = np.asarray(
        pc.fill_null(pc.index_in(table["payer"], value_set=payee_names), -1).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    fanin, received = _payer_inflow(groups[Entity.PAYEE], payer, amount, payer_as_payee, ts)
    columns["payer_fanin_24h"] = pa.array(fanin, pa.int64())
    columns["payer_inflow_24h"] = pa.array(received, pa.int64())
    return pa.table(columns)


HISTORY_CHUNK_ROWS = 500_000  # payers are replayed this many events at a time (whole payers)
_HISTORY_DTYPES = {name: np.bool_ if name in BOOLEAN_FEATURES else np.float64 for name in HISTORY_FEATURES}
_HISTORY_DTYPES["payer_history_count"] = np.int64


def _history(table: pa.Table, grouped: _Grouped, config: FeatureConfig) -> dict[str, pa.Array]:
    """Replay each payer's events, in stream order, through ``PayerHistory``.

    Whole payers at a time, about ``HISTORY_CHUNK_ROWS`` events per chunk, so only one chunk's
    events are Python objects at once; the results go straight into numpy columns.
    """
    out = {name: np.zeros(table.num_rows, dtype=dtype) for name, dtype in _HISTORY_DTYPES.items()}
    columns = table.select(["ts_ms", "amount_minor", "payee", "device", "lat", "lon"])
    start, n = 0, len(grouped.rows)
    while start < n:
        stop = _chunk_end(grouped.g, start, HISTORY_CHUNK_ROWS)
        rows = grouped.rows[start:stop]
        found = _replay_payers(columns.take(pa.array(rows)), grouped.g[start:stop].tolist(), config)
        for name, values in found.items():
            out[name][rows] = values
        start = stop
    return {name: pa.array(values) for name, values in out.items()}


def _chunk_end(groups: np.ndarray, start: int, size: int) -> int:
    """The end of a chunk of about ``size`` rows from ``start`` that never splits a group."""
    if start + size >= len(groups):
        return len(groups)
    end = int(np.searchsorted(groups, groups[start + size], side="left"))
    return end if end > start else int(np.searchsorted(groups, groups[start], side="right"))


def _replay_payers(chunk: pa.Table, groups: list[int], config: FeatureConfig) -> dict[str, list[object]]:
    ts, amounts = chunk["ts_ms"].to_pylist(), chunk["amount_minor"].to_pylist()
    payees, devices = chunk["payee"].to_pylist(), chunk["device"].to_pylist()
    lats, lons = chunk["lat"].to_pylist(), chunk["lon"].to_pylist()
    found: dict[str, list[object]] = {name: [None] * len(ts) for name in HISTORY_FEATURES}
    state, current = PayerHistory(), -1
    for i, group in enumerate(groups):
        if group != current:
            state, current = PayerHistory(), group
        args = (ts[i], amounts[i], payees[i], devices[i], lats[i], lons[i], config)
        for name, value in state.features(*args).items():
            found[name][i] = value
        state.observe(*args)
    return found


def _outflow_ratio(
    payers: _Grouped, amount: np.ndarray, payee_as_payer: np.ndarray, ts: np.ndarray, inflow: np.ndarray
) -> np.ndarray:
    """Per event: the payee's own payments in 24 h up to this event over what it received in 24 h."""
    ratio = np.zeros(len(ts), dtype=np.float64)
    known = np.flatnonzero((payee_as_payer >= 0) & (inflow > 0))
    if len(known) == 0:
        return ratio
    g, t = payee_as_payer[known], ts[known]
    high = payers.upto(g, known)
    low = payers.lower(FLOW_SPAN_MS, g, t)
    cumulative = np.concatenate(([0], np.cumsum(amount[payers.rows], dtype=np.int64)))
    outflow = cumulative[high] - cumulative[np.minimum(low, high)]
    ratio[known] = [min(1.0, o / i) for o, i in zip(outflow.tolist(), inflow[known].tolist(), strict=True)]
    return ratio


def _payer_inflow(
    payees: _Grouped, payer: np.ndarray, amount: np.ndarray, payer_as_payee: np.ndarray, ts: np.ndarray
) -> tuple[list[int], list[int]]:
    """Per event: distinct payers and money that paid this event's payer in 24 h, up to this event.

    One merge per payee group: the group's own inflows (in stream order) and the events its
    holder pays (the queries, in stream order), two pointers over the inflows.
    """
    n = len(ts)
    fanin, received = [0] * n, [0] * n
    queries = np.flatnonzero(payer_as_payee >= 0)
    if len(queries) == 0:
        return fanin, received
    order = np.argsort(payer_as_payee[queries], kind="stable")
    q_rows, q_codes = queries[order].tolist(), payer_as_payee[queries][order].tolist()
    g, t, rows = payees.g.tolist(), payees.t.tolist(), payees.rows.tolist()
    payers, amounts, times = payer.tolist(), amount.tolist(), ts.tolist()
    starts = np.searchsorted(payees.g, np.asarray(q_codes), side="left").tolist()
    seen: Counter[int] = Counter()
    current, low, next_in, total = -1, 0, 0, 0
    for q_row, code, start in zip(q_rows, q_codes, starts, strict=True):
        if code != current:
            seen.clear()
            current, low, next_in, total = code, start, start, 0
        while next_in < len(g) and g[next_in] == code and rows[next_in] <= q_row:
            seen[payers[rows[next_in]]] += 1
            total += amounts[rows[next_in]]
            next_in += 1
        edge = times[q_row] - FLOW_SPAN_MS
        while low < next_in and t[low] <= edge:
            party = payers[rows[low]]
            seen[party] -= 1
            if not seen[party]:
                del seen[party]
            total -= amounts[rows[low]]
            low += 1
        fanin[q_row], received[q_row] = len(seen), total
    return fanin, received
