"""Properties of the audit entry's canonical encoding and hash.

The same fields (in any key order) always give the same hash; changing any
one field, including the position in the chain, gives a different one; and an
entry read back from its stored form hashes as it did when it was written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.audit.model import (
    ACTOR_ID_LENGTH_MAX,
    DETAIL_KEYS_MAX,
    GENESIS_HASH,
    ActorKind,
    AuditEntry,
    Outcome,
    draft_entry,
    entry_hash_of,
    seal,
)
from netfin.core.limits import INT64_MAX

text = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S"), include_characters=" "), max_size=40
)
detail_values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=INT64_MAX), text
)
details = st.dictionaries(
    st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=12),
    detail_values,
    max_size=DETAIL_KEYS_MAX // 4,
)
actions = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){1,3}", fullmatch=True)


@st.composite
def entries(draw: st.DrawFn) -> AuditEntry:
    made = draft_entry(
        actor_kind=draw(st.sampled_from(list(ActorKind))),
        actor_id=draw(text.filter(lambda t: len(t) <= ACTOR_ID_LENGTH_MAX)),
        action=draw(actions),
        outcome=draw(st.sampled_from(list(Outcome))),
        subject_kind=draw(st.sampled_from(["", "account", "consent", "payment"])),
        subject_id=draw(text),
        consent_id=draw(st.none() | text.filter(bool)),
        interaction_id=draw(st.none() | text.filter(bool)),
        reason=draw(st.none() | st.sampled_from(["consent_expired", "scope_missing"])),
        detail=draw(details),
    )
    return seal(
        made,
        seq=draw(st.integers(min_value=1, max_value=INT64_MAX)),
        entry_id=draw(st.integers(min_value=1, max_value=2**128 - 2)),
        at_ns=draw(st.integers(min_value=0, max_value=INT64_MAX)),
        prev_hash=draw(st.binary(min_size=32, max_size=32)),
    )


def _changed(value: Any) -> Any:
    """A different value of the same shape as ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value - 1 if value > 1 else value + 1
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:]
    if isinstance(value, dict):
        return {**value, "~changed": 1} if "~changed" not in value else {}
    if value is None:
        return "x"
    return value + "x" if value != "allowed" else "refused"


HASHED_FIELDS = [f.name for f in dataclasses.fields(AuditEntry) if f.name != "entry_hash"]


@settings(max_examples=200, deadline=None)
@given(entries())
def test_the_same_fields_in_any_order_give_the_same_hash(entry: AuditEntry) -> None:
    reordered = dict(reversed(list(entry.detail.items())))
    copy = dataclasses.replace(entry, detail=reordered)
    assert entry_hash_of(copy, entry.prev_hash) == entry.entry_hash
    # The stored form (detail as canonical JSON text) reads back to the same hash.
    stored_detail = orjson.loads(orjson.dumps(entry.detail, option=orjson.OPT_SORT_KEYS))
    assert (
        entry_hash_of(dataclasses.replace(entry, detail=stored_detail), entry.prev_hash) == entry.entry_hash
    )


@settings(max_examples=300, deadline=None)
@given(entries(), st.sampled_from(HASHED_FIELDS))
def test_any_changed_field_changes_the_hash(entry: AuditEntry, field: str) -> None:
    changed = dataclasses.replace(entry, **{field: _changed(getattr(entry, field))})
    prev_hash = changed.prev_hash
    assert entry_hash_of(changed, prev_hash) != entry.entry_hash


@given(entries())
def test_a_chain_from_genesis_is_reproducible(entry: AuditEntry) -> None:
    again = seal(
        draft_entry(
            actor_kind=entry.actor_kind,
            actor_id=entry.actor_id,
            action=entry.action,
            outcome=entry.outcome,
            subject_kind=entry.subject_kind,
            subject_id=entry.subject_id,
            consent_id=entry.consent_id,
            interaction_id=entry.interaction_id,
            reason=entry.reason,
            detail=entry.detail,
        ),
        seq=entry.seq,
        entry_id=entry.entry_id,
        at_ns=entry.at_ns,
        prev_hash=GENESIS_HASH,
    )
    assert entry_hash_of(again, GENESIS_HASH) == again.entry_hash
    assert (again.entry_hash == entry.entry_hash) == (entry.prev_hash == GENESIS_HASH)
