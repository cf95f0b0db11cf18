"""Effective ownership through chains, diamonds and loops, against values worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from netfin.aml.ownership import (
    ClosedOwnershipLoop,
    HolderKind,
    OwnershipEdge,
    OwnershipGraph,
    ShareKind,
    beneficial_owners,
    beneficial_owners_of_all,
    ultimate_shares,
)

DAY = date(2025, 6, 30)
P, E = HolderKind.PERSON, HolderKind.ENTERPRISE


def edge(owner: str, owned: str, share: str, owner_kind: HolderKind = E, **kw: object) -> OwnershipEdge:
    fields: dict[str, object] = {
        "edge_id": f"{owner}>{owned}:{kw.get('kind', 'equity')}",
        "owner_id": owner,
        "owner_kind": owner_kind,
        "owned_id": owned,
        "share": Decimal(share),
        "kind": ShareKind.EQUITY,
        "valid_from": date(2020, 1, 1),
        "valid_to": None,
        "source": "",
        "recorded_by": "test",
        "recorded_ns": 0,
    }
    fields.update(kw)
    return OwnershipEdge(**fields)  # type: ignore[arg-type]


def report(edges: list[OwnershipEdge], entity: str, threshold: str = "0.25", **kw: object):  # type: ignore[no-untyped-def]
    return beneficial_owners(OwnershipGraph.of(edges, DAY), entity, Decimal(threshold), **kw)  # type: ignore[arg-type]


def shares(r) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    return {o.person_id: o.effective_share for o in r.owners}


def test_a_chain_multiplies_its_shares() -> None:
    r = report([edge("A", "B", "0.6", P), edge("B", "C", "0.5")], "C")
    assert r.method == "exact"
    assert shares(r) == {"A": Decimal("0.30000000")}
    (owner,) = r.owners
    assert owner.above_threshold and not owner.majority_control
    assert [(p.holders, p.product) for p in owner.paths] == [(("A", "B", "C"), Decimal("0.30000000"))]
    # Half of C is held by nobody recorded; 60% of B's half reaches A, the rest of B is unknown.
    assert r.persons_share == Decimal("0.30000000") and r.unresolved_share == Decimal("0.70000000")


def test_a_chain_below_the_threshold_names_nobody() -> None:
    r = report([edge("A", "B", "0.4", P), edge("B", "C", "0.5")], "C")
    assert r.owners == () and r.persons_total == 1


def test_diamond_paths_add_up() -> None:
    # A holds 40% of B and 30% of D; B holds 50% of C, D holds 50% of C: A has 0.2 + 0.15 = 35% of C.
    edges = [edge("A", "B", "0.4", P), edge("A", "D", "0.3", P), edge("B", "C", "0.5"), edge("D", "C", "0.5")]
    r = report(edges, "C")
    assert shares(r) == {"A": Decimal("0.35000000")}
    assert [p.holders for p in r.owners[0].paths] == [("A", "B", "C"), ("A", "D", "C")]
    assert [p.product for p in r.owners[0].paths] == [Decimal("0.2"), Decimal("0.15")]


def test_cross_holding_loop_matches_the_hand_computed_series() -> None:
    # C: 50% P, 50% B.  B: 50% Q, 50% C.  Paths from P to C: P-C, P-C-B-C, ... = 0.5 / (1 - 0.25) = 2/3.
    # From Q: Q-B-C, Q-B-C-B-C, ... = 0.25 / 0.75 = 1/3. With everything accounted for, they add to 1.
    edges = [edge("P", "C", "0.5", P), edge("B", "C", "0.5"), edge("C", "B", "0.5"), edge("Q", "B", "0.5", P)]
    r = report(edges, "C")
    assert shares(r) == {"P": Decimal("0.66666667"), "Q": Decimal("0.33333333")}
    assert r.persons_share == Decimal("1.00000000") and r.unresolved_share == 0
    exact = ultimate_shares(OwnershipGraph.of(edges, DAY).holdings).exact
    assert exact["C"] == {"P": Fraction(2, 3), "Q": Fraction(1, 3)}
    assert exact["B"] == {"P": Fraction(1, 3), "Q": Fraction(2, 3)}


def test_a_three_enterprise_loop_with_a_leak() -> None:
    # X -> Y -> Z -> X, 60% each; P holds the other 40% of X only; Y and Z's other 40% are unknown.
    # x = 0.4 + 0.6 z, z = 0.6 y, y = 0.6 x  => x = 0.4 / (1 - 0.216) = 0.4 / 0.784.
    edges = [edge("P", "X", "0.4", P), edge("X", "Y", "0.6"), edge("Y", "Z", "0.6"), edge("Z", "X", "0.6")]
    exact = ultimate_shares(OwnershipGraph.of(edges, DAY).holdings).exact
    assert exact["X"]["P"] == Fraction(4, 10) / (1 - Fraction(216, 1000))
    assert exact["Z"]["P"] == Fraction(6, 10) * exact["Y"]["P"]


def test_numeric_and_exact_agree_within_the_tolerance() -> None:
    edges = [edge("P", "C", "0.5", P), edge("B", "C", "0.5"), edge("C", "B", "0.5"), edge("Q", "B", "0.5", P)]
    exact, numeric = report(edges, "C", exact=True), report(edges, "C", exact=False)
    assert numeric.method == "numeric"
    assert shares(exact) == shares(numeric)


def test_a_closed_loop_with_no_outside_holder_is_refused() -> None:
    edges = [edge("B", "C", "1"), edge("C", "B", "1"), edge("C", "D", "0.5")]
    with pytest.raises(ClosedOwnershipLoop) as caught:
        report(edges, "D")
    assert caught.value.code == "ownership_closed_loop" and "B, C" in caught.value.message


def test_majority_chain_controls_below_the_threshold() -> None:
    # M holds 51% of F, F 51% of G, G 51% of H: 13.3% effective, yet M controls H.
    edges = [
        edge("M", "F", "0.51", P),
        edge("F", "G", "0.51"),
        edge("G", "H", "0.51"),
        edge("R", "H", "0.49", P),
    ]
    r = report(edges, "H")
    by_person = {o.person_id: o for o in r.owners}
    assert by_person["M"].majority_control and not by_person["M"].above_threshold
    assert by_person["M"].effective_share == Decimal("0.13265100")
    assert by_person["R"].above_threshold and not by_person["R"].majority_control
    assert r.control_chain == ("M", "F", "G", "H")


def test_voting_edges_decide_control_where_an_enterprise_has_them() -> None:
    edges = [
        edge("M", "F", "0.3", P),
        edge("M", "F", "0.7", P, kind=ShareKind.VOTING),
        edge("F", "G", "0.6"),
    ]
    r = report(edges, "G")
    assert r.control_chain == ("M", "F", "G")
    assert shares(r) == {"M": Decimal("0.18000000")} and r.owners[0].majority_control


def test_exactly_half_is_not_a_majority() -> None:
    r = report([edge("A", "B", "0.5", P), edge("B", "C", "0.6")], "C", threshold="0.5")
    assert r.control_chain == () and r.owners == ()


def test_threshold_is_configurable_and_inclusive() -> None:
    edges = [edge("A", "B", "0.6", P), edge("B", "C", "0.5")]
    assert shares(report(edges, "C", threshold="0.3")) == {"A": Decimal("0.3")}
    assert report(edges, "C", threshold="0.30000001").owners == ()


def test_edges_out_of_force_are_ignored() -> None:
    edges = [edge("A", "C", "0.6", P, valid_to=date(2025, 1, 1)), edge("Z", "C", "0.3", P)]
    assert shares(report(edges, "C")) == {"Z": Decimal("0.3")}


def test_all_enterprises_in_one_pass_match_one_at_a_time() -> None:
    edges = [
        edge("P", "C", "0.5", P),
        edge("B", "C", "0.5"),
        edge("C", "B", "0.5"),
        edge("Q", "B", "0.5", P),
        edge("A", "X", "0.9", P),
        edge("X", "Y", "0.3"),
    ]
    graph = OwnershipGraph.of(edges, DAY)
    together = beneficial_owners_of_all(graph, Decimal("0.25"))
    assert [r.entity_id for r in together] == ["B", "C", "X", "Y"]
    for r in together:
        assert r == beneficial_owners(graph, r.entity_id, Decimal("0.25"))


def test_control_by_votes_alone_names_the_controller_with_no_equity() -> None:
    r = report([edge("M", "F", "0.7", P, kind=ShareKind.VOTING)], "F")
    (owner,) = r.owners
    assert owner.person_id == "M" and owner.majority_control and not owner.above_threshold
    assert owner.effective_share == 0 and owner.paths == ()
    assert r.unresolved_share == 1 and r.control_chain == ("M", "F")
