"""Paying, the payment history and the wallet in the portal.

``/pay`` offers three ways to pay: a person (a saved payee or an account or
wallet id), a merchant's QR code, and a public-service bill. Each form carries
a one-time ``nonce`` that becomes the order's idempotency key, so a double
submit never pays twice. The order goes through the same payment orders
service as the API (risk decision, SCA policy, ledger); when it needs a
step-up the result page asks for the passkey (``passkey.js``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from netfin.core.clock import NS_PER_SECOND, iso_from_ns
from netfin.core.errors import InvalidInput, NetfinError
from netfin.core.ids import format_id
from netfin.payments import parse_amount
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderRequest
from netfin.payments.orders.history import HISTORY_TEXT_MAX, HistoryQuery
from netfin.payments.orders.merchant import merchant_qr_request
from netfin.payments.orders.model import OrderStatus, PaymentOrder
from netfin.payments.qr import PAYLOAD_LENGTH_MAX
from netfin.web.common import Visit, audit, redirect, refused, session_csrf_ok, visit_of, visit_page
from netfin.web.i18n import format_money

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=128)]
Nonce = Annotated[str, Form(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
OrderPath = Annotated[str, PathParam(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
SAVED_PAYEES_MAX = 8
_ACCOUNT_ID = re.compile(r"[0-9a-f]{32}")
_WALLET_ID = re.compile(r"w-[0-9a-f]{32}")
_IBAN = re.compile(r"[A-Za-z]{2}[0-9]{2}[A-Za-z0-9]{10,30}")
HISTORY_PAGE = 25


# The form ---------------------------------------------------------------------


def _sources(visit: Visit) -> list[dict[str, str]]:
    """The accounts and wallets the customer may pay from, with what is available in each."""
    bank, lang = visit.bank, visit.lang
    found = [
        {"value": f"account:{b.account.account_id}", "currency": b.account.currency,
         "label": f"{b.account.nickname or b.account.currency} · "
                  f"{format_money(b.available_minor, b.account.currency, lang)}"}
        for b in bank.openbanking.customer_accounts(visit.party_id)
    ]  # fmt: skip
    for wallet in bank.wallets.of_party(visit.party_id):
        balance = bank.wallets.balance(wallet)
        found.append({
            "value": f"wallet:{wallet.wallet_id}", "currency": wallet.currency,
            "label": f"{wallet.nickname or 'Wallet'} · "
                     f"{format_money(balance.balance, wallet.currency, lang)}",
        })  # fmt: skip
    return found


def _saved_payees(visit: Visit) -> list[dict[str, str]]:
    """The people paid most recently (settled orders only), newest first, each once."""
    orders = visit.bank.orders.history(
        visit.party_id, HistoryQuery(statuses=(OrderStatus.SETTLED,), limit=50)
    )
    seen: dict[str, dict[str, str]] = {}
    for order in orders:
        if order.payer_party_id != visit.party_id or order.kind not in (
            OrderKind.ACCOUNT_TO_ACCOUNT, OrderKind.WALLET_TO_WALLET
        ):  # fmt: skip
            continue
        if order.payee.id not in seen:
            seen[order.payee.id] = {"id": order.payee.id, "name": _payee_name(visit, order)}
        if len(seen) >= SAVED_PAYEES_MAX:
            break
    return list(seen.values())


def _pay_page(visit: Visit, status: int = 200, **context: Any) -> Response:
    context.setdefault("error", "")
    context.setdefault("values", {})
    billers = [b for b in visit.bank.orders.billers() if b.active][:50]
    return visit_page(
        visit, "pay.html", "/pay", status, sources=_sources(visit), payees=_saved_payees(visit),
        billers=billers, nonce=secrets.token_urlsafe(24), **context,
    )  # fmt: skip


@router.get("/pay")
def pay_form(request: Request) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    return _pay_page(visit)


# Submitting -------------------------------------------------------------------


def _endpoint(text: str) -> Endpoint:
    kind, _, ident = text.partition(":")
    if kind not in ("account", "wallet") or not ident or len(ident) > 64:
        raise InvalidInput("choose the account to pay from", code="payer_invalid")
    return Endpoint(EndpointKind(kind), ident)


def _payee(visit: Visit, text: str) -> Endpoint:
    """An account id, a wallet id (``w-...``) or the IBAN of an account held here."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned or len(cleaned) > 64:
        raise InvalidInput("name the payee", code="payee_required")
    if _ACCOUNT_ID.fullmatch(cleaned.lower()):
        return Endpoint(EndpointKind.ACCOUNT, cleaned.lower())
    if _WALLET_ID.fullmatch(cleaned.lower()):
        return Endpoint(EndpointKind.WALLET, cleaned.lower())
    if _IBAN.fullmatch(cleaned):
        account = visit.bank.identity.find_account_by_iban(cleaned.upper())
        if account is not None:
            return Endpoint(EndpointKind.ACCOUNT, account.account_id)
    raise InvalidInput("no account or wallet here has that number", code="payee_unknown")


def _currency(visit: Visit, payer: Endpoint) -> str:
    for source in _sources(visit):
        if source["value"] == f"{payer.kind.value}:{payer.id}":
            return source["currency"]
    raise InvalidInput("choose one of your own accounts", code="payer_invalid")


def _order_key(visit: Visit, nonce: str) -> str:
    return "web." + hashlib.sha256(f"{visit.party_id}:{nonce}".encode()).hexdigest()[:48]


def _request(visit: Visit, form: dict[str, str]) -> OrderRequest:
    payer = _endpoint(form["payer"])
    currency = _currency(visit, payer)
    mode, amount_text, reference = form["mode"], form["amount"].strip(), form["reference"].strip()
    if mode == "qr":
        return merchant_qr_request(
            payer, form["qr_payload"].strip(), amount_text=amount_text or None, reference=reference
        )
    if mode == "bill":
        kind, payee = OrderKind.BILL, Endpoint(EndpointKind.BILLER, form["biller"])
    else:
        payee = _payee(visit, form["payee"])
        both_wallets = payer.kind is EndpointKind.WALLET and payee.kind is EndpointKind.WALLET
        kind = OrderKind.WALLET_TO_WALLET if both_wallets else OrderKind.ACCOUNT_TO_ACCOUNT
    return OrderRequest(
        kind, payer, payee, parse_amount(amount_text, currency), currency, reference=reference,
        payee_reference=form["payee_reference"].strip() if mode == "bill" else "",
    )  # fmt: skip


@router.post("/pay")
def pay(
    request: Request,
    nonce: Nonce,
    csrf: Csrf = "",
    mode: Annotated[str, Form(pattern=r"^(person|qr|bill)$")] = "person",
    payer: Annotated[str, Form(max_length=80)] = "",
    payee: Annotated[str, Form(max_length=80)] = "",
    amount: Annotated[str, Form(max_length=24)] = "",
    reference: Annotated[str, Form(max_length=140)] = "",
    qr_payload: Annotated[str, Form(max_length=PAYLOAD_LENGTH_MAX)] = "",
    biller: Annotated[str, Form(max_length=64)] = "",
    payee_reference: Annotated[str, Form(max_length=35)] = "",
) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    if not session_csrf_ok(request, csrf):
        return refused(visit)
    form = {"mode": mode, "payer": payer, "payee": payee, "amount": amount, "reference": reference,
            "qr_payload": qr_payload, "biller": biller, "payee_reference": payee_reference}  # fmt: skip
    try:
        order = visit.bank.order_gateway.submit(
            visit.actor(), visit.party_id, _request(visit, form), idempotency_key=_order_key(visit, nonce)
        )
    except NetfinError as error:
        audit(request, "payment_order.submit", format_id(visit.party_id), error, ("payment_order", ""))
        return _pay_page(visit, 422, error=error.code, values=form)
    audit(request, "payment_order.submit", format_id(visit.party_id), None, ("payment_order", order.order_id))
    return redirect(f"/pay/{order.order_id}")


# The result -------------------------------------------------------------------


def masked_name(name: str) -> str:
    """A payee's name as a payer may see it (confirmation of payee): 王小明 → 王*明, Bob Li → B** Li."""
    words = name.split()
    if len(words) > 1:
        return " ".join([words[0][0] + "*" * (len(words[0]) - 1), *words[1:]])
    if len(name) <= 1:
        return name
    return name[0] + "*" * max(1, len(name) - 2) + (name[-1] if len(name) > 2 else "")


def _payee_name(visit: Visit, order: PaymentOrder) -> str:
    if order.payee_name:
        return order.payee_name
    try:
        if order.payee.kind is EndpointKind.ACCOUNT:
            party_id = visit.bank.identity.get_account(order.payee.id).party_id
        elif order.payee.kind is EndpointKind.WALLET:
            return visit.bank.wallets.get(order.payee.id).pseudonym[:12]
        else:
            return order.payee.id
        return masked_name(visit.bank.identity.get_party(party_id).display_name)
    except NetfinError:
        return order.payee.id


def _payer_name(visit: Visit, order: PaymentOrder) -> str:
    try:
        return masked_name(visit.bank.identity.get_party(order.payer_party_id).display_name)
    except NetfinError:
        return ""


def _order_view(visit: Visit, order: PaymentOrder) -> dict[str, Any]:
    outgoing = order.payer_party_id == visit.party_id
    return {
        "order_id": order.order_id, "status": order.status.value, "kind": order.kind.value,
        "amount": format_money(order.amount_minor, order.currency, visit.lang), "outgoing": outgoing,
        "payee": _payee_name(visit, order) if outgoing else _payer_name(visit, order),
        "reference": order.reference,
        "reason": order.status_reason or "", "at": iso_from_ns(order.created_ns)[:16].replace("T", " "),
        "needs_passkey": outgoing and order.status is OrderStatus.STEP_UP,
    }  # fmt: skip


@router.get("/pay/{order_id}")
def pay_result(request: Request, order_id: OrderPath) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    try:
        order = visit.bank.orders.get_for_party(visit.party_id, order_id)
    except NetfinError:
        return visit_page(visit, "refused.html", "/pay", status=404)
    return visit_page(visit, "pay_result.html", "/pay", order=_order_view(visit, order))


# History ----------------------------------------------------------------------


def _day_ns(text: str, *, end: bool) -> int | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("dates are YYYY-MM-DD", code="date_invalid") from None
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + (timedelta(days=1) if end else timedelta())
    return int(moment.timestamp()) * NS_PER_SECOND


def _cursor(text: str) -> tuple[int, str] | None:
    created, _, order_id = text.partition("_")
    if not text:
        return None
    if not created.isdigit() or len(created) > 20 or not order_id or len(order_id) > 40:
        raise InvalidInput("the page link is not valid", code="cursor_invalid")
    return int(created), order_id


@router.get("/history")
def history(
    request: Request,
    q: Annotated[str, Query(max_length=HISTORY_TEXT_MAX)] = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    before: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    values = {"q": q, "from": since, "to": until}
    try:
        query = HistoryQuery(text=q, since_ns=_day_ns(since, end=False), until_ns=_day_ns(until, end=True),
                             before=_cursor(before), limit=HISTORY_PAGE + 1)  # fmt: skip
        orders = visit.bank.orders.history(visit.party_id, query)
    except NetfinError as error:
        return visit_page(visit, "history.html", "/history", 422, rows=[], values=values, error=error.code,
                          next_cursor="")  # fmt: skip
    more = len(orders) > HISTORY_PAGE
    shown = orders[:HISTORY_PAGE]
    next_cursor = f"{shown[-1].created_ns}_{shown[-1].order_id}" if more and shown else ""
    return visit_page(
        visit, "history.html", "/history", rows=[_order_view(visit, o) for o in shown], values=values,
        error="", next_cursor=next_cursor,
    )  # fmt: skip
