"""Monitoring profiles: versioned YAML files of scenarios, each with its parameters and reason texts.

A profile names its version; each scenario has a code, a kind (one of
``KINDS``, each implemented once in ``stream``), a version, the typology it
evidences, a severity, parameters and a reason in English and Chinese. The
reasons are ``string.Template`` texts filled from the alert's facts (no
expression language, no attribute access). Every threshold lives here.

Loading validates everything and rejects unknown keys, so a typo in a
threshold's name fails loudly instead of silently using nothing.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from netfin.aml.monitoring.model import Alert, Channel, PartyKind, Severity
from netfin.core import yamltext
from netfin.core.errors import InvalidInput

PROFILE_BYTES_MAX = 1_000_000
SCENARIOS_MAX = 100
WINDOW_HOURS_MAX = 24 * 400
DEFAULT_PROFILE = "pboc"

KINDS: dict[str, frozenset[str]] = {
    "large_value": frozenset({"channels", "party_kinds", "scope", "thresholds_minor"}),
    "structuring": frozenset(
        {"channels", "window_hours", "thresholds_minor", "near_ratio", "min_near_count", "min_small_count"}
    ),
    "pass_through": frozenset({"window_hours", "out_ratio", "min_inflow_minor", "min_inflows"}),
    "fan_in": frozenset({"channels", "window_hours", "min_counterparties", "min_total_minor"}),
    "fan_out": frozenset({"channels", "window_hours", "min_counterparties", "min_total_minor"}),
    "round_trip": frozenset(
        {
            "window_hours",
            "min_length",
            "max_length",
            "time_ordered",
            "min_amount_minor",
            "leg_ratio",
            "hub_degree_max",
            "visits_max",
        }
    ),
    "dormant_reactivation": frozenset({"dormant_days", "min_amount_minor"}),
    "high_risk_jurisdiction": frozenset({"countries", "min_amount_minor"}),
    "unusual_corridor": frozenset({"usual_corridors", "min_amount_minor"}),
    # batch only: they need the whole graph (``graph_scan``)
    "scatter_gather": frozenset({"window_hours", "min_intermediaries", "min_amount_minor"}),
    "mule_network": frozenset(
        {
            "window_hours",
            "min_payers",
            "pass_through_ratio",
            "mule_members_min",
            "min_amount_minor",
        }
    ),
}
# Optional everywhere: party_kinds (whose accounts the scenario watches; all when absent).
_OPTIONAL = frozenset({"party_kinds", "time_ordered", "leg_ratio", "min_length"})
_SCENARIO_KEYS = frozenset(
    {"code", "kind", "version", "typology", "severity", "params", "reason_en", "reason_zh", "enabled"}
)
_PROFILE_KEYS = frozenset(
    {"profile", "version", "home_country", "utc_offset_hours", "evidence_max", "scenarios"}
)


@dataclass(frozen=True, slots=True)
class Scenario:
    code: str
    kind: str
    version: int
    typology: str
    severity: str
    params: Mapping[str, Any]
    reason_en: string.Template
    reason_zh: string.Template

    def hours(self, name: str = "window_hours") -> int:
        return int(self.params[name])

    def window_ms(self) -> int:
        return self.hours() * 3_600_000

    def amounts(self, name: str) -> Mapping[str, int]:
        """A per-currency amount in minor units (a currency absent here is not checked)."""
        value: Mapping[str, int] = self.params[name]
        return value

    def ratio(self, name: str) -> Decimal:
        value: Decimal = self.params[name]
        return value

    def alert(
        self,
        profile: str,
        account: str,
        ts_ms: int,
        facts: dict[str, Any],
        txn_ids: tuple[str, ...],
        subgraph: dict[str, Any] | None = None,
    ) -> Alert:
        """This scenario's alert on ``account``, its reasons filled from ``facts``."""
        text = {k: str(v) for k, v in facts.items()}
        return Alert(
            scenario=self.code,
            scenario_version=self.version,
            profile_version=profile,
            account=account,
            ts_ms=ts_ms,
            severity=self.severity,
            reason_en=self.reason_en.safe_substitute(text),
            reason_zh=self.reason_zh.safe_substitute(text),
            facts=facts,
            txn_ids=txn_ids,
            typology=self.typology,
            subgraph=subgraph or {},
        )


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    version: str
    home_country: str
    utc_offset_hours: int  # the bank's day for same-day cumulative amounts
    evidence_max: int
    scenarios: tuple[Scenario, ...]

    def of_kind(self, kind: str) -> tuple[Scenario, ...]:
        return tuple(s for s in self.scenarios if s.kind == kind)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def load_profile(path: str | Path | None = None) -> Profile:
    """Read and validate a profile file (the packaged default when ``path`` is None)."""
    if path is None:
        text = (resources.files("netfin.aml.monitoring") / "profiles" / f"{DEFAULT_PROFILE}.yaml").read_text(
            encoding="utf-8"
        )
    else:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"no profile file at {p}", code="profile_not_found")
        if p.stat().st_size > PROFILE_BYTES_MAX:
            raise InvalidInput("a profile is at most 1 MB", code="profile_too_large")
        text = p.read_text(encoding="utf-8")
    try:
        document = yamltext.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"the profile is not valid YAML: {error}", code="profile_invalid") from error
    return parse_profile(document)


def parse_profile(document: Any) -> Profile:
    """Validate a profile already parsed from YAML or JSON."""
    if not isinstance(document, dict):
        raise _bad("a profile is a mapping")
    _no_unknown(document, _PROFILE_KEYS, "profile")
    name = _text(document.get("profile"), "profile", 40)
    version = _text(document.get("version"), "version", 40)
    home = _text(document.get("home_country", "CN"), "home_country", 2)
    evidence_max = _count(document.get("evidence_max", 50), "evidence_max", 1, 1_000)
    offset = document.get("utc_offset_hours", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or not -12 <= offset <= 14:
        raise _bad("utc_offset_hours is an integer in -12..14")
    raw = document.get("scenarios")
    if not isinstance(raw, list) or not 1 <= len(raw) <= SCENARIOS_MAX:
        raise _bad(f"scenarios is a list of 1..{SCENARIOS_MAX}")
    scenarios = tuple(
        _scenario(item) for item in raw if not (isinstance(item, dict) and not item.get("enabled", True))
    )
    codes = [s.code for s in scenarios]
    if len(set(codes)) != len(codes):
        raise _bad("scenario codes are unique")
    return Profile(name, version, home.upper(), offset, evidence_max, scenarios)


def _scenario(item: Any) -> Scenario:
    if not isinstance(item, dict):
        raise _bad("each scenario is a mapping")
    _no_unknown(item, _SCENARIO_KEYS, "scenario")
    code = _text(item.get("code"), "code", 40)
    kind = item.get("kind")
    if kind not in KINDS:
        raise _bad(f"scenario {code}: kind is one of {sorted(KINDS)}")
    params = item.get("params")
    if not isinstance(params, dict):
        raise _bad(f"scenario {code}: params is a mapping")
    missing = KINDS[kind] - _OPTIONAL - params.keys()
    if missing:
        raise _bad(f"scenario {code}: params lacks {sorted(missing)}")
    _no_unknown(params, KINDS[kind] | _OPTIONAL, f"scenario {code} params")
    try:
        severity = Severity(item.get("severity", "medium")).value
    except ValueError:
        raise _bad(f"scenario {code}: severity is low, medium or high") from None
    return Scenario(
        code=code,
        kind=kind,
        version=_count(item.get("version"), f"{code}.version", 1, 10_000),
        typology=_text(item.get("typology", kind), f"{code}.typology", 40),
        severity=severity,
        params={k: _param(code, k, v) for k, v in params.items()},
        reason_en=_template(item.get("reason_en"), code),
        reason_zh=_template(item.get("reason_zh"), code),
    )


def _param(code: str, name: str, value: Any) -> Any:
    where = f"scenario {code} param {name}"
    if name.endswith("_minor"):
        if not isinstance(value, dict) or not value:
            raise _bad(f"{where}: a mapping of currency to minor units")
        out: dict[str, int] = {}
        for currency, amount in value.items():
            if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
                raise _bad(f"{where}: {currency!r} is not an ISO 4217 code")
            out[currency.upper()] = _count(amount, where, 0, 10**15)
        return out
    if name.endswith("_ratio") or name == "leg_ratio":
        try:
            ratio = Decimal(str(value))
        except InvalidOperation:
            raise _bad(f"{where}: a decimal ratio") from None
        if not Decimal(0) < ratio <= Decimal(1):
            raise _bad(f"{where}: in (0, 1]")
        return ratio
    if name == "window_hours":
        return _count(value, where, 1, WINDOW_HOURS_MAX)
    if name in {"max_length", "min_length"}:
        return _count(value, where, 2, 6)
    if name == "time_ordered":
        if not isinstance(value, bool):
            raise _bad(f"{where}: true or false")
        return value
    if name in {"channels", "party_kinds", "countries", "usual_corridors"}:
        return _choices(name, value, where)
    if name == "scope":
        if value not in {"domestic", "cross_border", "any"}:
            raise _bad(f"{where}: domestic, cross_border or any")
        return value
    return _count(value, where, 1, 10_000_000)


def _choices(name: str, value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 500:
        raise _bad(f"{where}: a list of 1..500")
    allowed: set[str] | None = {
        "channels": {c.value for c in Channel},
        "party_kinds": {k.value for k in PartyKind},
    }.get(name)
    items = {str(v) for v in value}
    if allowed is not None and not items <= allowed:
        raise _bad(f"{where}: each is one of {sorted(allowed)}")
    if name == "countries" and not all(len(c) == 2 and c.isalpha() and c.isupper() for c in items):
        raise _bad(f"{where}: ISO 3166 alpha-2 codes")
    if name == "usual_corridors" and not all(len(c) == 5 and c[2] == "-" for c in items):
        raise _bad(f"{where}: corridors are written FROM-TO, like CN-HK")
    return frozenset(items)


def _template(value: Any, code: str) -> string.Template:
    text = _text(value, f"{code} reason", 500)
    template = string.Template(text)
    if not template.is_valid():
        raise _bad(f"scenario {code}: the reason has a bad $placeholder")
    return template


def _text(value: Any, name: str, length_max: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= length_max:
        raise _bad(f"{name} is text of 1..{length_max} characters")
    return value


def _count(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{name} is an integer in {low}..{high}")
    return value


def _no_unknown(mapping: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = set(mapping) - known
    if unknown:
        raise _bad(f"{where}: unknown keys {sorted(unknown)}")


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, code="profile_invalid")
