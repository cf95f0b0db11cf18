"""netfin.audit: the append-only, hash-chained record of who did what, when, under which consent.

Every authentication, consent change, third-party data access and state
change is recorded as an ``AuditEntry``; auditors and regulators query it and
anyone with database read access can verify it.

Invariants: sequence numbers run 1, 2, 3, ... without gaps, in commit order,
even with several processes writing; each entry's hash is
``SHA-256(prev_hash || SHA-256(0x00 || canonical))`` over every other field,
starting from 32 zero bytes; ``at_ns`` never decreases along the chain;
``record`` returns only after the entry is committed; rows are never updated
or deleted (database triggers from ``append_only_guards`` refuse it).

Public names: AuditLog (record, submit, query, verify, close), AuditReceipt, AuditEntry, AuditPage,
AuditVerifyReport, AuditFilter, ActorKind, Outcome, AuditLogClosed,
AuditWriteFailed, append_only_guards, append_only_guards_removal, seed_head,
audit_log, audit_head, AUDIT_TABLES, QUERY_LIMIT_MAX, canonical_bytes,
leaf_hash, chain_hash, GENESIS_HASH.
"""

from netfin.audit.errors import AuditLogClosed, AuditWriteFailed
from netfin.audit.model import (
    GENESIS_HASH,
    QUERY_LIMIT_MAX,
    ActorKind,
    AuditEntry,
    AuditFilter,
    AuditPage,
    AuditVerifyReport,
    Outcome,
    canonical_bytes,
    chain_hash,
    leaf_hash,
)
from netfin.audit.service import AuditLog, AuditReceipt
from netfin.audit.store import (
    AUDIT_TABLES,
    append_only_guards,
    append_only_guards_removal,
    audit_head,
    audit_log,
    seed_head,
)

__all__ = [
    "AUDIT_TABLES",
    "GENESIS_HASH",
    "QUERY_LIMIT_MAX",
    "ActorKind",
    "AuditEntry",
    "AuditFilter",
    "AuditLog",
    "AuditLogClosed",
    "AuditPage",
    "AuditReceipt",
    "AuditVerifyReport",
    "AuditWriteFailed",
    "Outcome",
    "append_only_guards",
    "append_only_guards_removal",
    "audit_head",
    "audit_log",
    "canonical_bytes",
    "chain_hash",
    "leaf_hash",
    "seed_head",
]
