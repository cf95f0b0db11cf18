"""``/v1`` for customers: sign-up, sign-in with a passkey or password, accounts,
transfers, and the consents they have given to third parties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from netfin.api import deps
from netfin.api.deps import BankDep, Customer, Principal
from netfin.api.v1 import render
from netfin.api.v1.schemas import (
    AccountIn,
    AccountOut,
    AuthoriseIn,
    AuthoriseOut,
    ConsentOut,
    ConsentsOut,
    LoginPasswordIn,
    PartyOut,
    PasskeyCredentialIn,
    PasskeyOptionsIn,
    SessionOut,
    SignupIn,
    TransfersPage,
)
from netfin.core.errors import Forbidden, InvalidInput, NetfinError
from netfin.core.ids import format_id
from netfin.identity.credentials.errors import PasswordInvalid, PasswordLocked
from netfin.identity.model import Actor, PartyKind, Role
from netfin.ledger import TransferFlags
from netfin.storage.idempotency import StoredResponse, fingerprint

router = APIRouter(prefix="/v1", tags=["customers"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=40)]
PAGE_SIZE_MAX = 200


def _actor(principal: Principal) -> Actor:
    return Actor(principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def parse_party_id(text: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise InvalidInput("party_id must be 32 hexadecimal digits", code="party_id_invalid") from None
    if len(text) != 32:
        raise InvalidInput("party_id must be 32 hexadecimal digits", code="party_id_invalid")
    return value


def _idempotent(
    request: Request,
    bank: BankDep,
    scope: str,
    key: str | None,
    payload: object,
    run: Callable[[], StoredResponse],
) -> Response:
    stored = bank.idempotency.run(scope, key, fingerprint(request.method, request.url.path, payload), run)
    return render.stored(stored)


@router.post("/signup", status_code=201, response_model=SessionOut)
def signup(request: Request, body: SignupIn, bank: BankDep, key: IdempotencyKey = None) -> Response:
    """Register as a person (KYC level 1) with a password; the session returned may enrol a passkey."""

    def run() -> StoredResponse:
        actor = Actor("anonymous", "", None, deps.interaction_id(request))
        party = bank.identity.register_party(
            actor, kind=PartyKind.PERSON, display_name=body.display_name, phone=body.phone
        )
        bank.credentials.set_password(party.party_id, body.password)
        session = bank.oauth.issue_session(
            party_id=party.party_id,
            roles=[Role.CUSTOMER.value],
            amr=["pwd"],
            auth_time_ns=bank.clock.now_ns(),
        )
        return render.stored_json(201, render.session(session, party.party_id))

    return _idempotent(request, bank, "signup", key, body.model_dump(mode="json"), run)


# Sign-in calls have no principal yet: their keys share one scope (keys are random
# UUIDs chosen by the client; a clash with another body is a 409, never a leak).
ANONYMOUS_SCOPE = "anonymous"


@router.post("/auth/passkey/options")
def passkey_login_options(
    request: Request, body: PasskeyOptionsIn, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        # Always the discoverable flow: listing a party's credentials here would tell
        # an anonymous caller which party ids exist. The passkey found names the party.
        if body.party_id is not None:
            parse_party_id(body.party_id)
        return render.stored_json(200, bank.credentials.begin_authentication(None))

    return _idempotent(request, bank, ANONYMOUS_SCOPE, key, body.model_dump(mode="json"), run)


@router.post("/auth/passkey", response_model=SessionOut)
def passkey_login(
    request: Request, body: PasskeyCredentialIn, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        try:
            result = bank.credentials.finish_authentication(body.credential)
        except Exception as error:
            _audit_login(request, bank, "auth.passkey.login", "", error)
            raise
        party = bank.identity.get_party(result.party_id)
        session = bank.oauth.issue_session(
            party_id=party.party_id, roles=sorted(r.value for r in party.roles), amr=["hwk", "user"],
            auth_time_ns=bank.clock.now_ns(),
        )  # fmt: skip
        _audit_login(request, bank, "auth.passkey.login", format_id(party.party_id), None)
        return render.stored_json(200, render.session(session, party.party_id))

    return _idempotent(request, bank, ANONYMOUS_SCOPE, key, body.model_dump(mode="json"), run)


@router.post("/auth/password", response_model=SessionOut)
def password_login(
    request: Request, body: LoginPasswordIn, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        party_id = parse_party_id(body.party_id)
        try:
            bank.credentials.verify_password(party_id, body.password)
            party = bank.identity.get_party(party_id)
        except PasswordLocked as error:
            # Only known parties can be locked: answering "locked" would confirm that the
            # id exists. The audit log keeps the true reason; the caller sees a wrong password.
            _audit_login(request, bank, "auth.password.login", body.party_id, error)
            raise PasswordInvalid("wrong password") from None
        except Exception as error:
            _audit_login(request, bank, "auth.password.login", body.party_id, error)
            raise
        session = bank.oauth.issue_session(
            party_id=party.party_id, roles=sorted(r.value for r in party.roles), amr=["pwd"],
            auth_time_ns=bank.clock.now_ns(),
        )  # fmt: skip
        _audit_login(request, bank, "auth.password.login", body.party_id, None)
        return render.stored_json(200, render.session(session, party.party_id))

    # The fingerprint covers the password only as part of a hash; nothing stores it in clear.
    return _idempotent(request, bank, ANONYMOUS_SCOPE, key, body.model_dump(mode="json"), run)


def _audit_login(
    request: Request,
    bank: BankDep,
    action: str,
    actor_id: str,
    error: Exception | None,
    consent_id: str | None = None,
) -> None:
    bank.audit.record(
        actor_kind="customer" if actor_id else "anonymous",
        actor_id=actor_id,
        action=action,
        outcome="refused" if error is not None else "succeeded",
        subject_kind="consent" if consent_id else "",
        subject_id=(consent_id or "")[:128],
        consent_id=consent_id[:128] if consent_id else None,
        interaction_id=deps.interaction_id(request),
        reason=getattr(error, "code", type(error).__name__) if error is not None else None,
    )


T = TypeVar("T")


def _on_consent(
    request: Request, bank: BankDep, principal: Principal, action: str, consent_id: str, run: Callable[[], T]
) -> T:
    """Run a customer's consent operation; a refusal (a probe of someone else's id) is audited."""
    try:
        return run()
    except NetfinError as error:
        _audit_login(request, bank, action, format_id(principal.party_id), error, consent_id)
        raise


@router.get("/me", response_model=PartyOut)
def me(principal: Customer, bank: BankDep) -> Response:
    return render.json_response(200, render.party(bank.identity.get_party(principal.party_id)))


def _scope(principal: Principal) -> str:
    return "party:" + format_id(principal.party_id)


@router.post("/me/passkeys/options")
def passkey_register_options(
    request: Request, principal: Customer, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        party = bank.identity.get_party(principal.party_id)
        options = bank.credentials.begin_registration(
            party.party_id, format_id(party.party_id), party.display_name
        )
        return render.stored_json(200, options)

    return _idempotent(request, bank, _scope(principal), key, None, run)


@router.post("/me/passkeys", status_code=201)
def passkey_register(
    request: Request,
    principal: Customer,
    body: PasskeyCredentialIn,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    def run() -> StoredResponse:
        passkey = bank.credentials.finish_registration(principal.party_id, body.credential, body.label)
        bank.audit.record(
            actor_kind="customer", actor_id=format_id(principal.party_id), action="auth.passkey.register",
            outcome="succeeded", interaction_id=principal.interaction_id,
        )  # fmt: skip
        return render.stored_json(
            201, {"credential_id": render.b64(passkey.credential_id), "label": body.label}
        )

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.get("/me/accounts", response_model=list[AccountOut])
def my_accounts(principal: Customer, bank: BankDep) -> Response:
    balances = bank.openbanking.customer_accounts(principal.party_id)
    return render.json_response(200, [render.account(b.account, b) for b in balances])


@router.post("/me/accounts", status_code=201, response_model=AccountOut)
def open_my_account(
    request: Request, principal: Customer, body: AccountIn, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        account = bank.identity.open_account(
            _actor(principal), principal.party_id, currency=body.currency, nickname=body.nickname
        )
        return render.stored_json(201, render.account(account, None))

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.get("/me/accounts/{account_id}/transfers", response_model=TransfersPage)
def my_transfers(
    account_id: Annotated[str, Path(max_length=40)],
    principal: Customer,
    bank: BankDep,
    cursor: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 50,
) -> Response:
    balance = bank.openbanking.customer_account(principal.party_id, account_id)
    page = bank.ledger.account_transfers(
        balance.account.ledger_account_id, cursor=cursor, limit=limit, reverse=True
    )
    ledger_id = balance.account.ledger_account_id
    shown = [t for t in page.transfers if not t.flags & TransferFlags.VOID_PENDING]
    return render.json_response(
        200,
        {"transfers": [render.transfer(t, ledger_id) for t in shown], "next_cursor": page.next_cursor},
    )


@router.get("/me/consents", response_model=ConsentsOut)
def my_consents(principal: Customer, bank: BankDep) -> Response:
    consents = bank.consents.list_for_party(principal.party_id)
    return render.json_response(200, {"consents": [render.consent(c) for c in consents]})


@router.get("/me/consents/{consent_id}", response_model=ConsentOut)
def my_consent(
    request: Request, consent_id: Annotated[str, Path(max_length=128)], principal: Customer, bank: BankDep
) -> Response:
    consent = _on_consent(
        request, bank, principal, "consent.read", consent_id,
        lambda: bank.consents.get_for_party(principal.party_id, consent_id),
    )  # fmt: skip
    return render.json_response(200, render.consent(consent))


@router.post("/me/consents/{consent_id}/authorise/options")
def authorise_options(
    request: Request,
    consent_id: Annotated[str, Path(max_length=128)],
    principal: Customer,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    """A passkey challenge for authorising this consent (the step-up)."""

    def run() -> StoredResponse:
        _on_consent(
            request, bank, principal, "consent.authorise.options", consent_id,
            lambda: bank.consents.get_for_party(principal.party_id, consent_id),
        )  # fmt: skip
        return render.stored_json(200, bank.credentials.begin_authentication(principal.party_id))

    return _idempotent(request, bank, _scope(principal), key, None, run)


@router.post("/me/consents/{consent_id}/authorise", response_model=AuthoriseOut)
def authorise(
    request: Request,
    consent_id: Annotated[str, Path(max_length=128)],
    body: AuthoriseIn,
    principal: Customer,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    """Authorise with a fresh passkey assertion; returns the code for the TPP's redirect."""

    def run() -> StoredResponse:
        # The passkey step audits its own refusals; the consent step is audited here.
        _require_passkey_of(request, bank, principal, body.credential, consent_id)
        return _on_consent(request, bank, principal, "consent.authorise", consent_id, approve)

    def approve() -> StoredResponse:
        consent = bank.consents.get_for_party(principal.party_id, consent_id)
        bank.openbanking.consent_accounts_match(consent, body.account_ids)
        consent = bank.consents.authorise(
            _actor(principal), consent_id, party_id=principal.party_id, account_ids=body.account_ids
        )
        client = bank.oauth.get_client(consent.client_id)
        redirect_uri = client.redirect_uris[0] if client.redirect_uris else None
        code = bank.oauth.issue_authorization_code(
            client_id=consent.client_id, consent_id=consent.consent_id, party_id=principal.party_id,
            redirect_uri=redirect_uri or "", scope=render.SCOPE_OF_KIND[consent.kind],
        )  # fmt: skip
        body_json = {
            "consent": render.consent(consent),
            "authorization_code": code,
            "redirect_uri": redirect_uri,
        }
        return render.stored_json(200, body_json)

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


def _require_passkey_of(
    request: Request, bank: BankDep, principal: Principal, credential: dict[str, object], consent_id: str
) -> None:
    """A fresh passkey assertion by the signed-in customer themself (refusals audited)."""
    try:
        result = bank.credentials.finish_authentication(credential)
    except Exception as error:
        _audit_login(
            request, bank, "consent.authorise.passkey", format_id(principal.party_id), error, consent_id
        )
        raise
    if result.party_id != principal.party_id:
        refusal = Forbidden("the passkey belongs to someone else", code="passkey_party_mismatch")
        _audit_login(
            request, bank, "consent.authorise.passkey", format_id(principal.party_id), refusal, consent_id
        )
        raise refusal


@router.post("/me/consents/{consent_id}/reject", response_model=ConsentOut)
def reject(
    request: Request,
    consent_id: Annotated[str, Path(max_length=128)],
    principal: Customer,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    def run() -> StoredResponse:
        consent = _on_consent(
            request, bank, principal, "consent.reject", consent_id,
            lambda: bank.consents.reject(_actor(principal), consent_id, party_id=principal.party_id),
        )  # fmt: skip
        return render.stored_json(200, render.consent(consent))

    return _idempotent(request, bank, _scope(principal), key, None, run)


@router.post("/me/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke(
    request: Request,
    consent_id: Annotated[str, Path(max_length=128)],
    principal: Customer,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    def run() -> StoredResponse:
        consent = _on_consent(
            request, bank, principal, "consent.revoke", consent_id,
            lambda: bank.consents.revoke(_actor(principal), consent_id, party_id=principal.party_id),
        )  # fmt: skip
        return render.stored_json(200, render.consent(consent))

    return _idempotent(request, bank, _scope(principal), key, None, run)
