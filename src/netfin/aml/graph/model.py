"""Domain types of the transaction graph: columnar edges, the node index and the patterns found.

Edges are columns of numpy arrays (one row per transfer) so that a batch of
millions of transfers costs a few hundred bytes per row and every engine
(igraph here, Spark or Ray beyond one machine) reads the same shape. Nodes
are dense ``int64`` codes; ``NodeIndex`` maps them to and from the external
account ids. Money is integer minor units throughout.

Every pattern is a frozen dataclass that refers to transfers by their row in
``TxEdges`` and can turn itself into a small JSON-serialisable evidence dict
(nodes, edges with time and amount) that an AML case stores as its subgraph.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from netfin.aml.graph.errors import GraphInputInvalid, GraphLimitExceeded

Int64Array = npt.NDArray[np.int64]

# One batch of transfers handed to an engine on one machine (10 million
# transfers take about 330 MB in these columns; the limit leaves headroom).
EDGES_MAX = 100_000_000
# Dense node codes; keeps ``src * node_count + dst`` inside int64.
NODES_MAX = 2**31
# Edges written into one evidence dict; a case stores the subgraph, not a dump.
EVIDENCE_EDGES_MAX = 1_000

Direction = Literal["in", "out"]
SpreadKind = Literal["scatter_gather", "gather_scatter"]
NodeLabel = str | int
Evidence = dict[str, object]


class NodeIndex:
    """External account ids (str) <-> dense node codes 0..n-1, in first-seen order."""

    __slots__ = ("_codes", "_ids")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._codes: dict[str, int] = {}
        for account_id in ids:
            self.code_for(account_id)

    def __len__(self) -> int:
        return len(self._ids)

    def code_for(self, account_id: str) -> int:
        """The code of ``account_id``, assigning the next free code to a new id."""
        code = self._codes.get(account_id)
        if code is not None:
            return code
        if not isinstance(account_id, str) or not account_id:
            raise GraphInputInvalid("an account id must be a non-empty string", code="account_id_invalid")
        if len(self._ids) >= NODES_MAX:
            raise GraphLimitExceeded(f"more than {NODES_MAX} accounts", code="graph_nodes_max_exceeded")
        code = len(self._ids)
        self._ids.append(account_id)
        self._codes[account_id] = code
        return code

    def encode(self, account_ids: Sequence[str]) -> Int64Array:
        """Codes for a column of ids, assigning codes to new ones."""
        return np.fromiter((self.code_for(a) for a in account_ids), dtype=np.int64, count=len(account_ids))

    def account_id(self, code: int) -> str:
        if not 0 <= code < len(self._ids):
            raise GraphInputInvalid(f"no account has code {code}", code="node_code_unknown")
        return self._ids[code]

    def label(self, code: int) -> NodeLabel:
        return self.account_id(code)


def _int_column(name: str, values: object) -> Int64Array:
    array = np.asarray(values)
    if array.ndim != 1:
        raise GraphInputInvalid(f"{name} must be one-dimensional", code="edge_column_invalid")
    if array.size and array.dtype.kind not in "iu":
        raise GraphInputInvalid(f"{name} must hold integers, not {array.dtype}", code="edge_column_invalid")
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise GraphInputInvalid(f"{name} overflows int64", code="edge_column_invalid")
    column = np.ascontiguousarray(array, dtype=np.int64)
    column.flags.writeable = False
    return column


@dataclass(frozen=True, eq=False, slots=True)
class TxEdges:
    """Transfers as columns: ``src[i] -> dst[i]`` at ``ts_ns[i]`` for ``amount_minor[i]``.

    Build it with ``TxEdges.from_arrays``, which validates; the arrays are
    read-only afterwards. ``node_count`` is one more than the largest code.
    """

    src: Int64Array
    dst: Int64Array
    ts_ns: Int64Array
    amount_minor: Int64Array
    edge_id: Int64Array | None
    node_count: int

    @classmethod
    def from_arrays(
        cls,
        src: object,
        dst: object,
        ts_ns: object,
        amount_minor: object,
        *,
        edge_id: object | None = None,
        node_count: int | None = None,
        edges_max: int = EDGES_MAX,
    ) -> TxEdges:
        columns = {
            "src": _int_column("src", src),
            "dst": _int_column("dst", dst),
            "ts_ns": _int_column("ts_ns", ts_ns),
            "amount_minor": _int_column("amount_minor", amount_minor),
        }
        ids = None if edge_id is None else _int_column("edge_id", edge_id)
        size = columns["src"].size
        if any(c.size != size for c in columns.values()) or (ids is not None and ids.size != size):
            raise GraphInputInvalid("edge columns must have equal lengths", code="edge_columns_unequal")
        if size > min(edges_max, EDGES_MAX):
            raise GraphLimitExceeded(f"{size} edges, more than {edges_max}", code="graph_edges_max_exceeded")
        if size and int(columns["amount_minor"].min()) < 0:
            raise GraphInputInvalid("amounts must not be negative", code="amount_negative")
        low = min(int(columns["src"].min()), int(columns["dst"].min())) if size else 0
        high = max(int(columns["src"].max()), int(columns["dst"].max())) if size else -1
        if low < 0:
            raise GraphInputInvalid("node codes must not be negative", code="node_code_negative")
        count = high + 1 if node_count is None else node_count
        if count <= high or count > NODES_MAX:
            raise GraphLimitExceeded(f"node count {count} must exceed every code and be <= {NODES_MAX}")
        return cls(columns["src"], columns["dst"], columns["ts_ns"], columns["amount_minor"], ids, count)

    def __len__(self) -> int:
        return int(self.src.size)

    def take(self, rows: Int64Array) -> TxEdges:
        """The edges at ``rows`` (same node codes); row ``i`` of the result is ``rows[i]`` here."""
        ids = None if self.edge_id is None else self.edge_id[rows]
        return TxEdges.from_arrays(
            self.src[rows],
            self.dst[rows],
            self.ts_ns[rows],
            self.amount_minor[rows],
            edge_id=ids,
            node_count=self.node_count,
        )


def _label(code: int, index: NodeIndex | None) -> NodeLabel:
    return code if index is None else index.label(code)


def edges_evidence(edges: TxEdges, rows: Sequence[int], index: NodeIndex | None = None) -> list[Evidence]:
    """JSON-ready rows for the transfers at ``rows`` (at most ``EVIDENCE_EDGES_MAX``)."""
    out: list[Evidence] = []
    for row in rows[:EVIDENCE_EDGES_MAX]:
        item: Evidence = {
            "row": int(row),
            "source": _label(int(edges.src[row]), index),
            "target": _label(int(edges.dst[row]), index),
            "ts_ns": int(edges.ts_ns[row]),
            "amount_minor": int(edges.amount_minor[row]),
        }
        if edges.edge_id is not None:
            item["edge_id"] = int(edges.edge_id[row])
        out.append(item)
    return out


def _subgraph_evidence(
    pattern: str,
    nodes: Sequence[int],
    rows: Sequence[int],
    edge_count: int,
    edges: TxEdges,
    index: NodeIndex | None,
) -> Evidence:
    shown = edges_evidence(edges, rows, index)
    return {
        "pattern": pattern,
        "nodes": [_label(n, index) for n in nodes],
        "edges": shown,
        "edge_count": edge_count,
        "edges_truncated": edge_count > len(shown),
    }


@dataclass(frozen=True, slots=True)
class Cycle:
    """A directed cycle ``nodes[0] -> nodes[1] -> ... -> nodes[0]``; ``edges[i]`` leaves ``nodes[i]``.

    ``nodes[0]`` is the smallest code, so one cycle has one spelling.
    """

    nodes: tuple[int, ...]
    edges: tuple[int, ...]
    first_ts_ns: int
    last_ts_ns: int
    amount_total_minor: int
    amount_min_minor: int

    @property
    def length(self) -> int:
        return len(self.nodes)

    def evidence(self, edges: TxEdges, index: NodeIndex | None = None) -> Evidence:
        found = _subgraph_evidence("cycle", self.nodes, self.edges, len(self.edges), edges, index)
        found.update(
            first_ts_ns=self.first_ts_ns,
            last_ts_ns=self.last_ts_ns,
            amount_total_minor=self.amount_total_minor,
            amount_min_minor=self.amount_min_minor,
        )
        return found


@dataclass(frozen=True, slots=True)
class CycleSearch:
    """Cycles found, with what the bounds left out.

    ``hubs`` are nodes whose degree inside some window exceeded the bound and
    were left out of the search there (review them as fan patterns);
    ``truncated`` says the cycle cap or the time budget stopped the search,
    so cycles may be missing. ``search_work`` counts the paths grown.
    """

    cycles: tuple[Cycle, ...]
    hubs: tuple[int, ...]
    truncated: bool
    truncated_reason: str | None
    windows_scanned: int
    search_work: int


@dataclass(frozen=True, slots=True)
class Component:
    """A weakly connected set of accounts and the transfers among them.

    Patterns keep at most ``EVIDENCE_EDGES_MAX`` edge rows (``edges``);
    ``edge_count`` is the full number.
    """

    members: tuple[int, ...]
    edge_count: int
    amount_total_minor: int
    edges: tuple[int, ...]

    def evidence(self, edges: TxEdges, index: NodeIndex | None = None) -> Evidence:
        found = _subgraph_evidence("component", self.members, self.edges, self.edge_count, edges, index)
        found.update(amount_total_minor=self.amount_total_minor)
        return found


@dataclass(frozen=True, slots=True)
class Community:
    """A community of accounts, scored by how mule-like its members behave.

    ``score`` is the share of members that look like mules (many distinct
    payers, most of the inflow paid on quickly); ``density`` is internal
    (ordered) pairs over ``n * (n - 1)``.
    """

    members: tuple[int, ...]
    mule_members: tuple[int, ...]
    edge_count: int
    edges: tuple[int, ...]
    amount_internal_minor: int
    amount_external_minor: int
    density: float
    score: float

    def evidence(self, edges: TxEdges, index: NodeIndex | None = None) -> Evidence:
        found = _subgraph_evidence("community", self.members, self.edges, self.edge_count, edges, index)
        found.update(
            mule_members=[_label(n, index) for n in self.mule_members],
            amount_internal_minor=self.amount_internal_minor,
            amount_external_minor=self.amount_external_minor,
            density=self.density,
            score=self.score,
        )
        return found


@dataclass(frozen=True, slots=True)
class MuleNetwork:
    """Several mules sweeping what they collected to one collecting account.

    A *sweep* is a transfer out of an account that, with the account's other
    payments in the ``dwell_ns`` before it, carries on what at least
    ``payers_min`` distinct payers paid in over that time (pass-through at
    least ``pass_through_bps_min``). A network is a ``collector`` that
    received sweeps from at least ``mule_members_min`` distinct ``mules``.
    ``feeders`` paid the mules inside their sweep windows; ``edges`` holds
    the sweeps first, then the feeding transfers. ``score`` is the share of
    everything the collector received that came as sweeps.
    """

    collector: int
    mules: tuple[int, ...]
    feeders: tuple[int, ...]
    sweep_count: int
    edge_count: int
    edges: tuple[int, ...]
    amount_swept_minor: int
    amount_collected_minor: int
    score: float

    @property
    def members(self) -> tuple[int, ...]:
        return (self.collector, *self.mules, *self.feeders)

    def evidence(self, edges: TxEdges, index: NodeIndex | None = None) -> Evidence:
        found = _subgraph_evidence("mule_network", self.members, self.edges, self.edge_count, edges, index)
        found.update(
            collector=_label(self.collector, index),
            mule_members=[_label(n, index) for n in self.mules],
            sweep_count=self.sweep_count,
            amount_swept_minor=self.amount_swept_minor,
            amount_collected_minor=self.amount_collected_minor,
            score=self.score,
        )
        return found


@dataclass(frozen=True, slots=True)
class FanPattern:
    """One hub with at least K distinct counterparties on one side inside a window."""

    hub: int
    direction: Direction
    counterparties: tuple[int, ...]
    window_start_ns: int
    window_end_ns: int
    amount_total_minor: int
    edge_count: int
    edges: tuple[int, ...]

    def evidence(self, edges: TxEdges, index: NodeIndex | None = None) -> Evidence:
        nodes = (self.hub, *self.counterparties)
        found = _subgraph_evidence(f"fan_{self.direction}", nodes, self.edges, self.edge_count, edges, index)
        found.update(
            hub=_label(self.hub, index),
            counterparty_count=len(self.counterparties),
            window_start_ns=self.window_start_ns,
            window_end_ns=self.window_end_ns,
            amount_total_minor=self.amount_total_minor,
        )
        return found


@dataclass(frozen=True, slots=True)
class ScatterGather:
    """Money spread through intermediaries inside a window.

    ``scatter_gather``: one source pays K or more intermediaries who each pay
    the same sink (``sources`` and ``sinks`` have one member).
    ``gather_scatter``: K or more payers pay one intermediary who pays K or
    more payees (``intermediaries`` has one member).
    """

    kind: SpreadKind
    sources: tuple[int, ...]
    intermediaries: tuple[int, ...]
    sinks: tuple[int, ...]
    window_start_ns: int
    window_end_ns: int
    amount_in_minor: int
    amount_out_minor: int
    edge_count: int
    edges: tuple[int, ...]

    def evidence(self, edges: TxEdges, index: NodeIndex | None = None) -> Evidence:
        nodes = dict.fromkeys((*self.sources, *self.intermediaries, *self.sinks))
        found = _subgraph_evidence(self.kind, list(nodes), self.edges, self.edge_count, edges, index)
        found.update(
            sources=[_label(n, index) for n in self.sources],
            intermediaries=[_label(n, index) for n in self.intermediaries],
            sinks=[_label(n, index) for n in self.sinks],
            window_start_ns=self.window_start_ns,
            window_end_ns=self.window_end_ns,
            amount_in_minor=self.amount_in_minor,
            amount_out_minor=self.amount_out_minor,
        )
        return found
