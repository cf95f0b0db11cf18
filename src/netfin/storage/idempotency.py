"""Idempotency keys for every POST: the same key and body give the same response.

A key is scoped to the caller (a TPP client or a customer). The first
request with a key claims it; its successful response is stored for
``TTL_S`` and replayed verbatim (with ``Idempotent-Replayed: true``) to a
repeat with the same body.

Stored responses can hold secrets (a sign-in returns a session token), so
the table keeps neither the key nor the response in clear: rows are found by
SHA-256 of the key, and the response is sealed with AES-256-GCM under a key
derived (HKDF-SHA256) from the idempotency key itself, which only the client
holds. Reading the table does not give a reader the responses. The same key with another body, or while the
first request is still running, is a 409 problem. A request that fails with
a rejection releases its claim so the caller may correct and retry. A claim
left by a crashed request is taken over after ``STALE_S``; the operations
behind it are themselves safe to repeat (a consent pays once).

On PostgreSQL a handler whose last write is one statement may complete the
claim in that same statement (``Idempotency.riding_completion``): the
response is then stored in the commit that makes the outcome true, and the
request needs no separate completing write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, InvalidInput
from netfin.storage import metadata
from netfin.storage.reads import point_reads

TTL_S = 24 * 3600
STALE_S = 120
KEY_LENGTH_MAX = 40
_KEY = re.compile(r"^(?!\s)[\x20-\x7e]{0,39}[\x21-\x7e]$")
_NS = 1_000_000_000

idempotency_records = sa.Table(
    "idempotency_records",
    metadata,
    sa.Column("scope", sa.String(80), primary_key=True),
    sa.Column("key_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("sealed_body", sa.LargeBinary, nullable=True),
    sa.Column("location", sa.String(512), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False, index=True),
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    location: str | None = None
    replayed: bool = False


def _key_hash(scope: str, key: str) -> bytes:
    return hashlib.sha256(scope.encode() + b"\x00" + key.encode()).digest()


def _sealing_key(scope: str, key: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=scope.encode(), info=b"netfin idempotency")
    return AESGCM(derived.derive(key.encode()))


def _seal(scope: str, key: str, body: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _sealing_key(scope, key).encrypt(nonce, body, None)


def _open(scope: str, key: str, sealed: bytes) -> bytes:
    return _sealing_key(scope, key).decrypt(sealed[:12], sealed[12:], None)


def fingerprint(method: str, path: str, payload: object) -> bytes:
    # The standard library's encoder: a request may carry integers beyond 64 bits
    # (refused later by validation), which orjson cannot encode.
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).digest()


# PostgreSQL: claim a key in one autocommit statement. A new key is inserted; an expired
# record, or a claim left "started" for STALE_S, is taken over (the conditional DO UPDATE);
# a live record is left alone and returned as the statement's snapshot saw it, for the
# replay or the conflict. No row at all (claimed = 0, every column NULL) means another
# request inserted the key after this statement's snapshot: it is being claimed.
# Repeating the statement after a lost connection is safe: a claim that had committed is
# then found "started" with this fingerprint, a 409 the client retries after STALE_S.
_PG_CLAIM = (
    "WITH claimed AS (INSERT INTO idempotency_records AS r "
    "(scope, key_hash, fingerprint, state, created_ns, expires_ns) "
    "VALUES (%(scope)s, %(key_hash)s, %(fingerprint)s, 'started', %(now)s, %(expires)s) "
    "ON CONFLICT (scope, key_hash) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
    "state = 'started', status = NULL, sealed_body = NULL, location = NULL, "
    "created_ns = EXCLUDED.created_ns, expires_ns = EXCLUDED.expires_ns "
    "WHERE r.expires_ns <= %(now)s OR (r.state = 'started' AND r.created_ns <= %(stale_before)s) "
    "RETURNING 1) "
    "SELECT (SELECT count(*) FROM claimed), r.fingerprint, r.state, r.status, r.sealed_body, r.location "
    "FROM (SELECT 1) AS one LEFT JOIN idempotency_records AS r "
    "ON r.scope = %(scope)s AND r.key_hash = %(key_hash)s"
)
_PG_COMPLETE = (
    "UPDATE idempotency_records SET state = 'done', status = %s, sealed_body = %s, location = %s "
    "WHERE scope = %s AND key_hash = %s"
)
_PG_RELEASE = "DELETE FROM idempotency_records WHERE scope = %s AND key_hash = %s AND state = 'started'"
# The completion as part of another statement (``RidingCompletion``); its WHERE clause may be
# extended with ``AND …`` by the statement that carries it.
_PG_RIDING_COMPLETE = (
    "UPDATE idempotency_records SET state = 'done', status = %(idem_status)s, "
    "sealed_body = %(idem_sealed)s, location = %(idem_location)s "
    "WHERE scope = %(idem_scope)s AND key_hash = %(idem_key_hash)s AND state = 'started'"
)


@dataclass
class _OpenClaim:
    """The claim of the request whose handler is running; ``completed``: the response a
    riding completion stored, once the statement carrying it committed."""

    scope: str
    key: str
    completed: StoredResponse | None = None


_OPEN_CLAIM: ContextVar[_OpenClaim | None] = ContextVar("netfin_open_idempotency_claim", default=None)


@dataclass(frozen=True)
class RidingCompletion:
    """The completion of the running request's claim with ``response``, for the handler's
    last statement to carry: ``sql`` is an ``UPDATE … WHERE …`` (the carrier may add
    ``AND`` conditions, then ``RETURNING``) taking ``params``. The carrier calls
    ``committed()`` once its statement committed and did complete the claim; the request
    then answers ``response`` without a completing write of its own."""

    sql: str
    params: dict[str, Any]
    response: StoredResponse
    _claim: _OpenClaim

    def committed(self) -> None:
        self._claim.completed = self.response


class Idempotency:
    """Idempotency records on one engine. On PostgreSQL each step (claim, completion,
    release) is one autocommit statement on the engine's point-read pool; on SQLite
    each is a short SQLAlchemy transaction."""

    def __init__(self, engine: sa.Engine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._fast = point_reads(engine)

    def run(
        self, scope: str, key: str | None, print_: bytes, handler: Callable[[], StoredResponse]
    ) -> StoredResponse:
        if key is None:
            return handler()
        if not _KEY.match(key):
            raise InvalidInput(
                f"Idempotency-Key must be 1..{KEY_LENGTH_MAX} printable characters, no surrounding spaces",
                code="idempotency_key_invalid",
            )
        stored = self._claim(scope, key, print_)
        if stored is not None:
            return stored
        claim = _OpenClaim(scope, key)
        token = _OPEN_CLAIM.set(claim)
        try:
            response = handler()
        except BaseException:
            self._release(scope, key)  # a claim completed by a riding completion stays
            raise
        finally:
            _OPEN_CLAIM.reset(token)
        if claim.completed is response:
            return response
        sealed = _seal(scope, key, response.body)
        if self._fast is not None:
            values = (response.status, sealed, response.location, scope, _key_hash(scope, key))
            self._fast.run(lambda connection: connection.execute(_PG_COMPLETE, values))
            return response
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(idempotency_records)
                .where(
                    idempotency_records.c.scope == scope,
                    idempotency_records.c.key_hash == _key_hash(scope, key),
                )
                .values(state="done", status=response.status, sealed_body=sealed, location=response.location)
            )
        return response

    def riding_completion(self, answer: Callable[[], StoredResponse]) -> RidingCompletion | None:
        """The running request's completion with the response ``answer()`` builds, as part of
        the handler's own last statement; None (and ``answer`` is not called) without a claim
        to complete (no key, or not inside ``run``) or on SQLite, where the request completes
        its claim itself, as always."""
        claim = _OPEN_CLAIM.get()
        if claim is None or self._fast is None:
            return None
        response = answer()
        params = {
            "idem_status": response.status, "idem_sealed": _seal(claim.scope, claim.key, response.body),
            "idem_location": response.location, "idem_scope": claim.scope,
            "idem_key_hash": _key_hash(claim.scope, claim.key),
        }  # fmt: skip
        return RidingCompletion(_PG_RIDING_COMPLETE, params, response, claim)

    def _claim(self, scope: str, key: str, print_: bytes) -> StoredResponse | None:
        if self._fast is not None:
            return self._claim_in_one_statement(scope, key, print_)
        now = self.clock.now_ns()
        table = idempotency_records
        where = (table.c.scope == scope, table.c.key_hash == _key_hash(scope, key))
        with self.engine.begin() as connection:
            row = connection.execute(sa.select(table).where(*where).with_for_update()).first()
            if row is not None and (
                row.expires_ns <= now or (row.state == "started" and row.created_ns + STALE_S * _NS <= now)
            ):
                connection.execute(sa.delete(table).where(*where))
                row = None
            if row is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            sa.insert(table),
                            [{"scope": scope, "key_hash": _key_hash(scope, key), "fingerprint": print_,
                              "state": "started",
                              "created_ns": now, "expires_ns": now + TTL_S * _NS}],
                        )  # fmt: skip
                    return None
                except sa.exc.IntegrityError:
                    row = connection.execute(sa.select(table).where(*where)).first()
                    if row is None:
                        raise Conflict(
                            "the key is being claimed; retry", code="idempotency_key_in_progress"
                        ) from None
        return self._answer(
            scope, key, print_, row.fingerprint, row.state, row.status, row.sealed_body, row.location
        )

    @staticmethod
    def _answer(
        scope: str, key: str, print_: bytes, stored_print: bytes, state: str,
        status: int | None, sealed_body: bytes | None, location: str | None,
    ) -> StoredResponse:  # fmt: skip
        """The answer to a request whose key is already recorded: a replay or a conflict."""
        if stored_print != print_:
            raise Conflict(
                "this Idempotency-Key was used with a different request body", code="idempotency_key_reused"
            )
        if state != "done" or status is None or sealed_body is None:
            raise Conflict(
                "a request with this Idempotency-Key is in progress", code="idempotency_key_in_progress"
            )
        return StoredResponse(status, _open(scope, key, bytes(sealed_body)), location, replayed=True)

    def _claim_in_one_statement(self, scope: str, key: str, print_: bytes) -> StoredResponse | None:
        if self._fast is None:  # pragma: no cover - only called with the pool
            raise InvalidInput("no point-read pool", code="idempotency_store_unavailable")
        now = self.clock.now_ns()
        params = {
            "scope": scope, "key_hash": _key_hash(scope, key), "fingerprint": print_, "now": now,
            "expires": now + TTL_S * _NS, "stale_before": now - STALE_S * _NS,
        }  # fmt: skip
        row = self._fast.one(_PG_CLAIM, params)
        if row is None or row[0]:
            return None
        stored, state, status, sealed_body, location = row[1:]
        if stored is None:
            raise Conflict("the key is being claimed; retry", code="idempotency_key_in_progress")
        return self._answer(scope, key, print_, bytes(stored), state, status, sealed_body, location)

    def _release(self, scope: str, key: str) -> None:
        if self._fast is not None:
            values = (scope, _key_hash(scope, key))
            self._fast.run(lambda connection: connection.execute(_PG_RELEASE, values))
            return
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(idempotency_records).where(
                    idempotency_records.c.scope == scope,
                    idempotency_records.c.key_hash == _key_hash(scope, key),
                    idempotency_records.c.state == "started",
                )
            )

    def purge_expired(self) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(idempotency_records).where(idempotency_records.c.expires_ns <= self.clock.now_ns())
            )
        return int(result.rowcount)
