"""Consent use cases: create (TPP), authorise / reject / revoke (customer), delete (TPP).

Every read of a consent is scoped: a TPP sees only its own consents and a
customer only the consents that name them; anything else is "not found".
Every change goes to the audit log. The status is re-read on every request
(no caching), so a revocation takes effect on the very next request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.identity import store as identity_store
from netfin.identity.consents import store
from netfin.identity.consents.model import (
    CONSENT_ACCOUNTS_MAX,
    CONSENT_ID_PREFIX,
    Consent,
    ConsentKind,
    ConsentStatus,
    check_transition,
    check_window,
    effective_status,
    normalise_permissions,
)
from netfin.identity.model import Actor, CustomerAccount
from netfin.identity.service import AuditSink, audit_change
from netfin.identity.store import b16, customer_accounts
from netfin.storage.reads import point_reads

PARTY_CONSENTS_PAGE_MAX = 200


# Called inside the revoking transaction, so the TPP's notification commits with it.
RevocationEmitter = Callable[[sa.Connection, Consent], None]


class Consents:
    def __init__(
        self,
        engine: sa.Engine,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
        on_revoked: RevocationEmitter | None = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.on_revoked = on_revoked

    def _new(self, kind: ConsentKind, client_id: str, **fields: Any) -> Consent:
        now = self.clock.now_ns()
        consent = Consent(
            consent_id=CONSENT_ID_PREFIX[kind] + format_id(self.ids.new_id()),
            kind=kind,
            client_id=client_id,
            status=ConsentStatus.AWAITING_AUTHORISATION,
            created_ns=now,
            status_updated_ns=now,
            **fields,
        )
        with self.engine.begin() as connection:
            connection.execute(sa.insert(store.consents), [store.consent_values(consent)])
        return consent

    def create_account_access(
        self,
        actor: Actor,
        client_id: str,
        *,
        permissions: Iterable[str],
        expiration_ns: int | None,
        transaction_from_ns: int | None,
        transaction_to_ns: int | None,
    ) -> Consent:
        granted = normalise_permissions(permissions)
        check_window(self.clock.now_ns(), expiration_ns, transaction_from_ns, transaction_to_ns)
        consent = self._new(
            ConsentKind.ACCOUNT_ACCESS,
            client_id,
            permissions=granted,
            expiration_ns=expiration_ns,
            transaction_from_ns=transaction_from_ns,
            transaction_to_ns=transaction_to_ns,
        )
        self._audit(actor, "consent.create", consent, {"kind": consent.kind.value})
        return consent

    def create_domestic_payment(self, actor: Actor, client_id: str, *, payload: dict[str, Any]) -> Consent:
        consent = self._new(ConsentKind.DOMESTIC_PAYMENT, client_id, payload=payload)
        self._audit(actor, "consent.create", consent, {"kind": consent.kind.value})
        return consent

    def create_funds_confirmation(
        self, actor: Actor, client_id: str, *, payload: dict[str, Any], expiration_ns: int | None
    ) -> Consent:
        check_window(self.clock.now_ns(), expiration_ns, None, None)
        consent = self._new(
            ConsentKind.FUNDS_CONFIRMATION, client_id, payload=payload, expiration_ns=expiration_ns
        )
        self._audit(actor, "consent.create", consent, {"kind": consent.kind.value})
        return consent

    # Reads -----------------------------------------------------------------

    def get(self, consent_id: str) -> Consent:
        """Unscoped read for use cases that scope themselves (see ``model.require_usable``);
        one round trip on PostgreSQL's point-read pool (``netfin.storage.reads``)."""
        reads = point_reads(self.engine)
        if reads is not None:
            consent = store.read(reads, consent_id)
        else:
            with self.engine.connect() as connection:
                consent = store.load(connection, consent_id)
        if consent is None:
            raise NotFound("no such consent", code="consent_not_found")
        return self._as_of_now(consent)

    def get_with_account(self, consent_id: str, account_id: str) -> tuple[Consent, CustomerAccount | None]:
        """A consent (as ``get``) and the customer account ``account_id`` if it exists.

        On PostgreSQL one statement on the point-read pool (``netfin.storage.reads``):
        the hottest TPP read, a balance, needs both. Elsewhere one pooled connection.
        """
        reads = point_reads(self.engine)
        account: CustomerAccount | None
        if reads is not None:
            consent, account = store.load_with_account(reads, consent_id, account_id)
        else:
            with self.engine.connect() as connection:
                consent = store.load(connection, consent_id)
                found = identity_store.load_accounts(connection, [account_id]) if consent else []
                account = found[0] if found else None
        if consent is None:
            raise NotFound("no such consent", code="consent_not_found")
        return self._as_of_now(consent), account

    def get_for_payment(
        self, consent_id: str, creditor_iban: str | None
    ) -> tuple[Consent, list[CustomerAccount], CustomerAccount | None]:
        """A consent (as ``get``), the customer accounts it names and the customer account
        whose IBAN is ``creditor_iban`` (None when there is none, or no IBAN was given).

        On PostgreSQL one statement on the point-read pool for a consent that names one
        account (a payment consent: its debtor); elsewhere, and for other consents, one read
        after another.
        """
        reads = point_reads(self.engine)
        if reads is not None:
            consent, debtor, creditor = store.load_for_payment(reads, consent_id, creditor_iban)
            if consent is None:
                raise NotFound("no such consent", code="consent_not_found")
            if len(consent.account_ids) == 1:
                return self._as_of_now(consent), [] if debtor is None else [debtor], creditor
        with self.engine.connect() as connection:
            found = store.load(connection, consent_id)
            if found is None:
                raise NotFound("no such consent", code="consent_not_found")
            accounts = identity_store.load_accounts(connection, list(found.account_ids))
            by_iban = None
            if creditor_iban is not None:
                by_iban = identity_store.load_account_by_iban(connection, creditor_iban)
        return self._as_of_now(found), accounts, by_iban

    def get_for_client(self, client_id: str, consent_id: str, kind: ConsentKind) -> Consent:
        consent = self.get(consent_id)
        if consent.client_id != client_id or consent.kind is not kind:
            raise NotFound("no such consent", code="consent_not_found")
        return consent

    def get_for_party(self, party_id: int, consent_id: str) -> Consent:
        """A customer sees consents awaiting anyone's authorisation (they hold the id
        from the TPP's redirect) and the consents they have authorised."""
        consent = self.get(consent_id)
        if consent.party_id is not None and consent.party_id != party_id:
            raise NotFound("no such consent", code="consent_not_found")
        return consent

    def list_for_party(self, party_id: int, *, limit: int = 100) -> list[Consent]:
        if not 1 <= limit <= PARTY_CONSENTS_PAGE_MAX:
            raise LimitExceeded(f"limit must be 1..{PARTY_CONSENTS_PAGE_MAX}", code="page_limit_exceeded")
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.consents)
                .where(store.consents.c.party_id == b16(party_id))
                .order_by(store.consents.c.created_ns.desc())
                .limit(limit)
            )
            return [self._as_of_now(store.consent_from_row(r)) for r in rows]

    def list_recent(self, *, client_id: str | None = None, limit: int = 100) -> list[Consent]:
        """Consents of every party (or of one TPP), newest first: a read-only view for staff consoles."""
        if type(limit) is not int or not 1 <= limit <= PARTY_CONSENTS_PAGE_MAX:
            raise LimitExceeded(f"limit must be 1..{PARTY_CONSENTS_PAGE_MAX}", code="page_limit_exceeded")
        query = sa.select(store.consents).order_by(
            store.consents.c.created_ns.desc(), store.consents.c.consent_id
        )
        if client_id is not None:
            query = query.where(store.consents.c.client_id == client_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit))
            return [self._as_of_now(store.consent_from_row(r)) for r in rows]

    def _as_of_now(self, consent: Consent) -> Consent:
        status = effective_status(consent, self.clock.now_ns())
        if status is consent.status:
            return consent
        return dataclasses.replace(consent, status=status)

    # Changes ---------------------------------------------------------------

    def authorise(
        self, actor: Actor, consent_id: str, *, party_id: int, account_ids: Sequence[str]
    ) -> Consent:
        """The customer grants the consent over some of their own accounts.

        The caller must have verified a passkey assertion of ``party_id`` for
        this very step (``OpenBanking.authorise_consent`` does).
        """
        chosen = tuple(dict.fromkeys(account_ids))
        if not chosen:
            raise InvalidInput("choose at least one account", code="accounts_empty")
        if len(chosen) > CONSENT_ACCOUNTS_MAX:
            raise LimitExceeded(f"at most {CONSENT_ACCOUNTS_MAX} accounts", code="accounts_too_many")
        now = self.clock.now_ns()
        with self.engine.begin() as connection:
            consent = self._for_party_update(connection, consent_id, party_id)
            check_transition(consent, ConsentStatus.AUTHORISED, now)
            if consent.kind is not ConsentKind.ACCOUNT_ACCESS and len(chosen) != 1:
                raise InvalidInput(
                    "a payment or funds consent covers exactly one account", code="accounts_one"
                )
            self._require_own_accounts(connection, party_id, chosen)
            ok = store.set_status(
                connection, consent_id, expected=consent.status, target=ConsentStatus.AUTHORISED, now_ns=now,
                extra={"party_id": b16(party_id), "account_ids": _json_list(chosen), "authorised_ns": now},
            )  # fmt: skip
            if not ok:
                raise Conflict("the consent changed meanwhile", code="consent_changed")
        self._audit(actor, "consent.authorise", consent, {"accounts": len(chosen)})
        return self.get(consent_id)

    def reject(self, actor: Actor, consent_id: str, *, party_id: int) -> Consent:
        return self._change(actor, consent_id, ConsentStatus.REJECTED, "consent.reject", party_id=party_id)

    def revoke(self, actor: Actor, consent_id: str, *, party_id: int) -> Consent:
        """The customer withdraws an authorised consent; the next TPP request is refused."""
        return self._change(actor, consent_id, ConsentStatus.REVOKED, "consent.revoke", party_id=party_id)

    def delete_by_client(self, actor: Actor, client_id: str, consent_id: str, kind: ConsentKind) -> Consent:
        self.get_for_client(client_id, consent_id, kind)
        return self._change(actor, consent_id, ConsentStatus.REVOKED, "consent.delete")

    def consume(self, connection: sa.Connection, consent: Consent) -> None:
        """Mark a payment consent used, inside the caller's transaction (one payment per consent)."""
        now = self.clock.now_ns()
        check_transition(consent, ConsentStatus.CONSUMED, now)
        if not store.set_status(
            connection, consent.consent_id, expected=ConsentStatus.AUTHORISED, target=ConsentStatus.CONSUMED,
            now_ns=now,
        ):  # fmt: skip
            raise Conflict("the consent has already been used", code="consent_consumed")

    def consume_statement(self, consent: Consent) -> tuple[str, dict[str, Any]]:
        """``consume`` as the part of one statement (PostgreSQL): checks the transition
        now and returns ``(sql, params)`` of an ``UPDATE consents ... RETURNING 1`` that
        returns a row only when this call consumed the consent; the caller runs it as a
        data-modifying CTE of the statement that writes the payment, and reports
        ``consent_consumed`` when it returned none."""
        now = self.clock.now_ns()
        check_transition(consent, ConsentStatus.CONSUMED, now)
        return store.CONSUME_SQL, {
            "consume_target": ConsentStatus.CONSUMED.value,
            "consume_now": now,
            "consume_consent_id": consent.consent_id,
            "consume_expected": ConsentStatus.AUTHORISED.value,
        }

    def _change(
        self,
        actor: Actor,
        consent_id: str,
        target: ConsentStatus,
        action: str,
        *,
        party_id: int | None = None,
    ) -> Consent:
        now = self.clock.now_ns()
        with self.engine.begin() as connection:
            if party_id is None:
                consent = store.load(connection, consent_id, for_update=True)
                if consent is None:
                    raise NotFound("no such consent", code="consent_not_found")
            else:
                consent = self._for_party_update(connection, consent_id, party_id)
            check_transition(consent, target, now)
            extra: dict[str, Any] = {}
            if party_id is not None and consent.party_id is None:
                extra["party_id"] = b16(party_id)
            if not store.set_status(
                connection, consent_id, expected=consent.status, target=target, now_ns=now, extra=extra
            ):
                raise Conflict("the consent changed meanwhile", code="consent_changed")
            if target is ConsentStatus.REVOKED and party_id is not None and self.on_revoked is not None:
                self.on_revoked(connection, consent)
        self._audit(actor, action, consent, {"status": target.value})
        return self.get(consent_id)

    def _for_party_update(self, connection: sa.Connection, consent_id: str, party_id: int) -> Consent:
        consent = store.load(connection, consent_id, for_update=True)
        if consent is None or (consent.party_id is not None and consent.party_id != party_id):
            raise NotFound("no such consent", code="consent_not_found")
        return consent

    def _require_own_accounts(
        self, connection: sa.Connection, party_id: int, account_ids: Sequence[str]
    ) -> None:
        rows = connection.execute(
            sa.select(customer_accounts.c.account_id).where(
                customer_accounts.c.account_id.in_(list(account_ids)),
                customer_accounts.c.party_id == b16(party_id),
                customer_accounts.c.status == "Enabled",
            )
        ).all()
        if len(rows) != len(account_ids):
            raise NotFound("no such account", code="account_not_found")

    def _audit(self, actor: Actor, action: str, consent: Consent, detail: dict[str, Any]) -> None:
        scoped = Actor(actor.kind, actor.id, consent.consent_id, actor.interaction_id)
        audit_change(self.audit, scoped, action, "consent", consent.consent_id, detail)


def _json_list(values: Sequence[str]) -> str:
    return orjson.dumps(list(values)).decode()
