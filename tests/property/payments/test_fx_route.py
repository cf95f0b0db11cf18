"""The router against brute force, on random corridor graphs with spreads and fixed fees.

The oracle here is written independently of ``netfin.payments.fx``: each leg
is ``floor((amount - fee) * mid * (1 - spread / 10_000) * 10**(e_target -
e_source))`` in ``fractions.Fraction``, and the best route is the maximum over
every simple path of at most ``legs_max`` legs. Currencies are drawn with
exponents 0 (JPY, ISK), 2 (EUR, USD, GBP, CHF) and 3 (BHD, KWD).

Two kinds of graph:
- *consistent*: each currency has a value and every mid rate is
  ``value(target) / value(source)`` rounded down, spreads are >= 0: no cycle
  can multiply to more than 1, so the router must build and match the oracle;
- *arbitrary*: independent mid rates and spreads (rebates included): the
  router must refuse exactly when some cycle's effective rates multiply to
  more than 1, name a real such cycle, and otherwise match the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from itertools import pairwise

from hypothesis import event, given, settings
from hypothesis import strategies as st

from netfin.core.clock import ManualClock
from netfin.core.ids import SeededIds
from netfin.payments.fx import Corridor, FxArbitrageDetected, FxNoRoute, FxRouter, legs_to_execute

POOL = {"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "JPY": 0, "ISK": 0, "BHD": 3, "KWD": 3}
DAY = date(2026, 4, 13)
ROUNDED_DOWN = Context(prec=9, rounding=ROUND_FLOOR)
EXAMPLES = 300


@dataclass(frozen=True)
class Case:
    corridors: dict[tuple[str, str], tuple[Decimal, Decimal, int]]  # (mid, spread_bps, fee_minor)
    source: str
    target: str
    amount_minor: int
    legs_max: int

    def router(self) -> FxRouter:
        return FxRouter(
            [Corridor(a, b, mid, spread, fee) for (a, b), (mid, spread, fee) in self.corridors.items()],
            rates_date=DAY,
            legs_max=self.legs_max,
        )


def effective(mid: Decimal, spread_bps: Decimal) -> Fraction:
    return Fraction(mid) * (1 - Fraction(spread_bps) / 10_000)


def oracle_leg(case: Case, source: str, target: str, amount_minor: int) -> int | None:
    mid, spread, fee = case.corridors[(source, target)]
    net = amount_minor - fee
    if net <= 0:
        return None
    return math.floor(net * effective(mid, spread) * Fraction(10) ** (POOL[target] - POOL[source]))


def simple_paths(case: Case) -> Iterator[tuple[str, ...]]:
    def extend(path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        if path[-1] == case.target:
            yield path
            return
        if len(path) > case.legs_max:
            return
        for a, b in case.corridors:
            if a == path[-1] and b not in path and len(path) <= case.legs_max:
                yield from extend((*path, b))

    yield from extend((case.source,))


def oracle_best(case: Case) -> int:
    """The most any simple path of at most legs_max legs delivers (0: none delivers anything)."""
    best = 0
    for path in simple_paths(case):
        amount: int | None = case.amount_minor
        for a, b in pairwise(path):
            amount = oracle_leg(case, a, b, amount) if amount is not None else None
        if amount is not None and amount > best:
            best = amount
    return best


def cycle_product(case: Case, cycle: tuple[str, ...]) -> Fraction:
    product = Fraction(1)
    for a, b in pairwise(cycle):
        mid, spread, _fee = case.corridors[(a, b)]
        product *= effective(mid, spread)
    return product


def has_arbitrage(case: Case) -> bool:
    """Any simple cycle whose effective rates multiply to more than 1 (brute force)."""
    codes = sorted({code for pair in case.corridors for code in pair})

    def walk(start: str, path: tuple[str, ...], product: Fraction) -> bool:
        for (a, b), (mid, spread, _fee) in case.corridors.items():
            if a != path[-1]:
                continue
            step = product * effective(mid, spread)
            if b == start and step > 1:
                return True
            if b > start and b not in path and walk(start, (*path, b), step):
                return True
        return False

    return any(walk(code, (code,), Fraction(1)) for code in codes)


@st.composite
def cases(draw: st.DrawFn, *, consistent: bool) -> Case:
    count = draw(st.integers(2, 6))
    codes = draw(st.permutations(sorted(POOL)))[:count]
    values = {code: Decimal(draw(st.integers(1, 10_000))).scaleb(-2) for code in codes}
    pairs = [(a, b) for a in codes for b in codes if a != b]
    density = draw(st.integers(3, 10))  # in tenths: from sparse graphs to complete ones
    chosen = [pair for pair in pairs if draw(st.integers(1, 10)) <= density] or [pairs[0]]
    corridors = {}
    for a, b in chosen:
        # Spreads either tiny (0..1 bp) or wide (0..500 bp), so that multi-leg routes often win.
        spread = Decimal(draw(st.one_of(st.integers(0, 100), st.integers(0, 50_000)))).scaleb(-2)
        mid = ROUNDED_DOWN.divide(values[b], values[a])
        if not consistent:
            # Each rate off the consistent one by -2 % .. +0.5 %, and some rebates: sometimes a gain.
            mid = ROUNDED_DOWN.multiply(mid, 1 + Decimal(draw(st.integers(-200, 50))).scaleb(-4))
            if draw(st.integers(1, 4)) == 1:
                spread = -Decimal(draw(st.integers(0, 5_000))).scaleb(-2)
        fee = draw(st.one_of(st.just(0), st.integers(0, 5_000)))
        corridors[(a, b)] = (mid, spread, fee)
    source, target = draw(st.sampled_from(pairs))
    amount = draw(st.one_of(st.integers(1, 20_000), st.integers(100_000, 10**11)))
    return Case(corridors, source, target, amount, draw(st.integers(1, 5)))


def check_against_oracle(case: Case, router: FxRouter) -> None:
    best = oracle_best(case)
    try:
        legs = router.best_route(case.source, case.target, case.amount_minor)
    except FxNoRoute:
        assert best == 0, f"the router found no route; brute force delivers {best}"
        event("no route")
        return
    event(f"{len(legs)} leg(s)")
    route = (case.source, *(leg.target_currency for leg in legs))
    assert route[-1] == case.target
    assert len(set(route)) == len(route), "routes are simple paths"
    assert 1 <= len(legs) <= case.legs_max
    amount = case.amount_minor
    for leg in legs:
        mid, spread, fee = case.corridors[(leg.source_currency, leg.target_currency)]
        assert (leg.mid_rate, leg.spread_bps, leg.fee_minor) == (mid, spread, fee)
        assert leg.source_amount_minor == amount
        assert leg.target_amount_minor == oracle_leg(case, leg.source_currency, leg.target_currency, amount)
        amount = leg.target_amount_minor
    assert amount == best, f"router delivers {amount} via {route}; brute force {best}"


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases(consistent=True))
def test_best_route_matches_brute_force_on_consistent_rates(case: Case) -> None:
    check_against_oracle(case, case.router())


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases(consistent=False))
def test_arbitrary_rates_are_refused_exactly_when_a_cycle_gains(case: Case) -> None:
    gains = has_arbitrage(case)
    try:
        router = case.router()
    except FxArbitrageDetected as refused:
        assert gains, "refused, but brute force finds no cycle that gains"
        cycle = refused.cycle
        assert len(cycle) >= 3 and cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1
        assert cycle_product(case, cycle) > 1, "the named cycle gains"
        event("arbitrage refused")
        return
    assert not gains, "brute force finds a cycle that gains, but the router was built"
    check_against_oracle(case, router)


@settings(max_examples=100, deadline=None)
@given(cases(consistent=True), st.integers(1, 10**6))
def test_more_in_never_delivers_less_and_quotes_execute(case: Case, extra: int) -> None:
    router = case.router()
    clock = ManualClock()
    try:
        smaller = router.quote(case.source, case.target, case.amount_minor, clock=clock, ids=SeededIds(clock))
    except FxNoRoute:
        return
    larger = router.best_route(case.source, case.target, case.amount_minor + extra)
    assert larger[-1].target_amount_minor >= smaller.target_amount_minor
    assert legs_to_execute(smaller, clock.now_ns()) == smaller.legs
