"""Best-route FX quotes: the route that delivers the most to the beneficiary.

A ``FxRouter`` holds the corridors of one rates date, compiled for the
search: per currency, its outgoing corridors as ``(target, fee_minor,
rate_numerator, rate_denominator)``, where the fraction is the corridor's
exact effective rate from source minor units to target minor units. A leg is
then ``(amount - fee) * numerator // denominator``: integer arithmetic, the
one rounding being ROUND_FLOOR (see ``model``).

Why not shortest path on ``-log(rate)``: fixed fees make the best route depend
on the amount (a low-spread corridor with a fee wins for large amounts and
loses for small ones), and logarithms are not exact. Instead the search is a
round-by-round Bellman-Ford on the actual integer amount held in each
currency. Every leg is monotone non-decreasing in its input, so more money
in a currency after k legs is never worse than less: keeping the single best
amount per currency per round is exact. After round k the best amount of
every currency over all routes of at most k legs is known; only currencies
that improved in a round are expanded in the next, and the search stops at
``legs_max`` rounds. Ties keep the route found first, which has the fewest
legs.

Pruning, exactly (branch and bound): for every target the router keeps, per
number of legs left, the best product of effective rates from each currency
to the target, as an exact fraction. Fees are never negative and each leg
rounds down, so from a currency holding ``held`` no route delivers more than
``held * bound``; a state whose bound cannot beat the best amount already
delivered to the target is not expanded, and corridors that cannot reach the
target in the legs left are never relaxed (in the last round only those into
the target are). A skipped state could never produce a strictly better route,
so the result and the tie rule are those of the full search. Both the search
and the bounds compare integers only: no float and no logarithm anywhere.

Arbitrage: if the effective rates around some cycle multiply to more than 1,
money could be created by going round it, and the search above would be
unsound. A router therefore refuses to be built on such corridors
(``fx_arbitrage_detected``, naming the cycle), found by Bellman-Ford with
exact rational "distances" (products of effective rates; a cycle whose
product exceeds 1 is a negative cycle on ``-log`` rates, detected without
taking a logarithm). At quote time the search checks again on the actual
amounts: a route that returns to a currency it already held with more than
it had there is refused the same way. Without such a cycle (and fees are
never negative) a route that visits a currency twice never beats the simple
route without the loop, so the result equals the best simple path.

Public names: ``FxRouter``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Context, Decimal
from itertools import pairwise
from math import gcd

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import InvalidInput, LimitExceeded, invariant
from netfin.core.ids import IdSource
from netfin.core.limits import INT64_MAX
from netfin.core.money import is_currency
from netfin.payments.fx.config import FxProfile
from netfin.payments.fx.errors import FxArbitrageDetected, FxNoRoute
from netfin.payments.fx.model import (
    CORRIDORS_MAX,
    CURRENCIES_MAX,
    QUOTE_TTL_SECONDS_MAX,
    ROUTE_LEGS_MAX,
    Corridor,
    Quote,
    QuoteLeg,
    convert_leg_minor,
)
from netfin.payments.fx.rates import RateSnapshot

DEFAULT_LEGS_MAX = 4
DEFAULT_QUOTE_TTL_SECONDS = 30
_DISPLAY = Context(prec=16)

# (target index, fee_minor, rate_numerator, rate_denominator)
_Edge = tuple[int, int, int, int]
# Per number of legs left: each currency's useful corridors, and the exact bound on the
# rate product to the target as (numerators, denominators) indexed by currency.
_TargetTables = tuple[
    tuple[tuple[tuple[_Edge, ...], ...], ...],
    tuple[tuple[tuple[int, ...], tuple[int, ...]], ...],
]


class FxRouter:
    """The corridors of one rates date, checked for arbitrage and ready to quote."""

    def __init__(
        self,
        corridors: Iterable[Corridor],
        *,
        rates_date: date,
        legs_max: int = DEFAULT_LEGS_MAX,
        quote_ttl_seconds: int = DEFAULT_QUOTE_TTL_SECONDS,
    ) -> None:
        if type(legs_max) is not int or not 1 <= legs_max <= ROUTE_LEGS_MAX:
            raise InvalidInput(f"legs_max must be in 1..{ROUTE_LEGS_MAX}", code="fx_legs_invalid")
        if type(quote_ttl_seconds) is not int or not 1 <= quote_ttl_seconds <= QUOTE_TTL_SECONDS_MAX:
            raise InvalidInput(
                f"quote_ttl_seconds must be in 1..{QUOTE_TTL_SECONDS_MAX}", code="fx_ttl_invalid"
            )
        if not isinstance(rates_date, date):
            raise InvalidInput("rates_date must be a datetime.date", code="date_invalid")
        self.rates_date = rates_date
        self.legs_max = legs_max
        self.quote_ttl_seconds = quote_ttl_seconds
        self._corridors = _indexed_corridors(corridors)
        self.currencies: tuple[str, ...] = tuple(sorted({code for pair in self._corridors for code in pair}))
        if len(self.currencies) > CURRENCIES_MAX:
            raise LimitExceeded(
                f"{len(self.currencies)} currencies; a router holds at most {CURRENCIES_MAX}",
                code="fx_currencies_exceeded",
            )
        self._index = {code: position for position, code in enumerate(self.currencies)}
        adjacency: list[list[_Edge]] = [[] for _ in self.currencies]
        for (source, target), corridor in sorted(self._corridors.items()):
            adjacency[self._index[source]].append(
                (self._index[target], corridor.fee_minor, corridor.rate_numerator, corridor.rate_denominator)
            )
        self._adjacency: tuple[tuple[_Edge, ...], ...] = tuple(tuple(edges) for edges in adjacency)
        self._toward: dict[tuple[int, int], _TargetTables] = {}
        self._refuse_arbitrage()
        # Every target's tables up front, so that no quote pays for building them.
        for target_index in range(len(self.currencies)):
            self._tables_toward(target_index, legs_max)

    @classmethod
    def from_rates(cls, snapshot: RateSnapshot, profile: FxProfile) -> FxRouter:
        """The profile's corridors at the snapshot's mid rates."""
        return cls(
            profile.corridors(snapshot),
            rates_date=snapshot.rates_date,
            legs_max=profile.legs_max,
            quote_ttl_seconds=profile.quote_ttl_seconds,
        )

    @property
    def corridors(self) -> tuple[Corridor, ...]:
        return tuple(self._corridors[pair] for pair in sorted(self._corridors))

    def corridor(self, source_currency: str, target_currency: str) -> Corridor | None:
        return self._corridors.get((source_currency, target_currency))

    def quote(
        self,
        source_currency: str,
        target_currency: str,
        amount_minor: int,
        *,
        clock: Clock,
        ids: IdSource,
        legs_max: int | None = None,
    ) -> Quote:
        """Price the best route now; the quote is honoured for ``quote_ttl_seconds``."""
        legs = self.best_route(source_currency, target_currency, amount_minor, legs_max=legs_max)
        created_ns = clock.now_ns()
        return Quote(
            quote_id=ids.new_id(),
            source_currency=source_currency,
            target_currency=target_currency,
            source_amount_minor=amount_minor,
            target_amount_minor=legs[-1].target_amount_minor,
            legs=legs,
            rates_date=self.rates_date,
            created_ns=created_ns,
            expires_ns=created_ns + self.quote_ttl_seconds * NS_PER_SECOND,
        )

    def best_route(
        self, source_currency: str, target_currency: str, amount_minor: int, *, legs_max: int | None = None
    ) -> tuple[QuoteLeg, ...]:
        """The legs of the route of at most ``legs_max`` legs that delivers the most."""
        source, target = self._endpoints(source_currency, target_currency)
        if type(amount_minor) is not int or amount_minor <= 0:
            raise InvalidInput("amount_minor must be a positive integer (minor units)", code="amount_invalid")
        if amount_minor > INT64_MAX:
            raise LimitExceeded("amount exceeds the 64-bit range", code="amount_too_large")
        if legs_max is None:
            legs_max = self.legs_max
        elif type(legs_max) is not int or not 1 <= legs_max <= ROUTE_LEGS_MAX:
            raise InvalidInput(f"legs_max must be in 1..{ROUTE_LEGS_MAX}", code="fx_legs_invalid")
        path = self._search(source, target, amount_minor, legs_max)
        if path is None:
            raise self._no_route(source, target, legs_max)
        return self._legs(path, amount_minor)

    def _endpoints(self, source_currency: str, target_currency: str) -> tuple[int, int]:
        for code in (source_currency, target_currency):
            if not is_currency(code):
                raise InvalidInput(f"unknown ISO 4217 currency {code!r}", code="currency_unknown")
        if source_currency == target_currency:
            raise InvalidInput("source and target currency must differ", code="fx_same_currency")
        source = self._index.get(source_currency)
        target = self._index.get(target_currency)
        if source is None or target is None:
            missing = source_currency if source is None else target_currency
            raise FxNoRoute(
                f"{missing} is not offered on {self.rates_date.isoformat()}", code="fx_currency_unavailable"
            )
        return source, target

    def _search(self, source: int, target: int, amount_minor: int, legs_max: int) -> tuple[int, ...] | None:
        """Round-synchronous Bellman-Ford on integer amounts (see the module docstring),
        skipping states that provably cannot beat the best amount already delivered."""
        edges_by_legs_left, bounds_by_legs_left = self._tables_toward(target, legs_max)
        best = [0] * len(self.currencies)
        best[source] = amount_minor
        frontier: list[tuple[int, int, tuple[int, ...]]] = [(source, amount_minor, (source,))]
        found: tuple[int, ...] | None = None
        for legs_left in range(legs_max, 0, -1):
            adjacency = edges_by_legs_left[legs_left]
            bound_numerators, bound_denominators = bounds_by_legs_left[legs_left]
            improved: dict[int, tuple[int, tuple[int, ...]]] = {}
            for node, held, path in frontier:
                # No route on from here delivers more than held * (best rate product): skip if that
                # cannot beat the target's best so far (exact integers: no rounding in the bound).
                if held * bound_numerators[node] <= best[target] * bound_denominators[node]:
                    continue
                for following, fee, numerator, denominator in adjacency[node]:
                    # A fee that takes it all gives out <= 0, which never improves on best >= 0.
                    out = (held - fee) * numerator // denominator
                    if out > best[following]:
                        if following in path:
                            raise self._amount_arbitrage(path, following)
                        best[following] = out
                        improved[following] = (out, (*path, following))
            reached = improved.pop(target, None)
            if reached is not None:
                found = reached[1]
            if not improved:
                break
            frontier = [(node, held, path) for node, (held, path) in improved.items()]
        return found

    def _tables_toward(self, target: int, legs_max: int) -> _TargetTables:
        """Per number of legs left: each currency's corridors that can still reach
        ``target``, and an exact upper bound on the rate product from each currency
        to ``target`` (the best product of effective rates over at most that many
        legs, fees ignored). Fees are never negative and every leg rounds down, so
        ``held * bound`` bounds what any route on can deliver. Built with the router for
        its ``legs_max``; for another ``legs_max`` on first use.
        """
        cached = self._toward.get((target, legs_max))
        if cached is not None:
            return cached
        count = len(self.currencies)
        numerators = [0] * count
        denominators = [1] * count
        numerators[target] = 1
        bounds = [(tuple(numerators), tuple(denominators))]
        for _ in range(legs_max):
            next_numerators, next_denominators = numerators[:], denominators[:]
            for node, edges in enumerate(self._adjacency):
                for following, _fee, numerator, denominator in edges:
                    if numerators[following] == 0:
                        continue
                    candidate_numerator = numerator * numerators[following]
                    candidate_denominator = denominator * denominators[following]
                    if (
                        candidate_numerator * next_denominators[node]
                        > next_numerators[node] * candidate_denominator
                    ):
                        common = gcd(candidate_numerator, candidate_denominator)
                        next_numerators[node] = candidate_numerator // common
                        next_denominators[node] = candidate_denominator // common
            numerators, denominators = next_numerators, next_denominators
            bounds.append((tuple(numerators), tuple(denominators)))
        edges_by_legs_left = tuple(
            tuple(
                tuple(edge for edge in edges if legs_left > 0 and bounds[legs_left - 1][0][edge[0]] > 0)
                for edges in self._adjacency
            )
            for legs_left in range(legs_max + 1)
        )
        tables = (edges_by_legs_left, tuple(bounds))
        self._toward[(target, legs_max)] = tables
        return tables

    def _legs(self, path: tuple[int, ...], amount_minor: int) -> tuple[QuoteLeg, ...]:
        legs = []
        for source, target in pairwise(path):
            corridor = self._corridors[(self.currencies[source], self.currencies[target])]
            out = convert_leg_minor(
                amount_minor, corridor.fee_minor, corridor.rate_numerator, corridor.rate_denominator
            )
            if out > INT64_MAX:
                raise LimitExceeded(
                    f"the {corridor.target_currency} leg would exceed the 64-bit range",
                    code="fx_amount_too_large",
                )
            legs.append(
                QuoteLeg(
                    source_currency=corridor.source_currency,
                    target_currency=corridor.target_currency,
                    mid_rate=corridor.mid_rate,
                    spread_bps=corridor.spread_bps,
                    effective_rate=corridor.effective_rate,
                    fee_minor=corridor.fee_minor,
                    source_amount_minor=amount_minor,
                    target_amount_minor=out,
                )
            )
            amount_minor = out
        return tuple(legs)

    def _no_route(self, source: int, target: int, legs_max: int) -> FxNoRoute:
        reached = {source}
        for _ in range(legs_max):
            reached |= {edge[0] for node in reached for edge in self._adjacency[node]}
        names = f"{self.currencies[source]} to {self.currencies[target]}"
        if target in reached:
            return FxNoRoute(
                f"the fees and rounding of every route from {names} consume the amount",
                code="fx_amount_below_fees",
            )
        return FxNoRoute(f"no corridors connect {names} within {legs_max} legs", code="fx_no_route")

    def _amount_arbitrage(self, path: tuple[int, ...], repeated: int) -> FxArbitrageDetected:
        start = path.index(repeated)
        cycle = tuple(self.currencies[node] for node in (*path[start:], repeated))
        return FxArbitrageDetected(cycle, "going round it returns more than went in")

    def _refuse_arbitrage(self) -> None:
        """Bellman-Ford on exact products of effective rates from a virtual source.

        Each "distance" is an unreduced fraction ``(numerator, denominator)``;
        with no cycle whose product exceeds 1 the best products settle within
        ``n - 1`` rounds, so a relaxation in round ``n`` proves such a cycle.
        """
        count = len(self.currencies)
        numerators = [1] * count
        denominators = [1] * count
        predecessors = [-1] * count
        last_relaxed = -1
        for _ in range(count):
            last_relaxed = -1
            for source, edges in enumerate(self._adjacency):
                for target, _fee, numerator, denominator in edges:
                    candidate_numerator = numerators[source] * numerator
                    candidate_denominator = denominators[source] * denominator
                    if (
                        candidate_numerator * denominators[target]
                        > numerators[target] * candidate_denominator
                    ):
                        numerators[target] = candidate_numerator
                        denominators[target] = candidate_denominator
                        predecessors[target] = source
                        last_relaxed = target
            if last_relaxed < 0:
                return
        raise self._rate_arbitrage(predecessors, last_relaxed)

    def _rate_arbitrage(self, predecessors: list[int], relaxed: int) -> FxArbitrageDetected:
        node = relaxed
        for _ in range(len(predecessors)):  # walk back far enough to stand on the cycle
            node = predecessors[node]
            invariant(node >= 0, "a node relaxed in the last round has a predecessor chain")
        cycle = [node]
        current = predecessors[node]
        while current != node:
            cycle.append(current)
            current = predecessors[current]
        cycle.append(node)
        cycle.reverse()
        names = tuple(self.currencies[index] for index in cycle)
        product = Decimal(1)
        for source, target in pairwise(names):
            product = _DISPLAY.multiply(product, self._corridors[(source, target)].effective_rate)
        return FxArbitrageDetected(names, f"the effective rates multiply to about {product} > 1")


def _indexed_corridors(corridors: Iterable[Corridor]) -> dict[tuple[str, str], Corridor]:
    indexed: dict[tuple[str, str], Corridor] = {}
    for corridor in corridors:
        if not isinstance(corridor, Corridor):
            raise InvalidInput("corridors must be Corridor values", code="fx_corridor_invalid")
        pair = (corridor.source_currency, corridor.target_currency)
        if pair in indexed:
            raise InvalidInput(f"corridor {pair[0]}->{pair[1]} is given twice", code="fx_corridor_invalid")
        indexed[pair] = corridor
        if len(indexed) > CORRIDORS_MAX:
            raise LimitExceeded(f"more than {CORRIDORS_MAX} corridors", code="fx_corridors_exceeded")
    return indexed
