"""Properties of effective ownership on random graphs with chains, diamonds and loops."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.aml.ownership import (
    TOLERANCE,
    HolderKind,
    OwnershipEdge,
    OwnershipGraph,
    ShareKind,
    beneficial_owners,
    ultimate_shares,
)

DAY = date(2025, 1, 1)
ENTERPRISES = [f"E{i}" for i in range(6)]
PERSONS = [f"P{i}" for i in range(4)]


def _edge(owner: str, owned: str, twentieths: int) -> OwnershipEdge:
    return OwnershipEdge(
        edge_id=f"{owner}>{owned}",
        owner_id=owner,
        owner_kind=HolderKind.PERSON if owner.startswith("P") else HolderKind.ENTERPRISE,
        owned_id=owned,
        share=Decimal(twentieths) / 20,
        kind=ShareKind.EQUITY,
        valid_from=date(2020, 1, 1),
        valid_to=None,
        source="",
        recorded_by="test",
        recorded_ns=0,
    )


@st.composite
def graphs(draw: st.DrawFn) -> list[OwnershipEdge]:
    """Each enterprise gets a few holders whose shares add up to at most 1.

    A total of exactly 1 is allowed only with a person among the holders,
    so no group of enterprises can hold itself entirely (no closed loop).
    """
    edges: list[OwnershipEdge] = []
    for owned in ENTERPRISES:
        holders = draw(st.lists(st.sampled_from([*PERSONS, *ENTERPRISES]), max_size=4, unique=True))
        holders = [h for h in holders if h != owned]
        left = 20
        parts: dict[str, int] = {}
        for holder in holders:
            if left <= 1:
                break
            parts[holder] = draw(st.integers(1, left - 1))
            left -= parts[holder]
        persons = [h for h in parts if h.startswith("P")]
        if left == 1 and persons and draw(st.booleans()):
            parts[persons[0]] += 1  # all of it held, a person among the holders
        edges.extend(_edge(holder, owned, part) for holder, part in parts.items())
    return edges


def _exact(edges: list[OwnershipEdge]) -> dict[str, dict[str, Fraction]]:
    holdings = OwnershipGraph.of(edges, DAY).holdings
    return {e: dict(v) for e, v in ultimate_shares(holdings, exact=True).exact.items()}


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_effective_shares_never_exceed_one(edges: list[OwnershipEdge]) -> None:
    for vector in _exact(edges).values():
        persons = [v for h, v in vector.items() if h.startswith("P")]
        assert all(0 < v <= 1 for v in persons)
        assert sum(vector.values(), Fraction(0)) <= 1


@settings(max_examples=150, deadline=None)
@given(graphs(), st.sampled_from(PERSONS), st.sampled_from(ENTERPRISES), st.integers(1, 19))
def test_adding_an_edge_never_lowers_a_persons_share(
    edges: list[OwnershipEdge], person: str, owned: str, twentieths: int
) -> None:
    held = sum(e.share for e in edges if e.owned_id == owned)
    room = int((1 - held) * 20)
    if room < 1 or any(e.owner_id == person and e.owned_id == owned for e in edges):
        return
    before = _exact(edges)
    after = _exact([*edges, _edge(person, owned, min(twentieths, room))])
    for enterprise, vector in before.items():
        for holder, value in vector.items():
            if holder.startswith("P"):
                assert after[enterprise].get(holder, Fraction(0)) >= value
    assert after[owned][person] > before.get(owned, {}).get(person, Fraction(0))


@settings(max_examples=100, deadline=None)
@given(graphs().flatmap(lambda edges: st.tuples(st.just(edges), st.permutations(edges))))
def test_the_result_does_not_depend_on_edge_order(
    pair: tuple[list[OwnershipEdge], list[OwnershipEdge]],
) -> None:
    edges, shuffled = pair
    for entity in sorted({e.owned_id for e in edges}):
        first = beneficial_owners(OwnershipGraph.of(edges, DAY), entity, Decimal("0.1"))
        second = beneficial_owners(OwnershipGraph.of(shuffled, DAY), entity, Decimal("0.1"))
        assert first == second


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_float_arithmetic_stays_within_the_tolerance(edges: list[OwnershipEdge]) -> None:
    holdings = OwnershipGraph.of(edges, DAY).holdings
    exact = ultimate_shares(holdings, exact=True).exact
    numeric = ultimate_shares(holdings, exact=False).numeric
    for enterprise, vector in exact.items():
        for holder, value in vector.items():
            assert abs(numeric[enterprise].get(holder, 0.0) - float(value)) < TOLERANCE
