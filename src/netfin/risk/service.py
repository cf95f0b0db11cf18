"""The risk engine: features, overrides, rules, the champion model and the policy, per payment.

``RiskEngine.decide(event)`` is what the payment path calls synchronously:

1. the event updates its payer's, device's and payee's feature state and
   gets every feature (``features.OnlineFeatures``);
2. operator overrides and the rule set in force give the rules' action;
3. the champion model scores the event (a calibrated fraud probability);
   the challenger, when there is one, scores it too, in shadow: its score
   is stored, never acted on;
4. the policy combines score, rules, segment and amount into one action;
5. reasons: the rules that fired, the policy's reasons and, when the action
   is not ``approve``, the model's top three feature contributions (they
   cost milliseconds, so approvals skip them);
6. the decision, with its features, is queued for the decision log.

Labels from analysts, the review queue, score drift (PSI) and overrides
go through the same service, each change audited.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import sqlalchemy as sa

from netfin.audit import AuditLog
from netfin.core.clock import Clock
from netfin.core.errors import Forbidden, InvalidInput, NotFound
from netfin.core.ids import IdSource
from netfin.identity.model import Actor
from netfin.risk.decisions import Action, Decision, DecisionPolicy, Label, Outcome, Reason
from netfin.risk.events import RiskEvent
from netfin.risk.features import MemoryStateStore, OnlineFeatures, RedisStateStore
from netfin.risk.features.online import StateStore
from netfin.risk.rules import (
    DEFAULT_RULESET_PATH,
    OVERRIDE_ALLOW,
    OVERRIDE_BLOCK,
    Override,
    OverrideKind,
    Overrides,
    RuleBook,
    RuleSet,
    RuleSetInvalid,
    decide,
    event_variables,
)
from netfin.risk.store import DecisionLog, RiskStore

REVIEW_PAGE_MAX = 500
LABEL_NOTE_MAX = 500
REASONS_MAX = 3
OVERRIDES_REFRESH_NS = 5 * 10**9
EXPIRES_AT_MS_MAX = (2**63 - 1) // 1_000_000  # stored in nanoseconds as a 64-bit integer: 2262-04-11
LABELLERS = frozenset({"risk_analyst", "operator", "system"})
OVERRIDERS = frozenset({"risk_analyst", "operator", "compliance", "system"})


def _require(actor: Actor, kinds: frozenset[str], what: str) -> None:
    if actor.kind not in kinds:
        raise Forbidden(f"a {actor.kind} may not {what}", code="risk_role_required")


class Scorer(Protocol):
    """A trained model served in-process."""

    @property
    def version(self) -> str: ...

    def score(self, row: Mapping[str, Any]) -> float: ...

    def reasons(self, row: Mapping[str, Any], top: int = 3) -> list[tuple[str, float]]: ...


def load_scorer(directory: str) -> Scorer:
    """A trained model's artefact directory, verified and ready to score in-process."""
    from netfin.risk.model import Scorer as ModelScorer
    from netfin.risk.model import load

    return ModelScorer(load(directory))


class RuleSource(Protocol):
    def current(self) -> RuleSet: ...


@dataclass(frozen=True, slots=True)
class FixedRules:
    """A rule set that never reloads (tests, backtests)."""

    ruleset: RuleSet

    def current(self) -> RuleSet:
        return self.ruleset


class RiskEngine:
    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdSource,
        rules: RuleSource | RuleBook,
        features: OnlineFeatures | None = None,
        champion: Scorer | None = None,
        challenger: Scorer | None = None,
        policy: DecisionPolicy | None = None,
        store: RiskStore | None = None,
        log: DecisionLog | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.rules = rules
        self.features = features or OnlineFeatures()
        self.champion = champion
        self.challenger = challenger
        self.policy = policy or DecisionPolicy()
        self.store = store
        self.log = log
        self.audit = audit
        self.overrides = Overrides.of([])
        # Overrides live in the database, shared by every worker; each engine rereads them this often.
        self.overrides_refresh_ns = OVERRIDES_REFRESH_NS
        self._overrides_read_ns = -OVERRIDES_REFRESH_NS
        self._refresh_overrides()

    # The decision path ---------------------------------------------------

    def decide(self, event: RiskEvent, *, order_id: str | None = None) -> Decision:
        started = time.perf_counter_ns()
        self._refresh_overrides()
        features = self.features.observe(event)
        variables: dict[str, Any] = event_variables(event)
        variables.update(features)
        ruleset = self.rules.current()
        outcome = decide(ruleset, self.overrides, variables, now_ms=event.ts_ms)
        overridden = any(hit.code in (OVERRIDE_BLOCK, OVERRIDE_ALLOW) for hit in outcome.hits)
        score = None if self.champion is None or overridden else self.champion.score(variables)
        shadow = None if self.challenger is None else self.challenger.score(variables)
        policy_reasons: list[Reason] = []
        if overridden:
            action = outcome.action
        else:
            action, policy_reasons = self.policy.combine(
                score=score, rule_action=outcome.action, segment=event.segment,
                amount_minor=event.amount_minor, currency=event.currency,
            )  # fmt: skip
        reasons = [Reason(hit.code, "rule", hit.description) for hit in outcome.hits] + policy_reasons
        if action is not Action.APPROVE and score is not None and self.champion is not None:
            for name, weight in self.champion.reasons(variables, top=REASONS_MAX):
                reasons.append(Reason(f"model:{name}", "model", f"{weight:+.4f}"))
        decision = Decision(
            decision_id=f"rd-{self.ids.new_id():032x}",
            order_id=order_id, payer=event.payer, payee=event.payee, amount_minor=event.amount_minor,
            currency=event.currency, segment=event.segment, action=action, score=score,
            model_version=None if self.champion is None else self.champion.version,
            challenger_score=shadow,
            challenger_version=None if self.challenger is None else self.challenger.version,
            ruleset_version=ruleset.identity, reasons=tuple(reasons), features=_plain(variables),
            decided_ns=self.clock.now_ns(), latency_us=(time.perf_counter_ns() - started) // 1000,
        )  # fmt: skip
        if self.log is not None:
            self.log.append(decision)
        return decision

    # Analysts ------------------------------------------------------------

    def review_queue(self, limit: int = 50, before_ns: int | None = None) -> list[Decision]:
        if not 1 <= limit <= REVIEW_PAGE_MAX:
            raise InvalidInput(f"limit must be 1..{REVIEW_PAGE_MAX}", code="limit_out_of_range")
        if self.log is not None:
            self.log.flush()
        return self._store().queue([Action.REVIEW, Action.DECLINE, Action.STEP_UP], limit, before_ns)

    def label(self, actor: Actor, decision_id: str, outcome: str, *, note: str = "") -> Label:
        """An analyst's finding on a decision; it joins the next training set."""
        _require(actor, LABELLERS, "label decisions")
        try:
            found = Outcome(outcome)
        except ValueError:
            raise InvalidInput(
                f"outcome must be one of {[o.value for o in Outcome]}", code="unknown_outcome"
            ) from None
        if len(note) > LABEL_NOTE_MAX:
            raise InvalidInput(f"note longer than {LABEL_NOTE_MAX}", code="note_too_long")
        store = self._store()
        if self.log is not None:
            self.log.flush()
        if store.get(decision_id) is None:
            raise NotFound(f"no decision {decision_id}", code="decision_not_found")
        label = Label(decision_id, found, actor.id, note, self.clock.now_ns())
        store.put_label(label)
        self._audit(actor, "risk.label", decision_id, {"outcome": found.value})
        return label

    # Operator overrides --------------------------------------------------

    def set_override(self, actor: Actor, party: str, kind: str, *, reason: str,
                     expires_at_ms: int | None = None) -> Override:  # fmt: skip
        _require(actor, OVERRIDERS, "set overrides")
        if (
            expires_at_ms is not None
            and not self.clock.now_ns() // 1_000_000 < expires_at_ms <= EXPIRES_AT_MS_MAX
        ):
            raise InvalidInput("an override must expire in the future, before 2262-04-11",
                               code="override_expiry_invalid")  # fmt: skip
        try:
            which = OverrideKind(kind)
        except ValueError:
            raise InvalidInput("kind must be block or allow", code="unknown_override_kind") from None
        entry = Override(party, which, actor.id, self.clock.now_ns() // 1_000_000, reason, expires_at_ms)
        if self.store is not None:
            self.store.put_override(entry)
        self.overrides = self.overrides.with_override(entry)
        self._audit(actor, "risk.override.set", party, {"kind": which.value, "reason": reason[:200]})
        return entry

    def clear_override(self, actor: Actor, party: str) -> None:
        _require(actor, OVERRIDERS, "clear overrides")
        if self.store is not None:
            self.store.delete_override(party)
        self.overrides = self.overrides.without(party)
        self._audit(actor, "risk.override.clear", party, {})

    # Helpers -------------------------------------------------------------

    def _refresh_overrides(self) -> None:
        """Reread the overrides when the last read is older than the refresh interval."""
        if self.store is None:
            return
        now = time.monotonic_ns()
        if now - self._overrides_read_ns < self.overrides_refresh_ns:
            return
        self._overrides_read_ns = now
        self.overrides = Overrides.of(self.store.overrides())

    def _store(self) -> RiskStore:
        if self.store is None:
            raise InvalidInput("this risk engine keeps no decisions", code="risk_store_missing")
        return self.store

    def _audit(self, actor: Actor, action: str, subject: str, details: Mapping[str, Any]) -> None:
        if self.audit is not None:
            self.audit.record(
                actor_kind=actor.kind, actor_id=actor.id, action=action, outcome="succeeded",
                subject_kind="risk", subject_id=subject, detail=dict(details),
            )  # fmt: skip

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def _plain(features: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v if not isinstance(v, float) or v == v else None) for k, v in features.items()}


def risk_engine_from_env(
    environ: Mapping[str, str], engine: sa.Engine, audit: AuditLog, *, clock: Clock, ids: IdSource
) -> RiskEngine:
    """The bank's risk engine, configured by the environment.

    ``NETFIN_RISK_RULES``: a rule-set YAML file (hot-reloaded); the packaged
    default otherwise. ``NETFIN_RISK_REDIS_URL``: keep feature state in
    Redis, shared by every process of the bank; in-process otherwise.
    ``NETFIN_RISK_MODEL`` / ``NETFIN_RISK_CHALLENGER``: trained model
    artefact directories for the champion and the shadow challenger.
    """
    rules_path = environ.get("NETFIN_RISK_RULES") or str(DEFAULT_RULESET_PATH)

    def rejected(error: RuleSetInvalid) -> None:
        audit.record(
            actor_kind="system", actor_id="risk", action="risk.rules.reload", outcome="refused",
            subject_kind="ruleset", subject_id=rules_path[-120:], reason="ruleset_invalid",
            detail={"problems": str(error)[:1000]},
        )  # fmt: skip

    def reloaded(old: RuleSet, new: RuleSet) -> None:
        audit.record(
            actor_kind="system", actor_id="risk", action="risk.rules.reload", outcome="succeeded",
            subject_kind="ruleset", subject_id=rules_path[-120:],
            detail={"from": old.identity, "to": new.identity},
        )  # fmt: skip

    book = RuleBook(rules_path, on_error=rejected, on_reload=reloaded)
    store: StateStore = MemoryStateStore()
    if environ.get("NETFIN_RISK_REDIS_URL"):
        store = RedisStateStore(redis.Redis.from_url(environ["NETFIN_RISK_REDIS_URL"]))
    champion = load_scorer(environ["NETFIN_RISK_MODEL"]) if environ.get("NETFIN_RISK_MODEL") else None
    challenger = (
        load_scorer(environ["NETFIN_RISK_CHALLENGER"]) if environ.get("NETFIN_RISK_CHALLENGER") else None
    )
    return RiskEngine(
        clock=clock, ids=ids, rules=book, features=OnlineFeatures(store), champion=champion,
        challenger=challenger, store=RiskStore(engine), log=DecisionLog(engine), audit=audit,
    )  # fmt: skip
