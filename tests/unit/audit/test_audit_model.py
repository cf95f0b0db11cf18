"""Unit tests of the audit model: validation, canonical encoding, the chain and cursors."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from netfin.audit.model import (
    ACTION_LENGTH_MAX,
    ACTOR_ID_LENGTH_MAX,
    DETAIL_ENCODED_BYTES_MAX,
    DETAIL_KEYS_MAX,
    GENESIS_HASH,
    ActorKind,
    AuditDraft,
    Outcome,
    canonical_bytes,
    decode_cursor,
    draft_entry,
    encode_cursor,
    entry_hash_of,
    seal,
)
from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.core.limits import INT64_MAX

ENTRY_ID = 0x0193_8A1B_2C3D_7E4F_8A1B_2C3D_4E5F_6A7B


def draft(**fields: Any) -> AuditDraft:
    values: dict[str, Any] = {
        "actor_kind": "tpp",
        "actor_id": "tpp-1",
        "action": "ais.balances.read",
        "outcome": "allowed",
        "subject_kind": "account",
        "subject_id": "acc-1",
        "consent_id": "aac-1",
    }
    values.update(fields)
    return draft_entry(**values)


def test_a_valid_draft_keeps_its_fields_as_plain_strings() -> None:
    made = draft(actor_kind=ActorKind.REGULATOR, outcome=Outcome.REFUSED, reason="consent_expired")
    assert (made.actor_kind, made.outcome, made.reason) == ("regulator", "refused", "consent_expired")
    assert type(made.actor_kind) is str and type(made.outcome) is str
    assert (made.detail, made.detail_json) == ({}, "{}")
    assert made.interaction_id is None


def test_detail_is_copied_and_encoded_with_sorted_keys() -> None:
    source: dict[str, Any] = {"b": 2, "a": "x", "c": True, "d": None, "e": Outcome.FAILED}
    made = draft(detail=source)
    source["b"] = 3
    assert made.detail == {"a": "x", "b": 2, "c": True, "d": None, "e": "failed"}
    assert type(made.detail["e"]) is str
    assert made.detail_json == '{"a":"x","b":2,"c":true,"d":null,"e":"failed"}'


REJECTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"actor_kind": "robot"}, InvalidInput, "audit_actor_kind_unknown"),
    ({"actor_kind": None}, InvalidInput, "audit_actor_kind_unknown"),
    ({"outcome": "ok"}, InvalidInput, "audit_outcome_unknown"),
    ({"action": "read"}, InvalidInput, "audit_action_malformed"),
    ({"action": "AIS.read"}, InvalidInput, "audit_action_malformed"),
    ({"action": "ais..read"}, InvalidInput, "audit_action_malformed"),
    ({"action": "a." + "b" * ACTION_LENGTH_MAX}, LimitExceeded, "audit_field_too_long"),
    ({"actor_id": "x" * (ACTOR_ID_LENGTH_MAX + 1)}, LimitExceeded, "audit_field_too_long"),
    ({"actor_id": 7}, InvalidInput, "audit_field_malformed"),
    ({"subject_id": "acc\n1"}, InvalidInput, "audit_field_malformed"),
    ({"subject_kind": "Account"}, InvalidInput, "audit_field_malformed"),
    ({"consent_id": ""}, InvalidInput, "audit_field_malformed"),
    ({"interaction_id": "\x00"}, InvalidInput, "audit_field_malformed"),
    ({"reason": "r" * 65}, LimitExceeded, "audit_field_too_long"),
    ({"detail": [("a", 1)]}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {"amount": 1.5}}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {"nested": {"a": 1}}}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {"big": INT64_MAX + 1}}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {"": 1}}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {"k" * 65: 1}}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {1: 1}}, InvalidInput, "audit_detail_malformed"),
    ({"detail": {"s": "\ud800"}}, InvalidInput, "audit_detail_malformed"),
    (
        {"detail": {f"k{i}": i for i in range(DETAIL_KEYS_MAX + 1)}},
        LimitExceeded,
        "audit_detail_too_many_keys",
    ),
    ({"detail": {"blob": "x" * DETAIL_ENCODED_BYTES_MAX}}, LimitExceeded, "audit_detail_too_large"),
]


@pytest.mark.parametrize(("fields", "error", "code"), REJECTIONS)
def test_rejections_name_the_rule(fields: dict[str, Any], error: type[Exception], code: str) -> None:
    with pytest.raises(error) as caught:
        draft(**fields)
    assert getattr(caught.value, "code", None) == code


def test_limits_are_inclusive() -> None:
    draft(actor_id="x" * ACTOR_ID_LENGTH_MAX, detail={f"k{i}": i for i in range(DETAIL_KEYS_MAX)})
    overhead = len(orjson.dumps({"blob": ""}))
    made = draft(detail={"blob": "x" * (DETAIL_ENCODED_BYTES_MAX - overhead)})
    assert len(made.detail_json.encode()) == DETAIL_ENCODED_BYTES_MAX


def test_the_canonical_encoding_is_sorted_json_of_every_field_but_the_hashes() -> None:
    made = draft(detail={"z": 1, "a": 2})
    canonical = canonical_bytes(seq=5, entry_id=ENTRY_ID, at_ns=1234, draft=made)
    decoded = orjson.loads(canonical)
    assert list(decoded) == sorted(decoded)
    assert decoded["entry_id"] == f"{ENTRY_ID:032x}" and decoded["detail"] == {"a": 2, "z": 1}
    assert decoded["seq"] == 5 and decoded["at_ns"] == 1234 and decoded["reason"] is None
    assert "prev_hash" not in decoded and "entry_hash" not in decoded
    assert canonical.index(b'"a":2') < canonical.index(b'"z":1')


def test_seal_chains_like_the_ledger_journal() -> None:
    first = seal(draft(), seq=1, entry_id=ENTRY_ID, at_ns=10, prev_hash=GENESIS_HASH)
    canonical = canonical_bytes(seq=1, entry_id=ENTRY_ID, at_ns=10, draft=first)
    leaf = hashlib.sha256(b"\x00" + canonical).digest()
    assert first.entry_hash == hashlib.sha256(GENESIS_HASH + leaf).digest()
    second = seal(
        draft(outcome="refused"), seq=2, entry_id=ENTRY_ID + 1, at_ns=10, prev_hash=first.entry_hash
    )
    assert second.prev_hash == first.entry_hash
    assert entry_hash_of(second, first.entry_hash) == second.entry_hash
    assert entry_hash_of(second, GENESIS_HASH) != second.entry_hash


@pytest.mark.parametrize("seq", [0, 1, 255, 2**40, INT64_MAX])
def test_cursors_round_trip(seq: int) -> None:
    cursor = encode_cursor(seq)
    assert decode_cursor(cursor) == seq
    assert cursor.isascii() and "=" not in cursor


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "not a cursor",
        "x" * 200,
        encode_cursor(5) + "A",
        encode_cursor(5) + "=",
        "YXVkaXQudjIAAAAAAAAABQ",
    ],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(cursor)
    assert caught.value.code == "audit_cursor_invalid"
