"""The customer portal at ``/``: sign-in, accounts, loans, consents, elder mode and language.

Every page is rendered on the server and works without JavaScript. The session
token lives in an HttpOnly, SameSite=Strict cookie; every form carries a CSRF
token derived from the secret it is bound to (the session token, or before
sign-in a random pre-session cookie) and checked with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, RedirectResponse, Response

from netfin.core.clock import iso_from_ns
from netfin.core.errors import NetfinError
from netfin.core.ids import format_id, parse_id
from netfin.credit.loans import Loan
from netfin.identity.consents.model import ConsentStatus
from netfin.identity.model import Actor, Role
from netfin.web.i18n import format_money, pick_language, translator
from netfin.web.store import LANGUAGES, Preferences, PreferenceStore

if TYPE_CHECKING:
    from netfin.bank import Bank

SESSION_COOKIE = "netfin_session"
PRESESSION_COOKIE = "netfin_presession"
LANG_COOKIE = "lang"
LANG_COOKIE_AGE_S = 365 * 86_400
TOKEN_LENGTH_MAX = 4096
CSRF_CONTEXT = b"netfin.web.csrf"
PAGES = ("/home", "/loans", "/consents")
# X-Content-Type-Options and Cache-Control: no-store come from the API's guards on every response.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}
_HERE = Path(__file__).parent
TEMPLATES = Environment(
    loader=FileSystemLoader(_HERE / "templates"), autoescape=True, undefined=StrictUndefined
)
STATIC = {
    "portal.css": ("text/css; charset=utf-8", (_HERE / "static" / "portal.css").read_bytes()),
    "elder.js": ("text/javascript; charset=utf-8", (_HERE / "static" / "elder.js").read_bytes()),
}

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=128)]


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in customer's request: who, in which language and mode, and their form token."""

    bank: Bank
    party_id: int
    lang: str
    preferences: Preferences
    csrf: str
    interaction_id: str | None

    def actor(self) -> Actor:
        return Actor("customer", format_id(self.party_id), None, self.interaction_id)


def _bank(request: Request) -> Bank:
    return cast("Bank", request.app.state.bank)


def _interaction_id(request: Request) -> str | None:
    return cast("str | None", getattr(request.state, "interaction_id", None))


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), CSRF_CONTEXT, hashlib.sha256).hexdigest()


def _csrf_ok(secret: str | None, submitted: str) -> bool:
    if not secret:
        return False
    return hmac.compare_digest(csrf_token(secret).encode(), submitted.encode("utf-8", "replace"))


def _language(request: Request, preferred: str | None = None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    return pick_language(cookie if cookie in LANGUAGES else preferred, request.headers.get("accept-language"))


def _visit(request: Request) -> Visit | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > TOKEN_LENGTH_MAX:
        return None
    bank = _bank(request)
    try:
        claims = bank.oauth.verify_session(token)
    except NetfinError:
        return None
    if Role.CUSTOMER.value not in claims.roles:
        return None
    preferences = PreferenceStore(bank.engine).get(claims.party_id)
    return Visit(
        bank, claims.party_id, _language(request, preferences.lang), preferences, csrf_token(token),
        _interaction_id(request),
    )  # fmt: skip


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _redirect(url: str) -> Response:
    return _secured(RedirectResponse(url, status_code=303))


def _page(
    template: str, *, lang: str, elder: bool, csrf: str, status: int = 200, path: str = "/", **context: Any
) -> Response:
    html = TEMPLATES.get_template(template).render(
        _=translator(lang), lang=lang, elder=elder, csrf=csrf, signed_in=template != "sign_in.html",
        path=path, **context,
    )  # fmt: skip
    return _secured(HTMLResponse(html, status_code=status))


def _visit_page(visit: Visit, template: str, path: str, status: int = 200, **context: Any) -> Response:
    return _page(
        template, lang=visit.lang, elder=visit.preferences.elder_mode, csrf=visit.csrf, status=status,
        path=path, **context,
    )  # fmt: skip


def _audit(
    request: Request, action: str, actor_id: str, error: NetfinError | None, subject: str = ""
) -> None:
    _bank(request).audit.record(
        actor_kind="customer" if actor_id else "anonymous", actor_id=actor_id, action=action,
        outcome="refused" if error is not None else "succeeded", subject_kind="consent" if subject else "",
        subject_id=subject[:128], interaction_id=_interaction_id(request),
        reason=error.code if error is not None else None,
    )  # fmt: skip


# Signing in and out ---------------------------------------------------------------


def _sign_in_page(request: Request, presession: str, status: int = 200, error: str = "") -> Response:
    response = _page(
        "sign_in.html", lang=_language(request), elder=False, csrf=csrf_token(presession), status=status,
        error=error,
    )  # fmt: skip
    response.set_cookie(
        PRESESSION_COOKIE, presession, httponly=True, samesite="strict", secure=_https(request), path="/"
    )
    return response


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/")
def sign_in_form(request: Request) -> Response:
    if _visit(request) is not None:
        return _redirect("/home")
    presession = request.cookies.get(PRESESSION_COOKIE) or ""
    if not 32 <= len(presession) <= 64:
        presession = secrets.token_urlsafe(32)
    return _sign_in_page(request, presession)


@router.post("/sign-in")
def sign_in(
    request: Request,
    csrf: CsrfField = "",
    party_id: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    presession = request.cookies.get(PRESESSION_COOKIE)
    if not _csrf_ok(presession, csrf):
        return _sign_in_page(request, secrets.token_urlsafe(32), 403, "form_expired")
    bank = _bank(request)
    try:
        party_number = parse_id(party_id)
    except ValueError:
        return _sign_in_page(request, cast(str, presession), 401, "sign_in_failed")
    try:
        bank.credentials.verify_password(party_number, password)
        party = bank.identity.get_party(party_number)
    except NetfinError as error:
        _audit(request, "web.password.login", format_id(party_number), error)
        return _sign_in_page(request, cast(str, presession), 401, "sign_in_failed")
    roles = sorted(r.value for r in party.roles)
    if Role.CUSTOMER.value not in roles:
        return _sign_in_page(request, cast(str, presession), 401, "sign_in_failed")
    session = bank.oauth.issue_session(
        party_id=party.party_id, roles=roles, amr=["pwd"], auth_time_ns=bank.clock.now_ns()
    )
    _audit(request, "web.password.login", format_id(party.party_id), None)
    response = _redirect("/home")
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=session.expires_in, httponly=True, samesite="strict",
        secure=_https(request), path="/",
    )  # fmt: skip
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: CsrfField = "") -> Response:
    visit = _visit(request)
    if visit is not None and not _csrf_ok(request.cookies.get(SESSION_COOKIE), csrf):
        return _refused(visit)
    response = _redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_https(request))
    return response


def _refused(visit: Visit) -> Response:
    return _visit_page(visit, "refused.html", "/home", status=403)


# Pages --------------------------------------------------------------------------


@router.get("/home")
def home(request: Request) -> Response:
    visit = _visit(request)
    if visit is None:
        return _redirect("/")
    balances = visit.bank.openbanking.customer_accounts(visit.party_id)
    accounts = [
        {
            "name": b.account.nickname or b.account.currency,
            "iban": b.account.iban,
            "booked": format_money(b.booked_minor, b.account.currency, visit.lang),
            "available": format_money(b.available_minor, b.account.currency, visit.lang),
        }
        for b in balances
    ]
    return _visit_page(visit, "home.html", "/home", accounts=accounts)


def _loan_view(loan: Loan, lang: str, unpaid_only: bool) -> dict[str, Any]:
    rows = []
    for item in loan.position.instalments:
        due_minor = item.principal + item.interest + item.fee + item.penalty
        paid_minor = item.principal_paid + item.interest_paid + item.fee_paid + item.penalty_paid
        outstanding_minor = due_minor - paid_minor
        if unpaid_only and outstanding_minor == 0:
            continue
        rows.append(
            {
                "seq": item.seq,
                "due": item.due.isoformat(),
                "amount": format_money(due_minor, loan.currency, lang),
                "paid": format_money(paid_minor, loan.currency, lang),
                "outstanding": format_money(outstanding_minor, loan.currency, lang),
                "settled": outstanding_minor == 0,
            }
        )
    return {
        "loan_id": loan.loan_id,
        "kind": loan.kind,
        "product": loan.product,
        "status": loan.status.value,
        "principal": format_money(loan.principal_minor, loan.currency, lang),
        "owed": format_money(loan.owed(), loan.currency, lang),
        "rows": rows,
    }


@router.get("/loans")
def loans(request: Request) -> Response:
    visit = _visit(request)
    if visit is None:
        return _redirect("/")
    elder = visit.preferences.elder_mode
    views = [_loan_view(loan, visit.lang, elder) for loan in visit.bank.loans.loans_of(visit.party_id)]
    return _visit_page(visit, "loans.html", "/loans", loans=views)


def _consents_page(visit: Visit, status: int = 200, error: str = "") -> Response:
    consents = [
        {
            "consent_id": c.consent_id,
            "kind": c.kind.value,
            "client_id": c.client_id,
            "status": c.status.value,
            "active": c.status is ConsentStatus.AUTHORISED,
            "permissions": sorted(p.value for p in c.permissions),
            "expires": iso_from_ns(c.expiration_ns)[:10] if c.expiration_ns is not None else "",
        }
        for c in visit.bank.consents.list_for_party(visit.party_id)
    ]
    return _visit_page(visit, "consents.html", "/consents", status, consents=consents, error=error)


@router.get("/consents")
def consents(request: Request) -> Response:
    visit = _visit(request)
    if visit is None:
        return _redirect("/")
    return _consents_page(visit)


@router.post("/consents/{consent_id}/revoke")
def revoke_consent(
    request: Request, consent_id: Annotated[str, PathParam(max_length=128)], csrf: CsrfField = ""
) -> Response:
    visit = _visit(request)
    if visit is None:
        return _redirect("/")
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), csrf):
        return _refused(visit)
    try:
        visit.bank.consents.revoke(visit.actor(), consent_id, party_id=visit.party_id)
    except NetfinError as error:
        _audit(request, "consent.revoke", format_id(visit.party_id), error, consent_id)
        return _consents_page(visit, 409, "revoke_failed")
    return _redirect("/consents")


# Settings -----------------------------------------------------------------------


@router.post("/settings/elder")
def toggle_elder(
    request: Request, csrf: CsrfField = "", next_path: Annotated[str, Form(alias="next", max_length=32)] = ""
) -> Response:
    visit = _visit(request)
    if visit is None:
        return _redirect("/")
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), csrf):
        return _refused(visit)
    turned = Preferences(not visit.preferences.elder_mode, visit.preferences.lang)
    PreferenceStore(visit.bank.engine).put(visit.party_id, turned, visit.bank.clock.now_ns())
    return _redirect(next_path if next_path in PAGES else "/home")


@router.get("/lang/{lang}")
def switch_language(
    request: Request,
    lang: Annotated[str, PathParam(max_length=8)],
    next_path: Annotated[str, Query(alias="next", max_length=32)] = "/",
) -> Response:
    chosen = lang if lang in LANGUAGES else LANGUAGES[0]
    response = _redirect(next_path if next_path in PAGES else "/")
    response.set_cookie(
        LANG_COOKIE, chosen, max_age=LANG_COOKIE_AGE_S, httponly=True, samesite="lax", secure=_https(request),
        path="/",
    )  # fmt: skip
    return response


@router.get("/assets/{name}")
def asset(name: Annotated[str, PathParam(max_length=32)]) -> Response:
    found = STATIC.get(name)
    if found is None:
        return _secured(Response(b"not found", status_code=404, media_type="text/plain"))
    media_type, body = found
    response = _secured(Response(body, media_type=media_type))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
