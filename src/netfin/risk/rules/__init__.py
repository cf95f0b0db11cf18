"""Declarative fraud rules: a versioned YAML rule set, compiled once, hot-reloaded, backtested.

Purpose: let fraud analysts change what the bank declines, reviews or
steps up without a code release, while keeping every decision traceable to
the exact rule text that made it.

Invariants:

- A rule set in force has validated completely: strict keys, unique codes,
  known actions, CEL expressions that compile, read only agreed variables
  (``variables.DEFAULT_VARIABLES`` or the caller's mapping) and type-check.
- Its identity is ``version`` plus the SHA-256 of the file's bytes.
- A rule set is immutable; reloading swaps the whole set, and a file that
  fails validation never replaces a working one.
- Evaluation never raises on bad values: a rule that cannot be evaluated
  does not fire and is reported as a ``RuleError``.
- Overrides come first: a block on either party declines, then an allow on
  either party approves without running the rules.

Public names: ``load_ruleset``, ``parse_ruleset``, ``load_default_ruleset``,
``DEFAULT_RULESET_PATH``, ``RuleSet``, ``Rule``, ``Action``, ``evaluate``,
``match_rule``, ``match_rules``, ``RuleOutcome``, ``RuleHit``, ``RuleError``, ``RuleBook``,
``Override``, ``OverrideKind``, ``Overrides``, ``apply_overrides``, ``decide``,
``backtest``, ``BacktestReport``, ``RuleStats``, ``RuleSetInvalid``,
``DEFAULT_VARIABLES``, ``EVENT_VARIABLES``, ``FEATURE_VARIABLES``,
``event_variables``, ``local_hour``.
"""

from __future__ import annotations

from netfin.risk.rules.backtest import UNION_CODE, BacktestReport, RuleStats, backtest
from netfin.risk.rules.book import RuleBook
from netfin.risk.rules.errors import RuleSetInvalid
from netfin.risk.rules.evaluate import evaluate, match_rule, match_rules
from netfin.risk.rules.loader import DEFAULT_RULESET_PATH, load_default_ruleset, load_ruleset, parse_ruleset
from netfin.risk.rules.model import Action, Rule, RuleError, RuleHit, RuleOutcome, RuleSet, strongest
from netfin.risk.rules.overrides import (
    OVERRIDE_ALLOW,
    OVERRIDE_BLOCK,
    Override,
    OverrideKind,
    Overrides,
    apply_overrides,
    decide,
)
from netfin.risk.rules.variables import (
    DEFAULT_VARIABLES,
    EVENT_VARIABLES,
    FEATURE_VARIABLES,
    event_variables,
    local_hour,
)

__all__ = [
    "DEFAULT_RULESET_PATH",
    "DEFAULT_VARIABLES",
    "EVENT_VARIABLES",
    "FEATURE_VARIABLES",
    "OVERRIDE_ALLOW",
    "OVERRIDE_BLOCK",
    "UNION_CODE",
    "Action",
    "BacktestReport",
    "Override",
    "OverrideKind",
    "Overrides",
    "Rule",
    "RuleBook",
    "RuleError",
    "RuleHit",
    "RuleOutcome",
    "RuleSet",
    "RuleSetInvalid",
    "RuleStats",
    "apply_overrides",
    "backtest",
    "decide",
    "evaluate",
    "event_variables",
    "load_default_ruleset",
    "load_ruleset",
    "local_hour",
    "match_rule",
    "match_rules",
    "parse_ruleset",
    "strongest",
]
