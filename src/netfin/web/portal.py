"""The customer portal at ``/``: sign-in, accounts, loans, consents, elder mode and language.

Every page is rendered on the server and works without JavaScript (passkeys, which
need the browser's WebAuthn, are the exception and say so). Sessions, CSRF and
rendering are in :mod:`netfin.web.common`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from netfin.core.clock import iso_from_ns, utc_date
from netfin.core.errors import NetfinError
from netfin.core.ids import format_id, parse_id
from netfin.credit.loans import Loan
from netfin.identity.consents.model import ConsentStatus
from netfin.identity.model import STAFF_ROLES, Role
from netfin.openbanking.service import Balance as AccountBalance
from netfin.payments.orders.history import HistoryQuery
from netfin.payments.orders.model import OrderStatus
from netfin.web.charts import bar_chart, line_chart
from netfin.web.common import (
    LANG_COOKIE,
    LANG_COOKIE_AGE_S,
    STATIC,
    Visit,
    actor_kind,
    anonymous_refusal,
    audit,
    bank_of,
    csrf_token,
    end_session,
    https,
    language,
    new_presession,
    page,
    presession_csrf,
    presession_of,
    redirect,
    refused,
    secured,
    session_csrf_ok,
    set_presession,
    start_session,
    visit_of,
    visit_page,
)  # fmt: skip
from netfin.web.i18n import format_money, translator
from netfin.web.insights import ORDERS_SCANNED, balance_series, spending_by_category
from netfin.web.store import LANGUAGES, Preferences, PreferenceStore

CONSOLE_PAGE = re.compile(r"^/console(/[a-z]{1,16})?$")
CHART_WIDTH = 400  # CSS px: drawn at the phone's width, so its 14 px text stays 14 px
PAGES = ("/home", "/loans", "/consents", "/pay", "/history", "/wallet")
STAFF = frozenset(role.value for role in STAFF_ROLES)

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=128)]


# Signing in and out ---------------------------------------------------------------


def _sign_in_page(request: Request, presession: str, status: int = 200, error: str = "") -> Response:
    response = page(
        "sign_in.html", lang=language(request), elder=False, csrf=csrf_token(presession), status=status,
        error=error,
    )  # fmt: skip
    set_presession(request, response, presession)
    return response


def landing(roles: frozenset[str] | list[str]) -> str:
    """Where a party lands after signing in: customers at home, staff in the console."""
    return "/home" if Role.CUSTOMER.value in roles else "/console"


@router.get("/")
def sign_in_form(request: Request) -> Response:
    visit = visit_of(request, {Role.CUSTOMER.value, *STAFF})
    if visit is not None:
        return redirect(landing(visit.roles))
    return _sign_in_page(request, presession_of(request))


@router.post("/sign-in")
def sign_in(
    request: Request,
    csrf: CsrfField = "",
    party_id: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    refusal = anonymous_refusal(request)
    if refusal is not None:
        return refusal
    presession = presession_csrf(request, csrf)
    if presession is None:
        return _sign_in_page(request, new_presession(), 403, "form_expired")
    bank = bank_of(request)
    try:
        party_number = parse_id(party_id.strip())
    except ValueError:
        return _sign_in_page(request, presession, 401, "sign_in_failed")
    try:
        bank.credentials.verify_password(party_number, password)
        party = bank.identity.get_party(party_number)
    except NetfinError as error:
        audit(request, "web.password.login", format_id(party_number), error)
        return _sign_in_page(request, presession, 401, "sign_in_failed")
    roles = sorted(r.value for r in party.roles)
    if not {Role.CUSTOMER.value, *STAFF} & set(roles):
        return _sign_in_page(request, presession, 401, "sign_in_failed")
    audit(request, "web.password.login", format_id(party.party_id), None, actor_kind=actor_kind(roles))
    response = redirect(landing(roles))
    start_session(request, response, party.party_id, roles, ["pwd"])
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: CsrfField = "") -> Response:
    visit = visit_of(request, {Role.CUSTOMER.value, *STAFF})
    if visit is not None and not session_csrf_ok(request, csrf):
        return refused(visit)
    response = redirect("/")
    end_session(request, response)
    return response


# Pages --------------------------------------------------------------------------


@router.get("/home")
def home(request: Request) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
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
    return visit_page(
        visit, "home.html", "/home", accounts=accounts, customer_number=format_id(visit.party_id),
        **_charts(visit, balances[0] if balances else None),
    )  # fmt: skip


def _charts(visit: Visit, first: AccountBalance | None) -> dict[str, Any]:
    """The spending-by-category and balance-over-time charts of the first account's currency."""
    if first is None:
        return {"spending_chart": "", "balance_chart": "", "spending_title": "", "balance_title": ""}
    bank, lang, currency = visit.bank, visit.lang, first.account.currency
    _ = translator(lang)
    orders = bank.orders.history(visit.party_id, HistoryQuery(statuses=(OrderStatus.SETTLED,),
                                                              limit=ORDERS_SCANNED))  # fmt: skip
    categories = {b.biller_id: b.category for b in bank.orders.billers()}
    spent = spending_by_category(orders, visit.party_id, currency, categories)
    spending_title, balance_title = _("Spending by category"), _("Balance over the last 30 days")
    spending = bar_chart(
        spending_title, [_(k) for k in spent], list(spent.values()),
        value_text=[format_money(v, currency, lang) for v in spent.values()], width=CHART_WIDTH,
    ) if spent else ""  # fmt: skip
    series = balance_series(
        bank.ledger, first.account.ledger_account_id, first.booked_minor, utc_date(bank.clock.now_ns())
    )
    balance = line_chart(
        balance_title, [d.isoformat()[5:] for d in series.days], list(series.balances_minor),
        value_text=[format_money(v, currency, lang) for v in series.balances_minor], width=CHART_WIDTH,
    )  # fmt: skip
    return {"spending_chart": spending, "balance_chart": balance, "spending_title": spending_title,
            "balance_title": balance_title}  # fmt: skip


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
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    elder = visit.preferences.elder_mode
    views = [_loan_view(loan, visit.lang, elder) for loan in visit.bank.loans.loans_of(visit.party_id)]
    return visit_page(visit, "loans.html", "/loans", loans=views)


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
    return visit_page(visit, "consents.html", "/consents", status, consents=consents, error=error)


@router.get("/consents")
def consents(request: Request) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    return _consents_page(visit)


@router.post("/consents/{consent_id}/revoke")
def revoke_consent(
    request: Request, consent_id: Annotated[str, PathParam(max_length=128)], csrf: CsrfField = ""
) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    if not session_csrf_ok(request, csrf):
        return refused(visit)
    try:
        visit.bank.consents.revoke(visit.actor(), consent_id, party_id=visit.party_id)
    except NetfinError as error:
        audit(request, "consent.revoke", format_id(visit.party_id), error, ("consent", consent_id))
        return _consents_page(visit, 409, "revoke_failed")
    return redirect("/consents")


# Settings -----------------------------------------------------------------------


@router.post("/settings/elder")
def toggle_elder(
    request: Request, csrf: CsrfField = "", next_path: Annotated[str, Form(alias="next", max_length=32)] = ""
) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    if not session_csrf_ok(request, csrf):
        return refused(visit)
    turned = Preferences(not visit.preferences.elder_mode, visit.preferences.lang)
    PreferenceStore(visit.bank.engine).put(visit.party_id, turned, visit.bank.clock.now_ns())
    return redirect(next_path if next_path in PAGES else "/home")


@router.get("/lang/{lang}")
def switch_language(
    request: Request,
    lang: Annotated[str, PathParam(max_length=8)],
    next_path: Annotated[str, Query(alias="next", max_length=32)] = "/",
) -> Response:
    chosen = lang if lang in LANGUAGES else LANGUAGES[0]
    response = redirect(next_path if next_path in PAGES or CONSOLE_PAGE.match(next_path) else "/")
    response.set_cookie(
        LANG_COOKIE, chosen, max_age=LANG_COOKIE_AGE_S, httponly=True, samesite="lax", secure=https(request),
        path="/",
    )  # fmt: skip
    return response


@router.get("/assets/{name}")
def asset(name: Annotated[str, PathParam(max_length=32)]) -> Response:
    found = STATIC.get(name)
    if found is None:
        return secured(Response(b"not found", status_code=404, media_type="text/plain"))
    media_type, body = found
    response = secured(Response(body, media_type=media_type))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
