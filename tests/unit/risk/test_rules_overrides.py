"""Operator overrides: a block declines, an allow bypasses the rules, an expired one does nothing."""

from __future__ import annotations

import pytest

from netfin.core.errors import InvalidInput
from netfin.risk.rules import (
    OVERRIDE_ALLOW,
    OVERRIDE_BLOCK,
    Action,
    Override,
    OverrideKind,
    Overrides,
    apply_overrides,
    decide,
    parse_ruleset,
)

RULES = parse_ruleset(
    b'name: t\nversion: "1"\nrules:\n'
    b"  - code: big\n    description: Big.\n    description_zh: \xe5\xa4\xa7\xe9\xa2\x9d\xe3\x80\x82\n"
    b"    when: amount_minor >= 1000\n    action: decline\n    score: 0.9\n"
)
NOW_MS = 1_767_225_600_000
BIG = {"payer": "alice", "payee": "bob", "amount_minor": 5_000}
SMALL = {"payer": "alice", "payee": "bob", "amount_minor": 10}


def entry(party: str, kind: OverrideKind, expires_at_ms: int | None = None) -> Override:
    return Override(
        party=party,
        kind=kind,
        set_by="analyst-7",
        set_at_ms=NOW_MS - 60_000,
        reason="confirmed case 42",
        expires_at_ms=expires_at_ms,
    )


def test_no_override_lets_the_rules_decide() -> None:
    outcome = decide(RULES, Overrides(), BIG, now_ms=NOW_MS)
    assert (outcome.action, outcome.codes) == (Action.DECLINE, ("big",))


@pytest.mark.parametrize("party", ["alice", "bob"])
def test_a_block_on_either_party_declines_a_payment_the_rules_would_pass(party: str) -> None:
    overrides = Overrides.of([entry(party, OverrideKind.BLOCK)])
    outcome = decide(RULES, overrides, SMALL, now_ms=NOW_MS)
    assert (outcome.action, outcome.score, outcome.codes) == (Action.DECLINE, 1.0, (OVERRIDE_BLOCK,))
    assert "analyst-7" in outcome.hits[0].description
    assert "confirmed case 42" in outcome.hits[0].description_zh
    assert outcome.ruleset == RULES.identity


@pytest.mark.parametrize("party", ["alice", "bob"])
def test_an_allow_on_either_party_bypasses_the_rules(party: str) -> None:
    overrides = Overrides.of([entry(party, OverrideKind.ALLOW)])
    outcome = decide(RULES, overrides, BIG, now_ms=NOW_MS)
    assert (outcome.action, outcome.score, outcome.codes) == (Action.APPROVE, 0.0, (OVERRIDE_ALLOW,))


def test_a_block_wins_over_an_allow_on_the_other_party() -> None:
    overrides = Overrides.of([entry("alice", OverrideKind.ALLOW), entry("bob", OverrideKind.BLOCK)])
    hit = apply_overrides(overrides, payer="alice", payee="bob", now_ms=NOW_MS)
    assert hit is not None and hit.code == OVERRIDE_BLOCK


def test_an_override_lapses_at_its_expiry() -> None:
    overrides = Overrides.of([entry("bob", OverrideKind.ALLOW, expires_at_ms=NOW_MS + 1)])
    assert decide(RULES, overrides, BIG, now_ms=NOW_MS).codes == (OVERRIDE_ALLOW,)
    assert decide(RULES, overrides, BIG, now_ms=NOW_MS + 1).codes == ("big",)
    assert overrides.expired(NOW_MS + 1) == (entry("bob", OverrideKind.ALLOW, expires_at_ms=NOW_MS + 1),)
    assert overrides.expired(NOW_MS) == ()


def test_a_new_override_replaces_the_old_one_and_can_be_removed() -> None:
    overrides = Overrides().with_override(entry("bob", OverrideKind.ALLOW))
    overrides = overrides.with_override(entry("bob", OverrideKind.BLOCK))
    assert len(overrides.by_party) == 1
    assert decide(RULES, overrides, SMALL, now_ms=NOW_MS).codes == (OVERRIDE_BLOCK,)
    assert decide(RULES, overrides.without("bob"), SMALL, now_ms=NOW_MS).codes == ()


def test_overrides_are_values() -> None:
    original = Overrides.of([entry("bob", OverrideKind.BLOCK)])
    original.without("bob")
    assert "bob" in original.by_party
    with pytest.raises(TypeError):
        original.by_party["eve"] = entry("eve", OverrideKind.BLOCK)  # type: ignore[index]


def test_an_override_without_a_reason_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        Override(party="bob", kind=OverrideKind.BLOCK, set_by="analyst-7", set_at_ms=NOW_MS, reason="")
    assert caught.value.code == "override_incomplete"
