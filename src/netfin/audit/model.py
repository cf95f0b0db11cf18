"""Audit entries: their fields, validation, canonical encoding and hash chain.

An entry is validated once, as an ``AuditDraft``, before it is queued. The
writer then seals drafts in commit order: it gives each a sequence number, an
id and a time, and chains it to the entry before. The leaf hash is
``SHA-256(0x00 || canonical)`` and the chain hash ``SHA-256(prev_hash || leaf)``,
as in the ledger journal, so a verifier needs only the rows to recompute both.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.core.ids import format_id
from netfin.core.limits import INT64_MAX

# Longest text in each field, in characters. The store's column widths match.
ACTOR_KIND_LENGTH_MAX = 16
ACTOR_ID_LENGTH_MAX = 128
ACTION_LENGTH_MAX = 64
OUTCOME_LENGTH_MAX = 16
SUBJECT_KIND_LENGTH_MAX = 64
SUBJECT_ID_LENGTH_MAX = 128
CONSENT_ID_LENGTH_MAX = 128
INTERACTION_ID_LENGTH_MAX = 128
REASON_LENGTH_MAX = 64
# ``detail`` stays small: it says what was touched, it never carries the data itself.
DETAIL_KEYS_MAX = 32
DETAIL_KEY_LENGTH_MAX = 64
DETAIL_ENCODED_BYTES_MAX = 4096
DETAIL_INT_MIN = -(2**63)
# Entries in one page of ``AuditLog.query``.
QUERY_LIMIT_MAX = 1000

HASH_BYTES = 32
GENESIS_HASH = bytes(HASH_BYTES)
_LEAF_PREFIX = b"\x00"

# Dotted lowercase words with at least two parts: ``auth.passkey.login``.
_ACTION = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
# One lowercase word, or empty when an action has no subject.
_SUBJECT_KIND = re.compile(r"(?:[a-z][a-z0-9_]*)?")

# An opaque cursor: a version tag and the last sequence number of the page.
_CURSOR_TAG = b"audit.v1"
_CURSOR = struct.Struct(">8sQ")

DetailValue = str | int | bool | None


class ActorKind(StrEnum):
    """Who acted: a role from identity, the platform itself, or nobody known yet."""

    CUSTOMER = "customer"
    TPP = "tpp"
    OPERATOR = "operator"
    RISK_ANALYST = "risk_analyst"
    COMPLIANCE = "compliance"
    AUDITOR = "auditor"
    REGULATOR = "regulator"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


class Outcome(StrEnum):
    """``allowed``/``refused`` for access decisions, ``succeeded``/``failed`` for changes."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_ACTOR_KINDS = frozenset(kind.value for kind in ActorKind)
_OUTCOMES = frozenset(outcome.value for outcome in Outcome)


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """A validated entry that has no place in the chain yet."""

    actor_kind: str
    actor_id: str
    action: str
    outcome: str
    subject_kind: str
    subject_id: str
    consent_id: str | None
    interaction_id: str | None
    reason: str | None
    detail: dict[str, DetailValue]
    detail_json: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One committed entry. ``seq`` is 1-based and contiguous across the whole log."""

    seq: int
    entry_id: int
    at_ns: int
    actor_kind: str
    actor_id: str
    action: str
    outcome: str
    subject_kind: str
    subject_id: str
    consent_id: str | None
    interaction_id: str | None
    reason: str | None
    detail: dict[str, DetailValue]
    prev_hash: bytes
    entry_hash: bytes


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Conditions of a query; each one that is not None must hold. Time is ``[since_ns, until_ns)``."""

    actor_id: str | None = None
    actor_kind: str | None = None
    action: str | None = None
    subject_id: str | None = None
    consent_id: str | None = None
    outcome: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Entries oldest first; ``next_cursor`` is None on the last page."""

    entries: tuple[AuditEntry, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AuditVerifyReport:
    """``problem`` is a rule-like code (``entry_hash_mismatch``); ``message`` explains it."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None
    message: str | None = None


def draft_entry(
    *,
    actor_kind: str,
    actor_id: str,
    action: str,
    outcome: str,
    subject_kind: str = "",
    subject_id: str = "",
    consent_id: str | None = None,
    interaction_id: str | None = None,
    reason: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> AuditDraft:
    """Validate every field against its named maximum; raise InvalidInput or LimitExceeded."""
    kind = check_actor_kind(actor_kind)
    if not _ACTION.fullmatch(check_text("action", action, ACTION_LENGTH_MAX)):
        raise InvalidInput(
            "action must be dotted lowercase words such as 'ais.balances.read'",
            code="audit_action_malformed",
        )
    if not _SUBJECT_KIND.fullmatch(check_text("subject_kind", subject_kind, SUBJECT_KIND_LENGTH_MAX)):
        raise InvalidInput("subject_kind must be one lowercase word or empty", code="audit_field_malformed")
    detail_dict, detail_json = check_detail(detail)
    return AuditDraft(
        actor_kind=kind,
        actor_id=check_text("actor_id", actor_id, ACTOR_ID_LENGTH_MAX),
        action=str.__str__(action),
        outcome=check_outcome(outcome),
        subject_kind=str.__str__(subject_kind),
        subject_id=check_text("subject_id", subject_id, SUBJECT_ID_LENGTH_MAX),
        consent_id=_optional_text("consent_id", consent_id, CONSENT_ID_LENGTH_MAX),
        interaction_id=_optional_text("interaction_id", interaction_id, INTERACTION_ID_LENGTH_MAX),
        reason=_optional_text("reason", reason, REASON_LENGTH_MAX),
        detail=detail_dict,
        detail_json=detail_json,
    )


def check_actor_kind(value: object) -> str:
    if not isinstance(value, str) or value not in _ACTOR_KINDS:
        raise InvalidInput(
            f"actor_kind must be one of {sorted(_ACTOR_KINDS)}", code="audit_actor_kind_unknown"
        )
    return str.__str__(value)


def check_outcome(value: object) -> str:
    if not isinstance(value, str) or value not in _OUTCOMES:
        raise InvalidInput(f"outcome must be one of {sorted(_OUTCOMES)}", code="audit_outcome_unknown")
    return str.__str__(value)


def check_text(name: str, value: object, length_max: int) -> str:
    """A printable string (possibly empty) of at most ``length_max`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", code="audit_field_malformed")
    if len(value) > length_max:
        raise LimitExceeded(f"{name} is longer than {length_max} characters", code="audit_field_too_long")
    # Control characters would let one entry pose as several lines in an export.
    if not value.isprintable():
        raise InvalidInput(f"{name} holds control characters", code="audit_field_malformed")
    return str.__str__(value)


def _optional_text(name: str, value: object, length_max: int) -> str | None:
    # An absent value is None, never "": one spelling keeps queries and hashes unambiguous.
    if value is None:
        return None
    text = check_text(name, value, length_max)
    if not text:
        raise InvalidInput(f"{name} must be None or a non-empty string", code="audit_field_malformed")
    return text


def check_detail(detail: Mapping[str, DetailValue] | None) -> tuple[dict[str, DetailValue], str]:
    """A flat mapping of short keys to str, int, bool or None; returns it and its canonical JSON."""
    if detail is None:
        return {}, "{}"
    if not isinstance(detail, Mapping):
        raise InvalidInput("detail must be a mapping", code="audit_detail_malformed")
    if len(detail) > DETAIL_KEYS_MAX:
        raise LimitExceeded(f"detail has more than {DETAIL_KEYS_MAX} keys", code="audit_detail_too_many_keys")
    clean: dict[str, DetailValue] = {}
    for key, value in detail.items():
        if not isinstance(key, str) or not key or len(key) > DETAIL_KEY_LENGTH_MAX or not key.isprintable():
            raise InvalidInput(
                f"detail keys must be printable strings of 1 to {DETAIL_KEY_LENGTH_MAX} characters",
                code="audit_detail_malformed",
            )
        clean[str.__str__(key)] = _detail_value(key, value)
    try:
        encoded = orjson.dumps(clean, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise InvalidInput("detail is not encodable as JSON", code="audit_detail_malformed") from None
    if len(encoded) > DETAIL_ENCODED_BYTES_MAX:
        raise LimitExceeded(
            f"detail encodes to more than {DETAIL_ENCODED_BYTES_MAX} bytes", code="audit_detail_too_large"
        )
    return clean, encoded.decode()


def _detail_value(key: str, value: object) -> DetailValue:
    # Subclasses (StrEnum, IntEnum) are reduced to the plain type so the encoding never
    # depends on a class that a later reader may not have.
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if not DETAIL_INT_MIN <= value <= INT64_MAX:
            raise InvalidInput(f"detail[{key!r}] is outside the 64-bit range", code="audit_detail_malformed")
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    raise InvalidInput(
        f"detail[{key!r}] must be a str, int, bool or None, not {type(value).__name__}",
        code="audit_detail_malformed",
    )


def canonical_bytes(*, seq: int, entry_id: int, at_ns: int, draft: AuditDraft | AuditEntry) -> bytes:
    """The deterministic encoding that the leaf hash covers: every field but the two hashes."""
    fields: dict[str, Any] = {
        "seq": seq,
        # orjson holds integers to 64 bits; the 128-bit id goes as its canonical hex text.
        "entry_id": format_id(entry_id),
        "at_ns": at_ns,
        "actor_kind": draft.actor_kind,
        "actor_id": draft.actor_id,
        "action": draft.action,
        "outcome": draft.outcome,
        "subject_kind": draft.subject_kind,
        "subject_id": draft.subject_id,
        "consent_id": draft.consent_id,
        "interaction_id": draft.interaction_id,
        "reason": draft.reason,
        "detail": draft.detail,
    }
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + canonical).digest()


def chain_hash(prev_hash: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(prev_hash + leaf).digest()


def entry_hash_of(entry: AuditEntry, prev_hash: bytes) -> bytes:
    """Recompute what ``entry.entry_hash`` must be when the entry before it ends in ``prev_hash``."""
    canonical = canonical_bytes(seq=entry.seq, entry_id=entry.entry_id, at_ns=entry.at_ns, draft=entry)
    return chain_hash(prev_hash, leaf_hash(canonical))


def seal(draft: AuditDraft, *, seq: int, entry_id: int, at_ns: int, prev_hash: bytes) -> AuditEntry:
    """Give a draft its place in the chain."""
    canonical = canonical_bytes(seq=seq, entry_id=entry_id, at_ns=at_ns, draft=draft)
    return AuditEntry(
        seq=seq,
        entry_id=entry_id,
        at_ns=at_ns,
        actor_kind=draft.actor_kind,
        actor_id=draft.actor_id,
        action=draft.action,
        outcome=draft.outcome,
        subject_kind=draft.subject_kind,
        subject_id=draft.subject_id,
        consent_id=draft.consent_id,
        interaction_id=draft.interaction_id,
        reason=draft.reason,
        detail=draft.detail,
        prev_hash=prev_hash,
        entry_hash=chain_hash(prev_hash, leaf_hash(canonical)),
    )


def encode_cursor(after_seq: int) -> str:
    return base64.urlsafe_b64encode(_CURSOR.pack(_CURSOR_TAG, after_seq)).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sequence number a cursor points after; InvalidInput for anything we did not issue."""
    bad = InvalidInput("cursor is not one that this audit log issued", code="audit_cursor_invalid")
    if not isinstance(cursor, str) or len(cursor) > 64:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, after_seq = _CURSOR.unpack(raw)
    except (ValueError, struct.error):
        raise bad from None
    if tag != _CURSOR_TAG or after_seq > INT64_MAX or encode_cursor(after_seq) != cursor:
        raise bad
    return int(after_seq)
