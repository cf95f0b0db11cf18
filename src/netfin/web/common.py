"""What every page of the portal and the console shares: sessions, CSRF, rendering, assets.

The session token lives in an HttpOnly, SameSite=Strict cookie; every form (and every
script call, in the ``X-CSRF-Token`` header) carries a CSRF token derived from the
secret it is bound to (the session token, or before sign-in a random pre-session
cookie) and checked with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from netfin.core.errors import NetfinError
from netfin.core.ids import format_id
from netfin.identity.model import Actor, Role
from netfin.ratelimit import RateLimited
from netfin.web.i18n import pick_language, translator
from netfin.web.store import LANGUAGES, Preferences, PreferenceStore, SignedOutSessions

if TYPE_CHECKING:
    from netfin.bank import Bank

SESSION_COOKIE = "netfin_session"
PRESESSION_COOKIE = "netfin_presession"
LANG_COOKIE = "lang"
LANG_COOKIE_AGE_S = 365 * 86_400
TOKEN_LENGTH_MAX = 4096
CSRF_CONTEXT = b"netfin.web.csrf"
CSRF_HEADER = "x-csrf-token"
# X-Content-Type-Options and Cache-Control: no-store come from the API's guards on every response.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
}
_HERE = Path(__file__).parent
TEMPLATES = Environment(
    loader=FileSystemLoader(_HERE / "templates"), autoescape=True, undefined=StrictUndefined
)
_MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
STATIC: dict[str, tuple[str, bytes]] = {
    path.name: (_MEDIA[path.suffix], path.read_bytes())
    for path in sorted((_HERE / "static").rglob("*"))
    if path.suffix in _MEDIA
}
CUSTOMER_ROLES = frozenset({Role.CUSTOMER.value})


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in request: who, with which roles, in which language and mode, and their form token."""

    bank: Bank
    party_id: int
    roles: frozenset[str]
    lang: str
    preferences: Preferences
    csrf: str
    interaction_id: str | None
    amr: tuple[str, ...] = ()

    def actor(self, kind: str = "customer") -> Actor:
        return Actor(kind, format_id(self.party_id), None, self.interaction_id)


def bank_of(request: Request) -> Bank:
    return cast("Bank", request.app.state.bank)


def interaction_id(request: Request) -> str | None:
    return cast("str | None", getattr(request.state, "interaction_id", None))


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_matches(secret: str | None, submitted: str) -> bool:
    if not secret:
        return False
    return hmac.compare_digest(csrf_token(secret).encode(), submitted.encode("utf-8", "replace"))


def session_csrf_ok(request: Request, submitted: str | None = None) -> bool:
    """The form's (or, for scripts, the header's) token matches the session it was issued for."""
    token = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    return csrf_matches(request.cookies.get(SESSION_COOKIE), token[:128])


def presession_csrf(request: Request, submitted: str | None = None) -> str | None:
    """Before sign-in: the pre-session secret when the form's (or, for scripts, the header's)
    token matches it, else None."""
    token = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    presession = request.cookies.get(PRESESSION_COOKIE)
    return presession if presession is not None and csrf_matches(presession, token[:128]) else None


def language(request: Request, preferred: str | None = None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    return pick_language(cookie if cookie in LANGUAGES else preferred, request.headers.get("accept-language"))


def visit_of(request: Request, roles: Iterable[str] = CUSTOMER_ROLES) -> Visit | None:
    """The signed-in party, when its session is valid and holds one of ``roles``."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > TOKEN_LENGTH_MAX:
        return None
    bank = bank_of(request)
    try:
        claims = bank.oauth.verify_session(token)
    except NetfinError:
        return None
    held = frozenset(claims.roles)
    if not held & frozenset(roles) or SignedOutSessions(bank.engine).contains(claims.jti):
        return None
    preferences = PreferenceStore(bank.engine).get(claims.party_id)
    return Visit(
        bank, claims.party_id, held, language(request, preferences.lang), preferences, csrf_token(token),
        interaction_id(request), tuple(claims.amr),
    )  # fmt: skip


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(url: str) -> Response:
    return secured(RedirectResponse(url, status_code=303))


def json_reply(status: int, body: dict[str, Any]) -> Response:
    return secured(JSONResponse(body, status_code=status))


def page(
    template: str, *, lang: str, elder: bool, csrf: str, status: int = 200, path: str = "/", **context: Any
) -> Response:
    context.setdefault("signed_in", False)
    context.setdefault("area", "portal")
    html = TEMPLATES.get_template(template).render(
        _=translator(lang), lang=lang, elder=elder, csrf=csrf, path=path, **context
    )
    return secured(HTMLResponse(html, status_code=status))


def visit_page(visit: Visit, template: str, path: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("signed_in", True)
    return page(
        template, lang=visit.lang, elder=visit.preferences.elder_mode, csrf=visit.csrf, status=status,
        path=path, **context,
    )  # fmt: skip


def refused(visit: Visit) -> Response:
    return visit_page(visit, "refused.html", "/home", status=403)


def audit(
    request: Request,
    action: str,
    actor_id: str,
    error: NetfinError | None,
    subject: tuple[str, str] = ("", ""),
    actor_kind: str = "customer",
) -> None:
    bank_of(request).audit.record(
        actor_kind=actor_kind if actor_id else "anonymous", actor_id=actor_id, action=action,
        outcome="refused" if error is not None else "succeeded", subject_kind=subject[0],
        subject_id=subject[1][:128], interaction_id=interaction_id(request),
        reason=error.code if error is not None else None,
    )  # fmt: skip


# The audit log names a member of staff by the first of these roles they hold.
_STAFF_AUDIT_KINDS = ("operator", "compliance", "risk_analyst", "auditor", "regulator")


def actor_kind(roles: Iterable[str]) -> str:
    """The audit log's actor kind for a party with ``roles`` (customers first)."""
    held = set(roles)
    if Role.CUSTOMER.value in held:
        return "customer"
    return next((kind for kind in _STAFF_AUDIT_KINDS if kind in held), "anonymous")


def anonymous_refusal(request: Request) -> Response | None:
    """A 429 page when this client address has opened accounts or tried to sign in too often."""
    address = request.client.host if request.client is not None else "unknown"
    try:
        bank_of(request).rate_limiter.enforce("anonymous", address[:64])
    except RateLimited as error:
        audit(request, "web.rate_limit", "", error, ("client", address[:64]))
        html = TEMPLATES.get_template("refused.html").render(
            _=translator(language(request)), lang=language(request), elder=False, csrf="", path="/",
            signed_in=False, area="portal", rate_limited=True,
        )  # fmt: skip
        response = secured(HTMLResponse(html, status_code=429))
        response.headers["Retry-After"] = str(error.decision.retry_after_s)
        return response
    return None


def https(request: Request) -> bool:
    return request.url.scheme == "https"


def new_presession() -> str:
    return secrets.token_urlsafe(32)


def presession_of(request: Request) -> str:
    """The visitor's pre-session secret (a new one when absent or malformed)."""
    found = request.cookies.get(PRESESSION_COOKIE) or ""
    return found if 32 <= len(found) <= 64 else new_presession()


def set_presession(request: Request, response: Response, presession: str) -> None:
    response.set_cookie(
        PRESESSION_COOKIE, presession, httponly=True, samesite="strict", secure=https(request), path="/"
    )


def start_session(
    request: Request, response: Response, party_id: int, roles: list[str], amr: list[str]
) -> None:
    """Issue a session for a party that has just authenticated, in the cookie."""
    bank = bank_of(request)
    session = bank.oauth.issue_session(
        party_id=party_id, roles=roles, amr=amr, auth_time_ns=bank.clock.now_ns()
    )
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=session.expires_in, httponly=True, samesite="strict",
        secure=https(request), path="/",
    )  # fmt: skip
    response.delete_cookie(PRESESSION_COOKIE, path="/")


def end_session(request: Request, response: Response) -> None:
    """Sign out: the cookie goes, and the token is refused from now on even if it was copied."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) <= TOKEN_LENGTH_MAX:
        bank = bank_of(request)
        try:
            claims = bank.oauth.verify_session(token)
        except NetfinError:
            claims = None
        if claims is not None:
            SignedOutSessions(bank.engine).add(claims.jti, claims.expires_ns, bank.clock.now_ns())
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=https(request))
