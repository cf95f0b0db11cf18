"""Effective ownership through chains and loops, and the beneficial owners it yields (pure).

Let ``B[e][f]`` be the share enterprise ``f`` holds in enterprise ``e`` and
``M[e][x]`` the share any other holder ``x`` (a person, or an enterprise
whose own holders nobody recorded) holds in ``e``. The effective share of
``x`` in ``e`` is the sum over every path from ``x`` to ``e`` of the
product of the shares along it, which is the series
``M + B M + B^2 M + ... = (I - B)^-1 M`` (the holders' block of
``A (I - A)^-1`` for the whole matrix ``A``). Where enterprises hold each
other, the paths that go round the loop are summed too: an enterprise's
indirect holding in itself is passed on, pro rata, to its outside holders,
so when every share is accounted for the persons' effective shares in an
enterprise add up to exactly 1.

The series converges when every loop leaks to an outside holder: shares in
one enterprise add up to at most 1, so ``B`` is substochastic, and its
spectral radius is below 1 unless some strongly connected group of
enterprises holds all of each member's shares inside the group. Such a
closed loop is refused with ``ClosedOwnershipLoop``.

The work is done per strongly connected group, in an order where holders
come before what they hold (the condensation is acyclic): a lone enterprise
just adds its holders' vectors; a loop solves ``(I - B_SS) X = base``.
Arithmetic is exact (``fractions.Fraction``) up to ``EXACT_ENTERPRISES_MAX``
enterprises and loops of ``EXACT_LOOP_MAX``; beyond, float64 (numpy), and a
share counts as reaching the threshold when it is within ``TOLERANCE`` below
it.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import TypeVar

import igraph
import numpy as np

from netfin.aml.ownership.model import (
    EFFECTIVE_SHARE_PLACES,
    BeneficialOwner,
    ClosedOwnershipLoop,
    HolderKind,
    OwnershipEdge,
    OwnershipPath,
    ShareKind,
    UboReport,
    majority_chain,
)
from netfin.core.errors import LimitExceeded, invariant

TOLERANCE = 1e-9
EXACT_ENTERPRISES_MAX = 2_000
EXACT_LOOP_MAX = 48
LOOP_ENTERPRISES_MAX = 3_000
PATH_HOPS_MAX = 16
PATHS_PER_OWNER_MAX = 10
PATH_VISITS_MAX = 20_000
_QUANTUM = Decimal(1).scaleb(-EFFECTIVE_SHARE_PLACES)
_N = TypeVar("_N", Fraction, float)

Holding = tuple[str, Fraction]  # (holder id, share)


@dataclass(frozen=True, slots=True)
class Ultimate:
    """Every enterprise's effective holders: exact fractions or floats, by ``method``."""

    method: str
    exact: Mapping[str, Mapping[str, Fraction]]
    numeric: Mapping[str, Mapping[str, float]]

    def of(self, entity_id: str) -> Mapping[str, Fraction] | Mapping[str, float]:
        return self.exact.get(entity_id, {}) if self.method == "exact" else self.numeric.get(entity_id, {})


def upstream(owners_of: Mapping[str, Sequence[tuple[str, object]]], roots: Iterable[str]) -> set[str]:
    """The roots and every enterprise that holds, directly or not, a part of one of them."""
    seen = {r for r in roots if r in owners_of}
    frontier = list(seen)
    while frontier:
        node = frontier.pop()
        for holder, _share in owners_of[node]:
            if holder in owners_of and holder not in seen:
                seen.add(holder)
                frontier.append(holder)
    return seen


def ultimate_shares(owners_of: Mapping[str, Sequence[Holding]], *, exact: bool | None = None) -> Ultimate:
    """Effective holders of every enterprise that is a key of ``owners_of``.

    Holders that are not keys are terminal: persons, or enterprises whose
    holders nobody recorded. ``exact`` None chooses by size (see module).
    """
    members, order = strong_groups(owners_of)
    largest = max((len(m) for m in members), default=0)
    if exact is None:
        exact = len(owners_of) <= EXACT_ENTERPRISES_MAX and largest <= EXACT_LOOP_MAX
    if exact:
        exact_shares = _accumulate(owners_of, members, order, Fraction(1), _identity, _solve_exact)
        return Ultimate("exact", exact_shares, {})
    return Ultimate("numeric", {}, _accumulate(owners_of, members, order, 1.0, float, _solve_numeric))


def strong_groups(owners_of: Mapping[str, Sequence[Holding]]) -> tuple[list[list[str]], list[int]]:
    """The strongly connected groups of enterprises, holders' groups first; refuses closed loops."""
    names = list(owners_of)
    index = {name: i for i, name in enumerate(names)}
    links = [(index[h], index[e]) for e in names for h, _s in owners_of[e] if h in index]
    graph = igraph.Graph(n=len(names), edges=links, directed=True)
    groups = graph.connected_components(mode="strong")
    members = [[names[i] for i in group] for group in groups]
    largest = max((len(m) for m in members), default=0)
    if largest > LOOP_ENTERPRISES_MAX:
        raise LimitExceeded(
            f"{largest} enterprises hold each other in one loop; at most {LOOP_ENTERPRISES_MAX}",
            code="ownership_loop_too_large",
        )
    for group in members:
        if len(group) > 1:
            _refuse_closed(group, owners_of)
    condensation = groups.cluster_graph()
    condensation.simplify()
    order: list[int] = condensation.topological_sorting(mode="out")
    invariant(len(order) == len(members), "the condensation of the ownership graph is not acyclic")
    return members, order


def _identity(value: Fraction) -> Fraction:
    return value


def _refuse_closed(group: Sequence[str], owners_of: Mapping[str, Sequence[Holding]]) -> None:
    inside = set(group)
    for member in group:
        if sum((s for h, s in owners_of[member] if h in inside), Fraction(0)) < 1:
            return
    raise ClosedOwnershipLoop(
        "these enterprises hold each other entirely, with no holder outside: "
        + ", ".join(sorted(group)[:10]),
    )


def _accumulate(
    owners_of: Mapping[str, Sequence[Holding]],
    members: Sequence[Sequence[str]],
    order: Sequence[int],
    one: _N,
    convert: Callable[[Fraction], _N],
    solve: Callable[[list[list[_N]], Sequence[dict[str, _N]], Sequence[str]], list[dict[str, _N]]],
) -> dict[str, dict[str, _N]]:
    own: dict[str, dict[str, _N]] = {}
    for group_index in order:
        group = members[group_index]
        if len(group) == 1:
            own[group[0]] = _combine(owners_of[group[0]], own, (), one, convert)
        else:
            inside = set(group)
            bases = [_combine(owners_of[e], own, inside, one, convert) for e in group]
            solved = solve(
                _loop_matrix(group, owners_of, convert), bases, sorted({k for b in bases for k in b})
            )
            for name, vector in zip(group, solved, strict=True):
                own[name] = vector
    return own


def _combine(
    holdings: Sequence[Holding],
    own: Mapping[str, Mapping[str, _N]],
    skip: Iterable[str],
    one: _N,
    convert: Callable[[Fraction], _N],
) -> dict[str, _N]:
    """One enterprise's effective holders from its direct holders, leaving out ``skip``."""
    vector: dict[str, _N] = defaultdict(lambda: one - one)
    excluded = set(skip)
    for holder, share in holdings:
        if holder in excluded:
            continue
        weight = convert(share)
        upstream_vector = own.get(holder)
        if upstream_vector is None:
            vector[holder] += weight
        else:
            for ultimate, value in upstream_vector.items():
                vector[ultimate] += weight * value
    return dict(vector)


def _loop_matrix(
    group: Sequence[str], owners_of: Mapping[str, Sequence[Holding]], convert: Callable[[Fraction], _N]
) -> list[list[_N]]:
    """``I - B_SS`` for one strongly connected group (the loop's own holdings)."""
    position = {name: i for i, name in enumerate(group)}
    size = len(group)
    matrix = [[convert(Fraction(int(i == j))) for j in range(size)] for i in range(size)]
    for i, name in enumerate(group):
        for holder, share in owners_of[name]:
            j = position.get(holder)
            if j is not None:
                matrix[i][j] -= convert(share)
    return matrix


def _solve_exact(
    matrix: list[list[Fraction]], bases: Sequence[dict[str, Fraction]], columns: Sequence[str]
) -> list[dict[str, Fraction]]:
    size = len(matrix)
    rhs = [[base.get(c, Fraction(0)) for c in columns] for base in bases]
    for col in range(size):
        pivot = next((r for r in range(col, size) if matrix[r][col] != 0), None)
        invariant(pivot is not None, "I - B is singular although no closed loop was found")
        if pivot is None:  # for the type checker; invariant has already stopped us
            return []
        matrix[col], matrix[pivot] = matrix[pivot], matrix[col]
        rhs[col], rhs[pivot] = rhs[pivot], rhs[col]
        scale = matrix[col][col]
        matrix[col] = [v / scale for v in matrix[col]]
        rhs[col] = [v / scale for v in rhs[col]]
        for row in range(size):
            factor = matrix[row][col]
            if row != col and factor != 0:
                matrix[row] = [a - factor * b for a, b in zip(matrix[row], matrix[col], strict=True)]
                rhs[row] = [a - factor * b for a, b in zip(rhs[row], rhs[col], strict=True)]
    return [{c: v for c, v in zip(columns, row, strict=True) if v != 0} for row in rhs]


def _solve_numeric(
    matrix: list[list[float]], bases: Sequence[dict[str, float]], columns: Sequence[str]
) -> list[dict[str, float]]:
    left = np.asarray(matrix, dtype=np.float64)
    right = np.asarray([[base.get(c, 0.0) for c in columns] for base in bases], dtype=np.float64)
    solved = np.linalg.solve(left, right)
    return [{c: float(v) for c, v in zip(columns, row, strict=True) if v != 0.0} for row in solved]


def to_decimal(value: Fraction | float) -> Decimal:
    """A share rounded half-even to ``EFFECTIVE_SHARE_PLACES`` places."""
    with localcontext() as context:
        context.prec = 60
        if isinstance(value, Fraction):
            exact = Decimal(value.numerator) / Decimal(value.denominator)
        else:
            exact = Decimal(repr(value))
        return exact.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def reaches(value: Fraction | float, threshold: Decimal) -> bool:
    """Exact comparison for fractions; within ``TOLERANCE`` below the threshold for floats."""
    if isinstance(value, Fraction):
        return value >= Fraction(threshold)
    return value >= float(threshold) - TOLERANCE


@dataclass(frozen=True, slots=True)
class OwnershipGraph:
    """The edges in force on one date, indexed for the UBO computation."""

    as_of: date
    kind: ShareKind
    holdings: Mapping[str, Sequence[Holding]]  # enterprise -> its holders of ``kind``
    holders: Mapping[str, Sequence[tuple[str, HolderKind, Decimal]]]  # for paths
    control: Mapping[str, Sequence[tuple[str, HolderKind, Decimal]]]  # for the majority chain
    kinds: Mapping[str, HolderKind]

    @classmethod
    def of(
        cls, edges: Iterable[OwnershipEdge], as_of: date, kind: ShareKind = ShareKind.EQUITY
    ) -> OwnershipGraph:
        by_kind: dict[ShareKind, dict[str, list[OwnershipEdge]]] = {k: defaultdict(list) for k in ShareKind}
        kinds: dict[str, HolderKind] = {}
        for edge in edges:
            if edge.active_on(as_of):
                by_kind[edge.kind][edge.owned_id].append(edge)
                kinds[edge.owner_id] = edge.owner_kind
                kinds[edge.owned_id] = HolderKind.ENTERPRISE
        chosen = by_kind[kind]
        # Votes follow the voting edges where an enterprise has any, and its equity otherwise.
        control_edges = {**by_kind[ShareKind.EQUITY], **by_kind[ShareKind.VOTING]}
        return cls(
            as_of=as_of,
            kind=kind,
            holdings={e: sorted((x.owner_id, Fraction(x.share)) for x in xs) for e, xs in chosen.items()},
            holders={e: _triples(xs) for e, xs in chosen.items()},
            control={e: _triples(xs) for e, xs in control_edges.items()},
            kinds=kinds,
        )


def _triples(edges: Sequence[OwnershipEdge]) -> list[tuple[str, HolderKind, Decimal]]:
    return sorted((e.owner_id, e.owner_kind, e.share) for e in edges)


def beneficial_owners(
    graph: OwnershipGraph,
    entity_id: str,
    threshold: Decimal,
    *,
    ultimate: Ultimate | None = None,
    exact: bool | None = None,
) -> UboReport:
    """The persons who own at least ``threshold`` of ``entity_id``, or control it by a majority chain."""
    if ultimate is None:
        scope = upstream(graph.holdings, [entity_id])
        ultimate = ultimate_shares({e: graph.holdings[e] for e in sorted(scope)}, exact=exact)
    shares = ultimate.of(entity_id)
    persons = {h: v for h, v in shares.items() if graph.kinds.get(h) == HolderKind.PERSON and v > 0}
    chain = majority_chain(entity_id, graph.control)
    controller = chain[0] if chain else None
    chosen = sorted({h for h, v in persons.items() if reaches(v, threshold)} | set(chain[:1]))
    paths, truncated = strongest_paths(graph.holders, entity_id, set(chosen))
    owners = tuple(
        BeneficialOwner(
            person_id=person,
            effective_share=to_decimal(persons.get(person, Fraction(0))),
            above_threshold=person in persons and reaches(persons[person], threshold),
            majority_control=person == controller,
            paths=paths.get(person, ()),
        )
        for person in chosen
    )
    persons_share = to_decimal(sum(persons.values(), Fraction(0)) if ultimate.method == "exact" else
                               float(sum(persons.values())))  # fmt: skip
    return UboReport(
        entity_id=entity_id,
        as_of=graph.as_of,
        kind=graph.kind,
        threshold=threshold,
        method=ultimate.method,
        owners=tuple(sorted(owners, key=lambda o: (-o.effective_share, o.person_id))),
        persons_total=len(persons),
        persons_share=persons_share,
        unresolved_share=max(Decimal(0), Decimal(1) - persons_share),
        control_chain=chain,
        paths_truncated=truncated,
    )


def strongest_paths(
    holders: Mapping[str, Sequence[tuple[str, HolderKind, Decimal]]],
    entity_id: str,
    persons: set[str],
    *,
    visits_max: int = PATH_VISITS_MAX,
) -> tuple[dict[str, tuple[OwnershipPath, ...]], bool]:
    """The simple paths (no holder twice) from each of ``persons`` down to the entity, strongest first.

    A depth-first search upward from the entity, bounded by ``PATH_HOPS_MAX``
    and ``visits_max`` steps; the flag says a bound cut the search short.
    Loop surpluses (paths that repeat a holder) are in the effective share
    but not listed here.
    """
    found: dict[str, list[tuple[Decimal, tuple[str, ...]]]] = defaultdict(list)
    visits = 0
    truncated = False
    with localcontext() as context:
        context.prec = 200  # products of 16 shares of 10 places each stay exact
        stack: list[tuple[str, tuple[str, ...], Decimal]] = [(entity_id, (entity_id,), Decimal(1))]
        while stack:
            node, path, product = stack.pop()
            for holder, kind, share in holders.get(node, ()):
                visits += 1
                if visits > visits_max:
                    return _best(found), True
                if holder in path:
                    continue
                value = product * share
                if kind == HolderKind.PERSON:
                    if holder in persons:
                        _keep(found[holder], value, (holder, *reversed(path)))
                elif len(path) <= PATH_HOPS_MAX:
                    stack.append((holder, (*path, holder), value))
                else:
                    truncated = True
    return _best(found), truncated


def _keep(kept: list[tuple[Decimal, tuple[str, ...]]], value: Decimal, path: tuple[str, ...]) -> None:
    if len(kept) < PATHS_PER_OWNER_MAX:
        heapq.heappush(kept, (value, path))
    elif value > kept[0][0]:
        heapq.heapreplace(kept, (value, path))


def _best(found: Mapping[str, list[tuple[Decimal, tuple[str, ...]]]]) -> dict[str, tuple[OwnershipPath, ...]]:
    result: dict[str, tuple[OwnershipPath, ...]] = {}
    for person, kept in found.items():
        ordered = sorted(kept, key=lambda item: (-item[0], item[1]))
        result[person] = tuple(
            OwnershipPath(holders=p, product=v.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN))
            for v, p in ordered
        )
    invariant(all(len(p) <= PATHS_PER_OWNER_MAX for p in result.values()), "too many paths kept")
    return result


def beneficial_owners_of_all(
    graph: OwnershipGraph, threshold: Decimal, *, exact: bool | None = None
) -> list[UboReport]:
    """Reports for every enterprise in the graph, from one pass over each weakly connected component."""
    names = sorted(graph.holdings)
    index = {name: i for i, name in enumerate(names)}
    links = [(index[h], index[e]) for e in names for h, _s in graph.holdings[e] if h in index]
    components = igraph.Graph(n=len(names), edges=links, directed=True).connected_components(mode="weak")
    reports: list[UboReport] = []
    for component in components:
        part = {names[i]: graph.holdings[names[i]] for i in component}
        ultimate = ultimate_shares(part, exact=exact)
        reports.extend(beneficial_owners(graph, e, threshold, ultimate=ultimate) for e in sorted(part))
    return sorted(reports, key=lambda r: r.entity_id)
