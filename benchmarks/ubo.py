"""Ultimate beneficial owners of every enterprise in a synthetic 100k-edge ownership register.

The register is made of corporate groups, as real registers are: a holding
company owned by one to three persons; subsidiaries each held 51-100% by an
earlier member of the group, the rest by persons or by another member; in
about a third of the groups of three or more, a later member holds 5-20% of
an earlier one (a cross-holding, so a loop); and now and then a minority
stake in an enterprise of another group, which joins the two groups into one
weakly connected component. Shares are multiples of 0.0001. Every loop leaks
to a person through its holding company, so there is no closed loop.

What is timed: ``OwnershipGraph.of`` (indexing the edges in force) and
``beneficial_owners_of_all`` (effective shares per weakly connected
component, the UBO report of every enterprise with its strongest paths and
majority chain). ``--db URL`` also times writing the register through
``OwnershipStore`` and reading it back. Run from the repository root::

    .venv/bin/python benchmarks/ubo.py
    .venv/bin/python benchmarks/ubo.py --edges 100000 --json
    .venv/bin/python benchmarks/ubo.py --db sqlite:////tmp/ubo.db
    .venv/bin/python benchmarks/ubo.py --numeric       # float64 instead of exact fractions
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from netfin.aml.ownership import (
    DEFAULT_THRESHOLD,
    HolderKind,
    OwnershipEdge,
    OwnershipGraph,
    ShareKind,
    beneficial_owners_of_all,
)
from netfin.aml.ownership.effective import strong_groups

DAY = date(2025, 6, 30)
BP = Decimal("0.0001")


class Register:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.edges: list[OwnershipEdge] = []
        self.held: dict[str, int] = {}  # basis points already held in each enterprise
        self.enterprises: list[str] = []
        self.persons = 0

    def person(self) -> str:
        # Persons recur: a quarter of the time an existing one takes another stake.
        if self.persons and self.rng.random() < 0.25:
            return f"P{self.rng.randrange(self.persons):07d}"
        self.persons += 1
        return f"P{self.persons - 1:07d}"

    def add(self, owner: str, kind: HolderKind, owned: str, bp: int) -> None:
        room = 10_000 - self.held.get(owned, 0)
        bp = min(bp, room)
        if bp <= 0 or owner == owned:
            return
        self.held[owned] = self.held.get(owned, 0) + bp
        self.edges.append(OwnershipEdge(
            edge_id=f"e{len(self.edges):07d}", owner_id=owner, owner_kind=kind, owned_id=owned,
            share=bp * BP, kind=ShareKind.EQUITY, valid_from=date(2020, 1, 1), valid_to=None,
            source="synthetic", recorded_by="benchmark", recorded_ns=0,
        ))  # fmt: skip

    def group(self) -> None:
        size = min(40, int(self.rng.paretovariate(1.3)))
        members = [f"E{len(self.enterprises) + i:07d}" for i in range(size)]
        outside = self.enterprises[:]
        self.enterprises.extend(members)
        self._persons_hold(members[0], 10_000)
        for i, member in enumerate(members[1:], start=1):
            parent = members[self.rng.randrange(i)]
            self.add(parent, HolderKind.ENTERPRISE, member, self.rng.randrange(5_100, 10_001))
            if self.rng.random() < 0.3 and i >= 2:
                self.add(
                    members[self.rng.randrange(i)],
                    HolderKind.ENTERPRISE,
                    member,
                    self.rng.randrange(500, 3000),
                )
            self._persons_hold(member, 10_000 - self.held.get(member, 0))
        if size >= 3 and self.rng.random() < 0.35:
            later, earlier = self.rng.randrange(1, size), 0
            earlier = self.rng.randrange(later)
            self.add(members[later], HolderKind.ENTERPRISE, members[earlier], self.rng.randrange(500, 2001))
        if outside and self.rng.random() < 0.05:
            self.add(self.rng.choice(outside), HolderKind.ENTERPRISE, self.rng.choice(members), 500)

    def _persons_hold(self, owned: str, bp: int) -> None:
        # Leave the enterprise's last 0-10% unrecorded now and then, as registers do.
        bp -= self.rng.choice([0, 0, 0, self.rng.randrange(1, 1001)])
        for _ in range(self.rng.randint(1, 3)):
            if bp <= 0:
                return
            part = bp if self.rng.random() < 0.4 else self.rng.randrange(1, bp + 1)
            self.add(self.person(), HolderKind.PERSON, owned, part)
            bp -= part


def build(edges_target: int, seed: int) -> Register:
    register = Register(seed)
    while len(register.edges) < edges_target:
        register.group()
    return register


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _store_round_trip(url: str, edges: list[OwnershipEdge]) -> dict[str, float]:
    from netfin.aml.ownership import TABLES, OwnershipStore
    from netfin.storage import metadata, open_engine

    engine = open_engine(url)
    metadata.create_all(engine, tables=list(TABLES), checkfirst=True)  # until the AML migration lands
    store = OwnershipStore(engine)
    started = time.perf_counter()
    with store.writing() as connection:
        store.insert(connection, edges)
    written = time.perf_counter() - started
    started = time.perf_counter()
    read = sum(1 for _ in store.active(DAY))
    engine.dispose()
    return {
        "write_s": round(written, 2),
        "read_s": round(time.perf_counter() - started, 2),
        "read_edges": read,
    }


def run(edges_target: int, seed: int, db: str | None, exact: bool | None = None) -> dict[str, Any]:
    register = build(edges_target, seed)
    rss_before = _rss_mib()
    started = time.perf_counter()
    graph = OwnershipGraph.of(register.edges, DAY)
    indexed = time.perf_counter() - started
    members, _order = strong_groups(graph.holdings)
    started = time.perf_counter()
    reports = beneficial_owners_of_all(graph, DEFAULT_THRESHOLD, exact=exact)
    computed = time.perf_counter() - started
    owners = sum(len(r.owners) for r in reports)
    result: dict[str, Any] = {
        "edges": len(register.edges),
        "enterprises": len(graph.holdings),
        "persons": register.persons,
        "loops": sum(1 for m in members if len(m) > 1),
        "largest_loop": max(len(m) for m in members),
        "methods": dict(Counter(r.method for r in reports)),
        "reports": len(reports),
        "owners_found": owners,
        "controlled_below_threshold": sum(1 for r in reports for o in r.owners if not o.above_threshold),
        "paths_truncated": sum(1 for r in reports if r.paths_truncated),
        "index_s": round(indexed, 2),
        "ubo_all_s": round(computed, 2),
        "per_enterprise_us": round(computed / len(reports) * 1e6, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
        "rss_growth_mib": round(_rss_mib() - rss_before, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if db:
        result["store"] = _store_round_trip(db, register.edges)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="Also time writing and reading the register here.")
    parser.add_argument(
        "--numeric", action="store_true", help="Float64 arithmetic instead of exact fractions."
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.edges, args.seed, args.db, exact=False if args.numeric else None)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for key, value in result.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
