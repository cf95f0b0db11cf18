"""What AML monitoring reads and what it raises: transactions, account facts, alerts.

A ``Txn`` is one movement of money between two accounts as monitoring sees
it, whichever produced it (the payment outbox, the simulator, a bank's own
history through a column mapping). Money stays in integer minor units with
its ISO 4217 currency; time is milliseconds since the epoch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


class Channel(enum.StrEnum):
    TRANSFER = "transfer"  # account to account, at home
    CASH_IN = "cash_in"  # cash deposit
    CASH_OUT = "cash_out"  # cash withdrawal
    CROSS_BORDER = "cross_border"  # one side abroad (see the countries)
    CARD = "card"  # a card or QR purchase at a merchant


class PartyKind(enum.StrEnum):
    PERSON = "person"
    ENTITY = "entity"  # any non-natural person: enterprise, organisation
    EXTERNAL = "external"  # not the bank's customer: another bank's account, the cash desk


MONITORED_KINDS = frozenset({PartyKind.PERSON.value, PartyKind.ENTITY.value})


@dataclass(frozen=True, slots=True)
class Txn:
    """One movement from ``src`` to ``dst``.

    For cash, the bank's own cash account is the other side (``dst`` of a
    withdrawal, ``src`` of a deposit). ``src_kind``/``dst_kind`` say whether
    each side belongs to a natural person; the countries are ISO 3166 alpha-2
    ("" when unknown, the bank's home country when domestic). ``label`` and
    ``typology`` are known only for labelled history and the simulator.
    """

    txn_id: str
    ts_ms: int
    src: str
    dst: str
    amount_minor: int
    currency: str
    channel: str = Channel.TRANSFER.value
    src_kind: str = PartyKind.PERSON.value
    dst_kind: str = PartyKind.PERSON.value
    src_country: str = ""
    dst_country: str = ""
    label: int = 0
    typology: str = ""


TXN_SCHEMA = pa.schema(
    [
        pa.field("txn_id", pa.string(), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
        pa.field("src", pa.string(), nullable=False),
        pa.field("dst", pa.string(), nullable=False),
        pa.field("amount_minor", pa.int64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("src_kind", pa.string(), nullable=False),
        pa.field("dst_kind", pa.string(), nullable=False),
        pa.field("src_country", pa.string(), nullable=False),
        pa.field("dst_country", pa.string(), nullable=False),
        pa.field("label", pa.int8(), nullable=False),
        pa.field("typology", pa.string(), nullable=False),
    ]
)
TXN_COLUMNS: tuple[str, ...] = tuple(TXN_SCHEMA.names)


def txns_to_table(txns: list[Txn]) -> pa.Table:
    """Transactions as an Arrow table with ``TXN_SCHEMA``."""
    return pa.Table.from_pydict({n: [getattr(t, n) for t in txns] for n in TXN_COLUMNS}, schema=TXN_SCHEMA)


def table_to_txns(table: pa.Table) -> list[Txn]:
    """Rows of a ``TXN_SCHEMA`` table as transactions (small tables, tests, replays)."""
    columns = [table.column(n).to_pylist() for n in TXN_COLUMNS]
    return [Txn(*row) for row in zip(*columns, strict=True)]


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What monitoring knows of an account before its next transaction (for dormancy)."""

    account: str
    last_active_ms: int


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITY_SCORE = {Severity.LOW: 0.3, Severity.MEDIUM: 0.6, Severity.HIGH: 0.9}


@dataclass(frozen=True, slots=True)
class Alert:
    """A scenario's finding on one account at one time.

    ``key`` deduplicates: the same scenario on the same account raises at most
    one alert per dedup window. ``facts`` are the numbers the reason quotes
    (sums in minor units, counts, ratios as strings); ``txn_ids`` the
    transactions behind it (bounded); ``subgraph`` the accounts and edges for
    graph scenarios.
    """

    scenario: str
    scenario_version: int
    profile_version: str
    account: str
    ts_ms: int
    severity: str
    reason_en: str
    reason_zh: str
    facts: dict[str, Any]
    txn_ids: tuple[str, ...]
    typology: str
    subgraph: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.scenario, self.account)

    @property
    def score(self) -> float:
        return SEVERITY_SCORE[Severity(self.severity)]
