"""How well the scenarios find labelled laundering: per typology, per account and per alert.

Inputs: the alerts of a scan, account-level labels (account -> typologies;
an empty set is laundering of unknown typology) and, where known, the
labelled patterns (pattern -> typology and member accounts, as AMLSim's
alerts or the simulator's injected schemes).

- Per typology, at the account level: an account is *flagged* for a
  typology when a scenario of that typology alerted on it. ``precision`` is
  the share of flagged accounts labelled with that typology;
  ``precision_any`` the share labelled with any laundering. ``recall`` is
  the share of accounts labelled with the typology that its own scenarios
  flagged; ``recall_any`` the share that any suspicious scenario flagged.
- Per scenario, per alert: the share of its alerts that fell on a labelled
  account (any typology, and the scenario's own).
- Per pattern: the share of labelled patterns with at least one member
  flagged (by any suspicious scenario, and by the pattern's own typology).

Large-value scenarios are reporting duties, not suspicion: they are scored
as their own typology and left out of "any suspicious".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from netfin.aml.monitoring.model import Alert

REPORTING_TYPOLOGIES = frozenset({"large_value"})


@dataclass(frozen=True, slots=True)
class TypologyScore:
    typology: str
    labelled: int
    flagged: int
    precision: float | None
    precision_any: float | None
    recall: float | None
    recall_any: float | None
    f1: float | None


@dataclass(frozen=True, slots=True)
class ScenarioScore:
    scenario: str
    typology: str
    alerts: int
    accounts: int
    alert_precision_any: float | None
    alert_precision: float | None


@dataclass(frozen=True, slots=True)
class PatternScore:
    typology: str
    patterns: int
    detected_any: int
    detected_own: int
    recall_any: float | None
    recall_own: float | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    accounts_labelled: int
    accounts_flagged: int
    overall: TypologyScore
    typologies: tuple[TypologyScore, ...]
    scenarios: tuple[ScenarioScore, ...]
    patterns: tuple[PatternScore, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None or p + r == 0:
        return None if p is None or r is None else 0.0
    return round(2 * p * r / (p + r), 4)


def evaluate(
    alerts: Iterable[Alert],
    labels: Mapping[str, set[str]],
    *,
    patterns: Mapping[str, tuple[str, frozenset[str]]] | None = None,
) -> Evaluation:
    flagged_by: dict[str, set[str]] = defaultdict(set)  # typology -> accounts
    by_scenario: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        flagged_by[alert.typology].add(alert.account)
        by_scenario[alert.scenario].append(alert)
    suspicious = set().union(*(a for t, a in flagged_by.items() if t not in REPORTING_TYPOLOGIES))
    laundering = set(labels)
    labelled_by: dict[str, set[str]] = defaultdict(set)
    for account, typologies in labels.items():
        for t in typologies:
            labelled_by[t].add(account)
    scores = []
    for typology in sorted(set(flagged_by) | set(labelled_by)):
        flagged, truth = flagged_by.get(typology, set()), labelled_by.get(typology, set())
        precision, recall = (
            _ratio(len(flagged & truth), len(flagged)),
            _ratio(len(flagged & truth), len(truth)),
        )
        scores.append(
            TypologyScore(
                typology,
                len(truth),
                len(flagged),
                precision if truth else None,
                _ratio(len(flagged & laundering), len(flagged)),
                recall,
                _ratio(len(truth & suspicious), len(truth)),
                _f1(precision, recall) if truth else None,
            )
        )
    p_all, r_all = (
        _ratio(len(suspicious & laundering), len(suspicious)),
        _ratio(len(suspicious & laundering), len(laundering)),
    )
    overall = TypologyScore(
        "any", len(laundering), len(suspicious), p_all, p_all, r_all, r_all, _f1(p_all, r_all)
    )
    return Evaluation(
        accounts_labelled=len(laundering),
        accounts_flagged=len(suspicious),
        overall=overall,
        typologies=tuple(scores),
        scenarios=tuple(_scenario_scores(by_scenario, labels)),
        patterns=tuple(_pattern_scores(patterns or {}, flagged_by, suspicious)),
    )


def _scenario_scores(
    by_scenario: Mapping[str, list[Alert]], labels: Mapping[str, set[str]]
) -> list[ScenarioScore]:
    out = []
    for scenario in sorted(by_scenario):
        raised = by_scenario[scenario]
        typology = raised[0].typology
        on_any = sum(1 for a in raised if a.account in labels)
        on_own = sum(1 for a in raised if typology in labels.get(a.account, ()))
        out.append(
            ScenarioScore(
                scenario,
                typology,
                len(raised),
                len({a.account for a in raised}),
                _ratio(on_any, len(raised)),
                _ratio(on_own, len(raised)),
            )
        )
    return out


def _pattern_scores(
    patterns: Mapping[str, tuple[str, frozenset[str]]],
    flagged_by: Mapping[str, set[str]],
    suspicious: set[str],
) -> list[PatternScore]:
    grouped: dict[str, list[frozenset[str]]] = defaultdict(list)
    for typology, accounts in patterns.values():
        grouped[typology].append(accounts)
    out = []
    for typology in sorted(grouped):
        schemes = grouped[typology]
        own = flagged_by.get(typology, set())
        any_hits = sum(1 for m in schemes if m & suspicious)
        own_hits = sum(1 for m in schemes if m & own)
        out.append(
            PatternScore(
                typology,
                len(schemes),
                any_hits,
                own_hits,
                _ratio(any_hits, len(schemes)),
                _ratio(own_hits, len(schemes)),
            )
        )
    return out
