"""TxEdges validation, the node index and evidence dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from netfin.aml.graph import (
    GraphInputInvalid,
    GraphLimitExceeded,
    GraphLimits,
    IgraphEngine,
    NodeIndex,
    TxEdges,
)

DAY_NS = 86_400 * 10**9


def test_edges_are_read_only_int64_columns() -> None:
    edges = TxEdges.from_arrays([0, 1], [1, 0], [5, 6], [100, 200], edge_id=[10, 11])
    assert edges.src.dtype == np.int64 and edges.node_count == 2 and len(edges) == 2
    with pytest.raises(ValueError, match="read-only"):
        edges.amount_minor[0] = 5


@pytest.mark.parametrize(
    ("columns", "code"),
    [
        (([0, 1], [1], [1, 2], [1, 1]), "edge_columns_unequal"),
        (([0, 1], [1, 0], [1, 2], [1, -1]), "amount_negative"),
        (([0, -1], [1, 0], [1, 2], [1, 1]), "node_code_negative"),
        (([0, 1], [1, 0], [1, 2], [1.5, 1.0]), "edge_column_invalid"),
        (([[0, 1]], [[1, 0]], [[1, 2]], [[1, 1]]), "edge_column_invalid"),
    ],
)
def test_bad_edges_are_rejected_with_a_code(columns: tuple[object, ...], code: str) -> None:
    with pytest.raises(GraphInputInvalid) as raised:
        TxEdges.from_arrays(*columns)
    assert raised.value.code == code


def test_size_limits_are_enforced() -> None:
    with pytest.raises(GraphLimitExceeded):
        TxEdges.from_arrays([0, 1, 2], [1, 2, 0], [1, 2, 3], [1, 1, 1], edges_max=2)
    with pytest.raises(GraphLimitExceeded):
        TxEdges.from_arrays([0, 5], [1, 0], [1, 2], [1, 1], node_count=3)
    engine = IgraphEngine(GraphLimits(edges_max=2))
    with pytest.raises(GraphLimitExceeded):
        engine.cycles(TxEdges.from_arrays([0, 1, 2], [1, 2, 0], [1, 2, 3], [1, 1, 1]))


@pytest.mark.parametrize(
    "kwargs", [{"cycle_length_max": 7}, {"cycle_length_max": 1}, {"window_ns": 0}, {"degree_max": 0}]
)
def test_limits_are_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(GraphInputInvalid):
        GraphLimits(**kwargs)


def test_node_index_round_trips_account_ids() -> None:
    index = NodeIndex(["acc-b", "acc-a"])
    codes = index.encode(["acc-a", "acc-c", "acc-b"])
    assert codes.tolist() == [1, 2, 0]
    assert index.account_id(2) == "acc-c" and len(index) == 3
    with pytest.raises(GraphInputInvalid):
        index.account_id(3)
    with pytest.raises(GraphInputInvalid):
        index.code_for("")


def test_cycle_evidence_is_json_with_account_ids_times_and_amounts() -> None:
    index = NodeIndex()
    src = index.encode(["a", "b", "c"])
    dst = index.encode(["b", "c", "a"])
    edges = TxEdges.from_arrays(
        src, dst, [DAY_NS, 2 * DAY_NS, 3 * DAY_NS], [500, 450, 400], edge_id=[7, 8, 9]
    )
    found = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS)).cycles(edges)
    evidence = found.cycles[0].evidence(edges, index)
    again = json.loads(json.dumps(evidence))
    assert again["nodes"] == ["a", "b", "c"]
    assert [e["edge_id"] for e in again["edges"]] == [7, 8, 9]
    assert [e["amount_minor"] for e in again["edges"]] == [500, 450, 400]
    assert again["amount_total_minor"] == 1350 and again["amount_min_minor"] == 400
    assert again["edges"][2] == {
        "row": 2,
        "source": "c",
        "target": "a",
        "ts_ns": 3 * DAY_NS,
        "amount_minor": 400,
        "edge_id": 9,
    }
