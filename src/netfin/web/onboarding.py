"""Remote account opening and passkeys in the portal.

``/open`` takes a name, a mobile number, a Chinese resident identity number
(checked with python-stdnum: region, birth date and check digit) and a
fallback password; everything is checked before anything is written. The new
customer starts at KYC level 1 with an account and a wallet of the class that
level allows, and is signed in to create a passkey at ``/passkey``.

The passkey ceremonies are small JSON calls made by ``passkey.js`` (WebAuthn
needs the browser's script): options, then the authenticator's answer. Each
carries the page's CSRF token in ``X-CSRF-Token``; before sign-in the token is
bound to the pre-session cookie, afterwards to the session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netfin.core.errors import NetfinError, NotFound
from netfin.core.ids import format_id
from netfin.identity.credentials.model import PASSWORD_LENGTH_MAX, PASSWORD_LENGTH_MIN, normalize_password
from netfin.identity.model import (
    STAFF_ROLES,
    Actor,
    PartyKind,
    Role,
    validate_display_name,
    validate_identifier,
    validate_phone,
)  # fmt: skip
from netfin.web.common import (
    Visit,
    actor_kind,
    anonymous_refusal,
    audit,
    bank_of,
    csrf_token,
    interaction_id,
    json_reply,
    language,
    new_presession,
    page,
    presession_csrf,
    presession_of,
    redirect,
    session_csrf_ok,
    set_presession,
    start_session,
    visit_of,
    visit_page,
)  # fmt: skip

ACCOUNT_CURRENCY = "CNY"
ID_SCHEME = "cn.ric"
STAFF = frozenset(role.value for role in STAFF_ROLES)
SIGN_IN_ROLES = frozenset({Role.CUSTOMER.value, *STAFF})

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=140)]


class CredentialIn(BaseModel):
    """A WebAuthn answer as ``passkey.js`` sends it (the credentials service bounds its size)."""

    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any]
    label: Annotated[str, Field(max_length=64)] = ""


# Opening an account -----------------------------------------------------------


def _open_page(request: Request, presession: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    response = page(
        "open.html", lang=language(request), elder=False, csrf=csrf_token(presession), status=status,
        path="/open", **context,
    )  # fmt: skip
    set_presession(request, response, presession)
    return response


@router.get("/open")
def open_form(request: Request) -> Response:
    return _open_page(request, presession_of(request))


def _checked(display_name: str, phone: str, id_number: str, password: str) -> tuple[dict[str, str], str]:
    """Every field's error code (empty when all are valid) and the normalised identity number."""
    errors: dict[str, str] = {}
    for field, check, value in (
        ("display_name", validate_display_name, display_name), ("phone", validate_phone, phone),
    ):  # fmt: skip
        try:
            check(value)
        except NetfinError as error:
            errors[field] = error.code
    number = ""
    try:
        number = validate_identifier(ID_SCHEME, id_number)
    except NetfinError:
        errors["id_number"] = "id_number_invalid"
    if not PASSWORD_LENGTH_MIN <= len(normalize_password(password)) <= PASSWORD_LENGTH_MAX:
        errors["password"] = "password_length"  # noqa: S105 (an error code)
    return errors, number


@router.post("/open")
def open_account(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    display_name: Text = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    refusal = anonymous_refusal(request)
    if refusal is not None:
        return refusal
    presession = presession_csrf(request, csrf)
    if presession is None:
        return _open_page(request, new_presession(), 403, form_error="form_expired")
    values = {"display_name": display_name, "phone": phone}
    errors, number = _checked(display_name.strip(), phone.strip(), id_number.strip(), password)
    if errors:
        return _open_page(request, presession, 422, errors=errors, values=values)
    bank = bank_of(request)
    actor = Actor("anonymous", "", None, interaction_id(request))
    try:
        party = bank.identity.register_party(
            actor, kind=PartyKind.PERSON, display_name=display_name.strip(), phone=phone.strip(),
            identifiers=[(ID_SCHEME, number)],
        )  # fmt: skip
        bank.credentials.set_password(party.party_id, password)
        opened = Actor("customer", format_id(party.party_id), None, interaction_id(request))
        bank.identity.open_account(opened, party.party_id, currency=ACCOUNT_CURRENCY)
        bank.wallets.open(opened, party.party_id)
    except NetfinError as error:
        audit(request, "web.account.open", "", error)
        return _open_page(request, presession, 409, form_error="open_failed", values=values)
    audit(request, "web.account.open", format_id(party.party_id), None, ("party", format_id(party.party_id)))
    response = redirect("/passkey")
    start_session(request, response, party.party_id, [Role.CUSTOMER.value], ["pwd"])
    return response


@router.get("/passkey")
def passkey_page(request: Request, done: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    passkeys = visit.bank.credentials.list_passkeys(visit.party_id)
    return visit_page(
        visit, "passkey.html", "/passkey", customer_number=format_id(visit.party_id), done=bool(done),
        passkeys=len(passkeys),
    )  # fmt: skip


# Passkey ceremonies (JSON, called by passkey.js) --------------------------------


def _refusal(error: NetfinError) -> Response:
    return json_reply(400 if error.code != "passkeys_per_party_exceeded" else 409, {"error": error.code})


@router.post("/webauthn/register/options")
def register_options(request: Request) -> Response:
    visit = visit_of(request)
    if visit is None or not session_csrf_ok(request):
        return json_reply(403, {"error": "forbidden"})
    try:
        party = visit.bank.identity.get_party(visit.party_id)
        options = visit.bank.credentials.begin_registration(
            party.party_id, format_id(party.party_id), party.display_name
        )
    except NetfinError as error:
        return _refusal(error)
    return json_reply(200, options)


@router.post("/webauthn/register")
def register(request: Request, body: CredentialIn) -> Response:
    visit = visit_of(request)
    if visit is None or not session_csrf_ok(request):
        return json_reply(403, {"error": "forbidden"})
    try:
        visit.bank.credentials.finish_registration(visit.party_id, body.credential, body.label or "portal")
    except NetfinError as error:
        audit(request, "auth.passkey.register", format_id(visit.party_id), error)
        return _refusal(error)
    audit(request, "auth.passkey.register", format_id(visit.party_id), None)
    return json_reply(201, {"next": "/passkey?done=1"})


def _presession_ok(request: Request) -> bool:
    """The pre-session's CSRF token, within the client address's rate limit."""
    return anonymous_refusal(request) is None and presession_csrf(request) is not None


@router.post("/webauthn/login/options")
def login_options(request: Request) -> Response:
    if not _presession_ok(request):
        return json_reply(403, {"error": "form_expired"})
    # The discoverable flow: the passkey the person picks names the party.
    return json_reply(200, bank_of(request).credentials.begin_authentication(None))


@router.post("/webauthn/login")
def login(request: Request, body: CredentialIn) -> Response:
    if not _presession_ok(request):
        return json_reply(403, {"error": "form_expired"})
    bank = bank_of(request)
    try:
        result = bank.credentials.finish_authentication(body.credential)
        party = bank.identity.get_party(result.party_id)
    except NetfinError as error:
        audit(request, "web.passkey.login", "", error)
        return json_reply(401, {"error": "sign_in_failed"})
    roles = sorted(r.value for r in party.roles)
    if not SIGN_IN_ROLES & set(roles):
        return json_reply(401, {"error": "sign_in_failed"})
    audit(request, "web.passkey.login", format_id(party.party_id), None, actor_kind=actor_kind(roles))
    landing = "/home" if Role.CUSTOMER.value in roles else "/console"
    response = json_reply(200, {"next": landing})
    start_session(request, response, party.party_id, roles, ["hwk", "user"])
    return response


OrderPath = Annotated[str, PathParam(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def _paid_by(visit: Visit, order_id: str) -> None:
    """Only the payer confirms; the payee's (or anyone else's) view of the order is 'not found'."""
    order = visit.bank.orders.get_for_party(visit.party_id, order_id)
    if order.payer_party_id != visit.party_id:
        raise NotFound("no such payment order", code="order_not_found")


@router.post("/webauthn/orders/{order_id}/options")
def confirmation_options(request: Request, order_id: OrderPath) -> Response:
    visit = visit_of(request)
    if visit is None or not session_csrf_ok(request):
        return json_reply(403, {"error": "forbidden"})
    try:
        _paid_by(visit, order_id)
        options = visit.bank.orders.begin_confirmation(visit.party_id, order_id)
    except NetfinError as error:
        return json_reply(409 if error.code != "order_not_found" else 404, {"error": error.code})
    return json_reply(200, options)


@router.post("/webauthn/orders/{order_id}/confirm")
def confirm(request: Request, order_id: OrderPath, body: CredentialIn) -> Response:
    visit = visit_of(request)
    if visit is None or not session_csrf_ok(request):
        return json_reply(403, {"error": "forbidden"})
    try:
        _paid_by(visit, order_id)
        visit.bank.orders.confirm(visit.actor(), visit.party_id, order_id, body.credential)
    except NetfinError as error:
        audit(
            request,
            "payment_order.sca.confirm",
            format_id(visit.party_id),
            error,
            ("payment_order", order_id),
        )
        return json_reply(409 if error.code != "order_not_found" else 404, {"error": error.code})
    audit(request, "payment_order.sca.confirm", format_id(visit.party_id), None, ("payment_order", order_id))
    return json_reply(200, {"next": f"/pay/{order_id}"})
