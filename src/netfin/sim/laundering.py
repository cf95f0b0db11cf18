"""Laundering schemes injected into the synthetic bank, labelled per account and per scheme.

The background is the synthetic bank's legitimate stream (``netfin.sim.bank``
with no fraud) read as monitoring's transactions. Into it go labelled schemes
of each typology the default profile watches, and legitimate look-alikes that
a careless scenario would flag (red-packet fan-ins at a festival, a parent's
tuition money passed straight to a university, one large cash deposit, a
remittance through a usual corridor, a dormant account woken for small sums).

Labels: the account a scheme's typology is about carries that typology
(the structurer, the pass-through or fan-in account, the fan-out source,
every member of a cycle, the reactivated or cross-border payer). The
feeders of a fan-in are laundering accounts of no typology of their own
(their label set is empty): a scenario watching accounts cannot see them,
and the evaluation says so instead of hiding them.

Deterministic by seed. Money is integer fen (CNY).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from netfin.aml.history import txns_from_events
from netfin.aml.monitoring.model import TXN_SCHEMA, AccountFacts, Channel, PartyKind, Txn, txns_to_table
from netfin.core.errors import InvalidInput
from netfin.sim.bank import START_MS_DEFAULT, BankConfig, ScenarioRates, generate

H = 3_600_000
DAY = 24 * H
YUAN = 100
HIGH_RISK = ("IR", "KP", "MM", "SY", "YE")
UNUSUAL = ("PA", "KY", "BZ", "SC", "CY")
TYPOLOGIES = (
    "structuring",
    "pass_through",
    "fan_in",
    "fan_out",
    "round_trip",
    "dormant_reactivation",
    "high_risk_jurisdiction",
    "unusual_corridor",
    "scatter_gather",
    "mule_network",
)


@dataclass(frozen=True, slots=True)
class LaunderingConfig:
    seed: int = 7
    customers: int = 5_000
    days: int = 30
    schemes_per_typology: int = 12
    look_alikes: int = 12  # of each kind
    start_ms: int = START_MS_DEFAULT

    def __post_init__(self) -> None:
        if not 8 <= self.days <= 366:
            raise InvalidInput("a laundering run lasts 8..366 days", code="days_invalid")
        if not 1 <= self.schemes_per_typology <= 1_000 or not 0 <= self.look_alikes <= 1_000:
            raise InvalidInput("schemes and look-alikes are 1..1000 and 0..1000", code="schemes_invalid")


@dataclass(slots=True)
class LaunderingRun:
    table: pa.Table  # TXN_SCHEMA, sorted by time
    labels: dict[str, set[str]] = field(default_factory=dict)
    patterns: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    accounts: list[AccountFacts] = field(default_factory=list)


class _Builder:
    def __init__(self, config: LaunderingConfig, customers: list[str]) -> None:
        self.c = config
        self.r = random.Random(config.seed * 7919 + 17)
        self.customers = customers
        self.used: set[str] = set()
        self.txns: list[Txn] = []
        self.run = LaunderingRun(table=pa.table({}))
        self._n = 0
        self._fresh = 0

    # -- small pieces ---------------------------------------------------------------------

    def customer(self) -> str:
        """An existing customer no scheme has used yet (a newly opened account once they run out)."""
        for _ in range(64):
            pick = self.r.choice(self.customers)
            if pick not in self.used:
                self.used.add(pick)
                return pick
        return self.fresh("c")

    def fresh(self, prefix: str = "l") -> str:
        self._fresh += 1
        return f"{prefix}{self.c.seed:02d}{self._fresh:06d}"

    def when(self) -> int:
        return self.c.start_ms + self.r.randint(2 * DAY, (self.c.days - 6) * DAY)

    def pay(self, src: str, dst: str, amount: int, at: int, typology: str = "", **kw: str) -> None:
        self._n += 1
        self.txns.append(
            Txn(f"L{self.c.seed}-{self._n}", at, src, dst, amount, "CNY", label=1 if typology else 0,
                typology=typology, **kw)
        )  # fmt: skip

    def label(self, pattern: str, typology: str, about: list[str], members: list[str]) -> None:
        for account in about:
            self.run.labels.setdefault(account, set()).add(typology)
        for account in members:
            self.run.labels.setdefault(account, set())
        self.run.patterns[pattern] = (typology, frozenset(members))

    def yuan(self, low: int, high: int) -> int:
        return self.r.randint(low, high) * YUAN + self.r.randint(0, 99)


def _schemes(b: _Builder, i: int) -> None:
    r = b.r
    # Structuring: cash deposits just under CNY 50,000, then the sum leaves.
    a, t = b.customer(), b.when()
    total = 0
    for _ in range(r.randint(3, 5)):
        amount = b.yuan(42_000, 49_800)
        total += amount
        b.pay("cash-desk", a, amount, t, "structuring", channel=Channel.CASH_IN, src_kind=PartyKind.EXTERNAL)
        t += r.randint(3, 20) * H
    b.pay(a, b.fresh("x"), total * r.randint(80, 98) // 100, t + r.randint(6, 40) * H, "structuring",
          dst_kind=PartyKind.EXTERNAL)  # fmt: skip
    b.label(f"structuring-{i}", "structuring", [a], [a])
    # Pass-through: money in from a few sources, >= 92 % out within hours.
    m, t = b.customer(), b.when()
    inflow = 0
    for _ in range(r.randint(2, 5)):
        amount = b.yuan(20_000, 90_000)
        inflow += amount
        b.pay(b.fresh("x"), m, amount, t, "pass_through", src_kind=PartyKind.EXTERNAL)
        t += r.randint(1, 3) * H
    left = inflow * r.randint(92, 99) // 100
    for part in _split(r, left, r.randint(1, 3)):
        t += r.randint(1, 6) * H
        b.pay(m, b.fresh("x"), part, t, "pass_through", dst_kind=PartyKind.EXTERNAL)
    b.label(f"pass_through-{i}", "pass_through", [m], [m])
    # Fan-in: many fresh accounts feed one collector within two days.
    h, t = b.customer(), b.when()
    feeders = [b.fresh() for _ in range(r.randint(12, 24))]
    for f in feeders:
        b.pay(f, h, b.yuan(1_500, 9_000), t + r.randint(0, 40) * H, "fan_in")
    b.label(f"fan_in-{i}", "fan_in", [h], [h, *feeders])
    # Fan-out: one big inflow sprayed over many payees.
    s, t = b.customer(), b.when()
    payees = [b.fresh("x") for _ in range(r.randint(12, 20))]
    amounts = [b.yuan(3_000, 20_000) for _ in payees]
    b.pay(b.fresh("x"), s, sum(amounts) + b.yuan(100, 2_000), t, "fan_out", src_kind=PartyKind.EXTERNAL)
    for p, amount in zip(payees, amounts, strict=True):
        b.pay(s, p, amount, t + r.randint(1, 40) * H, "fan_out", dst_kind=PartyKind.EXTERNAL)
    b.label(f"fan_out-{i}", "fan_out", [s], [s])
    _cycle_and_more(b, i)


def _cycle_and_more(b: _Builder, i: int) -> None:
    r = b.r
    # Round-tripping: a cycle of 3..6 accounts in time order, a small fee kept at each hop.
    ring = [b.customer() for _ in range(r.randint(3, 6))]
    t, amount = b.when(), b.yuan(50_000, 500_000)
    for k, src in enumerate(ring):
        b.pay(src, ring[(k + 1) % len(ring)], amount, t, "round_trip")
        amount = amount * r.randint(970, 995) // 1000
        t += r.randint(2, 24) * H
    b.label(f"round_trip-{i}", "round_trip", ring, ring)
    # Dormant reactivation: idle for 200..600 days, then a large sum in and out.
    z, t = b.fresh("z"), b.when()
    b.run.accounts.append(AccountFacts(z, b.c.start_ms - r.randint(200, 600) * DAY))
    amount = b.yuan(20_000, 200_000)
    b.pay(b.fresh("x"), z, amount, t, "dormant_reactivation", src_kind=PartyKind.EXTERNAL)
    b.pay(z, b.fresh("x"), amount * 95 // 100, t + r.randint(2, 30) * H, "dormant_reactivation",
          dst_kind=PartyKind.EXTERNAL)  # fmt: skip
    b.label(f"dormant-{i}", "dormant_reactivation", [z], [z])
    # Cross-border to a high-risk jurisdiction, and through an unusual corridor.
    for typology, countries, low, high in (
        ("high_risk_jurisdiction", HIGH_RISK, 5_000, 60_000),
        ("unusual_corridor", UNUSUAL, 60_000, 300_000),
    ):
        p = b.customer()
        b.pay(p, b.fresh("x"), b.yuan(low, high), b.when(), typology, channel=Channel.CROSS_BORDER,
              dst_kind=PartyKind.EXTERNAL, src_country="CN", dst_country=r.choice(countries))  # fmt: skip
        b.label(f"{typology}-{i}", typology, [p], [p])


def _graph_schemes(b: _Builder, i: int) -> None:
    r = b.r
    # Scatter-gather: one source spreads money over intermediaries who all pay one sink.
    source, sink, t = b.customer(), b.customer(), b.when()
    middles = [b.customer() for _ in range(r.randint(4, 8))]
    for m in middles:
        amount = b.yuan(8_000, 40_000)
        b.pay(source, m, amount, t + r.randint(0, 6) * H, "scatter_gather")
        b.pay(m, sink, amount * r.randint(95, 99) // 100, t + r.randint(10, 40) * H, "scatter_gather")
    b.label(f"scatter_gather-{i}", "scatter_gather", [source, *middles, sink], [source, *middles, sink])
    # A mule network: mules take money from several victims and pass it on to one handler within hours.
    handler, t = b.customer(), b.when()
    mules = [b.customer() for _ in range(r.randint(3, 5))]
    for m in mules:
        total = 0
        for _ in range(r.randint(3, 6)):
            amount = b.yuan(2_000, 15_000)
            total += amount
            b.pay(b.fresh(), m, amount, t + r.randint(0, 20) * H, "mule_network")
        b.pay(m, handler, total * r.randint(90, 97) // 100, t + r.randint(22, 30) * H, "mule_network")
    b.label(f"mule_network-{i}", "mule_network", mules, [*mules, handler])


def _look_alikes(b: _Builder) -> None:
    r = b.r
    # Red packets at a festival: many friends, small sums.
    p, t = b.customer(), b.when()
    for _ in range(r.randint(10, 18)):
        b.pay(b.customer(), p, r.choice([88, 188, 288, 666, 888, 1_888]) * YUAN, t + r.randint(0, 20) * H)
    # A parent's money for tuition passed straight on to the university.
    s, t = b.customer(), b.when()
    fee = b.yuan(40_000, 120_000)
    b.pay(b.customer(), s, fee // 2, t)
    b.pay(b.customer(), s, fee - fee // 2, t + H)
    b.pay(s, b.fresh("u"), fee, t + r.randint(3, 20) * H, dst_kind=PartyKind.ENTITY)
    # One large cash deposit (a shop's takings), under the threshold.
    b.pay("cash-desk", b.customer(), b.yuan(30_000, 49_000), b.when(), channel=Channel.CASH_IN,
          src_kind=PartyKind.EXTERNAL)  # fmt: skip
    # A remittance through a usual corridor.
    usual = r.choice(["HK", "US", "GB", "SG"])
    b.pay(b.customer(), b.fresh("x"), b.yuan(50_000, 300_000), b.when(), channel=Channel.CROSS_BORDER,
          dst_kind=PartyKind.EXTERNAL, src_country="CN", dst_country=usual)  # fmt: skip
    # A dormant account woken for a small sum.
    z = b.fresh("z")
    b.run.accounts.append(AccountFacts(z, b.c.start_ms - r.randint(200, 600) * DAY))
    b.pay(b.fresh("x"), z, b.yuan(50, 900), b.when(), src_kind=PartyKind.EXTERNAL)


def _split(r: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(r.randint(1, total - 1) for _ in range(parts - 1))
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges) if b > a]


def generate_laundering(config: LaunderingConfig) -> LaunderingRun:
    """The background month with the schemes and look-alikes injected, sorted by time."""
    bank = BankConfig(seed=config.seed, customers=config.customers, days=config.days,
                      rates=ScenarioRates.none(), start_ms=config.start_ms)  # fmt: skip
    background = txns_from_events(pa.Table.from_batches(list(generate(bank))))
    payers = pc.unique(background.column("src")).to_pylist()
    customers = sorted(p for p in payers if p.startswith("c"))
    b = _Builder(config, customers)
    for i in range(config.schemes_per_typology):
        _schemes(b, i)
        _graph_schemes(b, i)
    for _ in range(config.look_alikes):
        _look_alikes(b)
    injected = txns_to_table(b.txns)
    table = pa.concat_tables([background, injected]).cast(TXN_SCHEMA)
    b.run.table = table.take(pc.sort_indices(table, sort_keys=[("ts_ms", "ascending")]))
    return b.run
