"""Backtest a rule set on labelled history: what each rule catches, and at what cost in false alarms.

A rule is judged on the same rows as the model: how often it fires (hit
rate, which is the analysts' workload), how often a hit is fraud
(precision), how much of the fraud it finds (recall) and how much fraud
money it would have stopped. The union row answers the question the head of
fraud asks: all rules together, any non-approve hit counted once.

Segments are respected, as in production. Disabled rules are left out
unless ``include_disabled`` is set, which measures them as if they were on
(the usual way to try a rule before enabling it) without counting them in
the union.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from netfin.core.errors import InvalidInput
from netfin.risk.rules.evaluate import match_rule
from netfin.risk.rules.model import Action, RuleError, RuleSet

UNION_CODE = "any_rule"
BATCH_ROWS = 10_000


def _ratio(numerator: int, denominator: int) -> float | None:
    """A rate, or None where it is undefined (no hits, no fraud) rather than a misleading zero."""
    return numerator / denominator if denominator else None


@dataclass(slots=True)
class RuleStats:
    """The backtest of one rule (or of the union), counted over every row."""

    code: str
    action: str
    enabled: bool
    rows: int = 0
    frauds: int = 0
    hits: int = 0
    fraud_hits: int = 0
    errors: int = 0
    fraud_caught_minor: int = 0
    fraud_total_minor: int = 0

    @property
    def hit_rate(self) -> float | None:
        return _ratio(self.hits, self.rows)

    @property
    def precision(self) -> float | None:
        return _ratio(self.fraud_hits, self.hits)

    @property
    def recall(self) -> float | None:
        return _ratio(self.fraud_hits, self.frauds)

    @property
    def money_recall(self) -> float | None:
        """The share of fraud money caught, which is what the loss line of the budget sees."""
        return _ratio(self.fraud_caught_minor, self.fraud_total_minor)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "action": self.action,
            "enabled": self.enabled,
            "rows": self.rows,
            "hits": self.hits,
            "fraud_hits": self.fraud_hits,
            "false_positives": self.hits - self.fraud_hits,
            "errors": self.errors,
            "hit_rate": self.hit_rate,
            "precision": self.precision,
            "recall": self.recall,
            "fraud_caught_minor": self.fraud_caught_minor,
            "money_recall": self.money_recall,
        }


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """Per-rule statistics and their union, for one rule set on one history."""

    ruleset: str
    rows: int
    frauds: int
    fraud_total_minor: int
    rules: tuple[RuleStats, ...]
    union: RuleStats

    def to_rows(self) -> list[dict[str, object]]:
        """One flat row per rule, then the union: what a table or a CSV shows."""
        return [stats.as_dict() for stats in (*self.rules, self.union)]

    def as_dict(self) -> dict[str, object]:
        return {
            "ruleset": self.ruleset,
            "rows": self.rows,
            "frauds": self.frauds,
            "fraud_total_minor": self.fraud_total_minor,
            "rules": [stats.as_dict() for stats in self.rules],
            "union": self.union.as_dict(),
        }


@dataclass(slots=True)
class _Tally:
    rows: int = 0
    frauds: int = 0
    fraud_total_minor: int = 0
    stats: list[RuleStats] = field(default_factory=list)


def backtest(
    ruleset: RuleSet,
    rows: Iterable[Mapping[str, object]] | pa.Table,
    *,
    label_column: str = "label",
    amount_column: str = "amount_minor",
    include_disabled: bool = False,
) -> BacktestReport:
    """Run every rule on every row; rows hold the rule variables plus the label (1 = fraud) and amount."""
    measured = [rule for rule in ruleset.rules if rule.enabled or include_disabled]
    tally = _Tally(stats=[RuleStats(rule.code, rule.action.value, rule.enabled) for rule in measured])
    union = RuleStats(UNION_CODE, "", True)
    for index, row in enumerate(_iterate_rows(rows)):
        fraud = _label(row, label_column, index)
        amount_minor = _amount_minor(row, amount_column, index)
        tally.rows += 1
        tally.frauds += fraud
        tally.fraud_total_minor += amount_minor if fraud else 0
        caught = False
        segment = row.get("segment")
        for rule, stats in zip(measured, tally.stats, strict=True):
            if not rule.applies_to(segment):
                continue
            result = match_rule(rule, row)
            if isinstance(result, RuleError):
                stats.errors += 1
            elif result:
                _count_hit(stats, fraud, amount_minor)
                caught = caught or (rule.enabled and rule.action is not Action.APPROVE)
        if caught:
            _count_hit(union, fraud, amount_minor)
    for stats in (*tally.stats, union):
        stats.rows, stats.frauds, stats.fraud_total_minor = tally.rows, tally.frauds, tally.fraud_total_minor
    return BacktestReport(
        ruleset=ruleset.identity,
        rows=tally.rows,
        frauds=tally.frauds,
        fraud_total_minor=tally.fraud_total_minor,
        rules=tuple(tally.stats),
        union=union,
    )


def _count_hit(stats: RuleStats, fraud: int, amount_minor: int) -> None:
    stats.hits += 1
    if fraud:
        stats.fraud_hits += 1
        stats.fraud_caught_minor += amount_minor


def _iterate_rows(rows: Iterable[Mapping[str, object]] | Any) -> Iterator[Mapping[str, object]]:
    """Rows one at a time; an Arrow table is converted a batch at a time, never whole."""
    if isinstance(rows, pa.Table):
        for batch in rows.to_batches(max_chunksize=BATCH_ROWS):
            yield from batch.to_pylist()
        return
    yield from rows


def _label(row: Mapping[str, object], column: str, index: int) -> int:
    value = row.get(column)
    if isinstance(value, bool | int) and value in (0, 1):
        return int(value)
    raise InvalidInput(f"row {index}: {column} must be 0 or 1, not {value!r}", code="backtest_label_invalid")


def _amount_minor(row: Mapping[str, object], column: str, index: int) -> int:
    value = row.get(column)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    message = f"row {index}: {column} must be an integer in minor units, not {value!r}"
    raise InvalidInput(message, code="backtest_amount_invalid")
