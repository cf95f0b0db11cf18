"""Operator overrides: parties that are always blocked or always allowed, ahead of every rule.

An analyst who has confirmed a mule account blocks it at once, without
waiting for a rule change; one who has confirmed a false positive (a
charity that receives from thousands of donors) allows it. Each override
says who set it, when, why and until when, because an override without a
reason or an end is how fraud control quietly rots.

This is a value type and pure functions; storing overrides and auditing
their changes belong to the decision store. The order is fixed: a block on
the payer or the payee wins over everything, then an allow on either
bypasses the rules, then the rules decide.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.risk.rules.evaluate import evaluate
from netfin.risk.rules.model import SCORE_MAX, Action, RuleHit, RuleOutcome, RuleSet

OVERRIDES_MAX = 100_000
OVERRIDE_BLOCK = "override_block"
OVERRIDE_ALLOW = "override_allow"


class OverrideKind(enum.StrEnum):
    BLOCK = "block"
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class Override:
    """One operator decision about one party (a payer or payee id)."""

    party: str
    kind: OverrideKind
    set_by: str
    set_at_ms: int
    reason: str
    expires_at_ms: int | None = None

    def __post_init__(self) -> None:
        """An override without a party, an author or a reason could not be audited, so it is refused."""
        for name in ("party", "set_by", "reason"):
            if not getattr(self, name):
                raise InvalidInput(f"an override needs a {name}", code="override_incomplete")

    def active(self, now_ms: int) -> bool:
        """An override lapses at its expiry instant; one without an expiry stays until removed."""
        return self.expires_at_ms is None or now_ms < self.expires_at_ms


@dataclass(frozen=True, slots=True)
class Overrides:
    """The overrides in force, at most one per party (setting a new one replaces the old)."""

    by_party: Mapping[str, Override] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, entries: Iterable[Override]) -> Overrides:
        """From a list of overrides; a later entry for the same party replaces an earlier one."""
        by_party: dict[str, Override] = {}
        for entry in entries:
            by_party[entry.party] = entry
        if len(by_party) > OVERRIDES_MAX:
            raise LimitExceeded(f"more than {OVERRIDES_MAX} overrides", code="overrides_limit_exceeded")
        return cls(MappingProxyType(by_party))

    def with_override(self, entry: Override) -> Overrides:
        """A copy with ``entry`` in force for its party."""
        return Overrides.of([*self.by_party.values(), entry])

    def without(self, party: str) -> Overrides:
        """A copy with no override for ``party``."""
        return Overrides.of(entry for entry in self.by_party.values() if entry.party != party)

    def active_for(self, party: str, now_ms: int) -> Override | None:
        entry = self.by_party.get(party)
        return entry if entry is not None and entry.active(now_ms) else None

    def expired(self, now_ms: int) -> tuple[Override, ...]:
        """The entries that have lapsed, for the store to prune and audit."""
        return tuple(entry for entry in self.by_party.values() if not entry.active(now_ms))


def apply_overrides(overrides: Overrides, *, payer: str, payee: str, now_ms: int) -> RuleHit | None:
    """The override that decides this payment, if any: a block on either party first, then an allow."""
    entries = [overrides.active_for(party, now_ms) for party in (payer, payee)]
    active = [entry for entry in entries if entry is not None]
    for kind in (OverrideKind.BLOCK, OverrideKind.ALLOW):
        for entry in active:
            if entry.kind is kind:
                return _override_hit(entry)
    return None


def _override_hit(entry: Override) -> RuleHit:
    if entry.kind is OverrideKind.BLOCK:
        return RuleHit(
            code=OVERRIDE_BLOCK,
            action=Action.DECLINE,
            score=SCORE_MAX,
            description=f"Operator block on {entry.party} set by {entry.set_by}: {entry.reason}",
            description_zh=f"操作员 {entry.set_by} 已封禁 {entry.party}：{entry.reason}",
        )
    return RuleHit(
        code=OVERRIDE_ALLOW,
        action=Action.APPROVE,
        score=0.0,
        description=f"Operator allow on {entry.party} set by {entry.set_by}: {entry.reason}",
        description_zh=f"操作员 {entry.set_by} 已放行 {entry.party}：{entry.reason}",
    )


def decide(
    ruleset: RuleSet, overrides: Overrides, variables: Mapping[str, object], *, now_ms: int
) -> RuleOutcome:
    """Overrides first (block, then allow), then the rules.

    ``variables`` carries ``payer`` and ``payee`` as the rules see them, so
    the same mapping serves both steps.
    """
    hit = apply_overrides(
        overrides, payer=str(variables.get("payer", "")), payee=str(variables.get("payee", "")), now_ms=now_ms
    )
    if hit is None:
        return evaluate(ruleset, variables)
    return RuleOutcome(ruleset=ruleset.identity, action=hit.action, score=hit.score, hits=(hit,))
