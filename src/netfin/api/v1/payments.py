"""``/v1`` payments: wallets, payment orders with passkey step-up, refunds, bills, device
mandates, FX quotes, and the staff and regulator tools around them.

Three routers, because three kinds of caller use them:

- ``router``: signed-in customers. Every read and change of a wallet, order or
  mandate checks that it is the caller's own; someone else's is answered
  exactly as one that does not exist (404), so ids cannot be probed.
- ``device_router``: ``POST /v1/mandates/{id}/payments``, authenticated only by
  the device's Ed25519 signature and its counter in the body (no session).
- ``staff_router``: operators register billers and change or freeze wallets;
  a regulator, with a reason, learns who holds a pseudonymous wallet.

Every POST takes an ``Idempotency-Key``; every refusal of an id-bearing
request is written to the audit log before the problem document goes out.

A merchant-presented EMV QR code names a netfin payee with a merchant
account template (IDs 26-51) whose globally unique identifier is
``NETFIN_QR_GUID`` and whose sub-ID ``01`` is the payee's account id or
wallet id (``w-...``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from netfin.api import deps
from netfin.api.deps import BankDep, Customer, Principal, Staff
from netfin.api.v1 import render
from netfin.api.v1.payment_schemas import (
    BillerIn,
    BillerOut,
    BillersOut,
    ConfirmationIn,
    DevicePaymentIn,
    EndpointIn,
    MandateIn,
    MandateOut,
    MandatesOut,
    OrderIn,
    OrderOut,
    PseudonymLookupIn,
    PseudonymLookupOut,
    QuoteOut,
    RefundIn,
    SubWalletIn,
    WalletClassIn,
    WalletIn,
    WalletOut,
    WalletsOut,
    WalletStatusIn,
)
from netfin.core.clock import NS_PER_SECOND, iso_from_ns
from netfin.core.errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NetfinError,
    Unauthenticated,
)
from netfin.core.ids import format_id
from netfin.identity.model import Actor, Role
from netfin.payments import parse_amount
from netfin.payments.fx import FxDesk, Quote, load_ecb_rates, load_packaged_profile
from netfin.payments.mandates import (
    DevicePaymentRequest,
    Mandate,
    MandateTerms,
    PeriodicLimit,
    PeriodUsage,
)
from netfin.payments.orders import (
    Biller,
    Endpoint,
    EndpointKind,
    OrderEvent,
    OrderKind,
    OrderRequest,
    PaymentOrder,
)
from netfin.payments.orders.merchant import NETFIN_QR_GUID, merchant_qr_request
from netfin.payments.wallets import Wallet, WalletBalance, WalletStatus
from netfin.payments.wallets.model import UNLIMITED
from netfin.storage.idempotency import StoredResponse, fingerprint

router = APIRouter(prefix="/v1", tags=["payments"])
device_router = APIRouter(prefix="/v1", tags=["devices"])
staff_router = APIRouter(prefix="/v1", tags=["operators"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=40)]
WalletPath = Annotated[str, PathParam(min_length=1, max_length=40)]
OrderPath = Annotated[str, PathParam(min_length=1, max_length=64)]
MandatePath = Annotated[str, PathParam(min_length=1, max_length=40)]
Regulator = Annotated[Principal, Depends(deps.session(Role.REGULATOR))]
WalletStaff = Annotated[Principal, Depends(deps.session(Role.OPERATOR, Role.COMPLIANCE))]
Quoter = Annotated[Principal, Depends(deps.session(Role.CUSTOMER, Role.OPERATOR))]

FX_RATES_VARIABLE = "NETFIN_FX_RATES"
FX_RATES_DEFAULT = "../shared/data/fx/eurofxref-hist.csv"
MANDATES_PAGE_MAX = 100
DEVICE_PUBLIC_KEY_BYTES = 32
DEVICE_SIGNATURE_BYTES = 64

_ORDER_KINDS = {
    "a2a": OrderKind.ACCOUNT_TO_ACCOUNT,
    "w2w": OrderKind.WALLET_TO_WALLET,
    "merchant_qr": OrderKind.MERCHANT_QR,
    "bill": OrderKind.BILL,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_fx_lock = threading.Lock()
T = TypeVar("T")


# Shared steps ------------------------------------------------------------------


def _actor(principal: Principal, kind: str | None = None) -> Actor:
    return Actor(kind or principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def _scope(principal: Principal, staff: bool = False) -> str:
    return ("staff:" if staff else "party:") + format_id(principal.party_id)


def _idempotent(
    request: Request, bank: BankDep, scope: str, key: str | None, payload: object,
    run: Callable[[], StoredResponse],
) -> Response:  # fmt: skip
    print_ = fingerprint(request.method, request.url.path, payload)
    return render.stored(bank.idempotency.run(scope, key, print_, run))


def _audited(
    request: Request, bank: BankDep, actor: Actor, action: str, subject: tuple[str, str], run: Callable[[], T]
) -> T:
    """Run one operation on an id; a refusal (often a probe of someone else's id) is audited."""
    try:
        return run()
    except NetfinError as error:
        _audit_refusal(request, bank, actor, action, subject, error.code)
        raise


def _audit_refusal(
    request: Request, bank: BankDep, actor: Actor, action: str, subject: tuple[str, str], code: str
) -> None:
    bank.audit.record(
        actor_kind=actor.kind, actor_id=actor.id, action=action, outcome="refused",
        subject_kind=subject[0], subject_id=subject[1][:128], interaction_id=deps.interaction_id(request),
        reason=code,
    )  # fmt: skip


def _order_key(key: str | None) -> str:
    """The order's own idempotency key: derived from the caller's, or fresh when none was sent."""
    if key is None:
        return "api." + uuid.uuid4().hex
    return "api." + hashlib.sha256(key.encode()).hexdigest()[:48]


def _endpoint(endpoint: EndpointIn) -> Endpoint:
    return Endpoint(EndpointKind(endpoint.kind), endpoint.id)


def _ns_of(moment: datetime) -> int:
    elapsed = moment - _EPOCH
    return (elapsed.days * 86_400 + elapsed.seconds) * NS_PER_SECOND + elapsed.microseconds * 1_000


def _b64url(text: str, what: str, size: int, error: Callable[[str], NetfinError]) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise error(f"{what} is not base64url") from None
    if len(raw) != size:
        raise error(f"{what} is {size} bytes")
    return raw


# Rendering -----------------------------------------------------------------------


def _money_or_none(minor: int, currency: str) -> dict[str, str] | None:
    return None if minor >= UNLIMITED else render.money(minor, currency)


def wallet_json(wallet: Wallet, balance: WalletBalance | None = None) -> dict[str, Any]:
    c = wallet.currency
    body: dict[str, Any] = {
        "wallet_id": wallet.wallet_id, "parent_wallet_id": wallet.parent_wallet_id,
        "class_no": wallet.class_no, "currency": c, "pseudonym": wallet.pseudonym,
        "anonymous": wallet.anonymous, "nickname": wallet.nickname, "status": wallet.status.value,
        "profile": wallet.profile, "profile_version": wallet.profile_version,
        "limits": {
            "per_payment": _money_or_none(wallet.per_payment_limit, c),
            "balance": _money_or_none(wallet.balance_limit, c),
            "daily": _money_or_none(wallet.daily_limit, c),
            "annual": _money_or_none(wallet.annual_limit, c),
        },
        "created_at": iso_from_ns(wallet.created_ns),
    }  # fmt: skip
    if balance is not None:
        body["balance"] = render.money(balance.balance, c)
        body["remaining"] = {
            "balance": _money_or_none(balance.balance_room, c),
            "daily": _money_or_none(balance.daily_room, c),
            "annual": _money_or_none(balance.annual_room, c),
        }
    return body


def order_json(order: PaymentOrder, events: list[OrderEvent] | None = None) -> dict[str, Any]:
    c = order.currency
    body: dict[str, Any] = {
        "order_id": order.order_id, "kind": order.kind.value, "status": order.status.value,
        "status_reason": order.status_reason,
        "payer": {"kind": order.payer.kind.value, "id": order.payer.id},
        "payee": {"kind": order.payee.kind.value, "id": order.payee.id},
        "amount": render.money(order.amount_minor, c), "refunded": render.money(order.refunded_minor, c),
        "reference": order.reference, "payee_reference": order.payee_reference,
        "original_order_id": order.original_order_id, "sca_required": order.sca_required,
        "sca_reasons": list(order.sca_reasons), "created_at": iso_from_ns(order.created_ns),
        "updated_at": iso_from_ns(order.updated_ns), "expires_at": iso_from_ns(order.expires_ns),
    }  # fmt: skip
    if events is not None:
        body["events"] = [
            {"seq": e.seq, "from_status": None if e.from_status is None else e.from_status.value,
             "to_status": e.to_status.value, "actor": e.actor, "reason": e.reason, "at": iso_from_ns(e.at_ns)}
            for e in events
        ]  # fmt: skip
    return body


def mandate_json(mandate: Mandate, usage: list[PeriodUsage] | None = None) -> dict[str, Any]:
    c = mandate.currency
    body: dict[str, Any] = {
        "mandate_id": mandate.mandate_id, "status": mandate.status.value,
        "payer": {"kind": mandate.payer.kind.value, "id": mandate.payer.id},
        "payee": {"kind": mandate.payee.kind.value, "id": mandate.payee.id},
        "currency": c, "max_individual_amount": render.money(mandate.max_individual_minor, c),
        "periodic_limits": [
            {"period_type": x.period_type.value, "period_alignment": x.period_alignment.value,
             "amount": render.money(x.amount_minor, c)}
            for x in mandate.periodic_limits
        ],
        "valid_from": iso_from_ns(mandate.valid_from_ns), "valid_to": iso_from_ns(mandate.valid_to_ns),
        "device_id": mandate.device_id, "last_counter": mandate.last_counter,
        "created_at": iso_from_ns(mandate.created_ns),
    }  # fmt: skip
    if usage is not None:
        body["usage"] = [
            {"period_type": u.limit.period_type.value, "period_alignment": u.limit.period_alignment.value,
             "period_start": iso_from_ns(u.period.start_ns), "period_end": iso_from_ns(u.period.end_ns),
             "used": render.money(u.used_minor, c), "remaining": render.money(u.remaining_minor, c)}
            for u in usage
        ]  # fmt: skip
    return body


def biller_json(biller: Biller) -> dict[str, Any]:
    return {
        "biller_id": biller.biller_id, "name": biller.name, "category": biller.category,
        "reference_pattern": biller.reference_pattern, "active": biller.active,
    }  # fmt: skip


def quote_json(quote: Quote) -> dict[str, Any]:
    legs = [
        {"source": render.money(leg.source_amount_minor, leg.source_currency),
         "target": render.money(leg.target_amount_minor, leg.target_currency),
         "mid_rate": str(leg.mid_rate), "spread_bps": str(leg.spread_bps),
         "effective_rate": str(leg.effective_rate), "fee": render.money(leg.fee_minor, leg.source_currency)}
        for leg in quote.legs
    ]  # fmt: skip
    return {
        "quote_id": format_id(quote.quote_id),
        "source": render.money(quote.source_amount_minor, quote.source_currency),
        "target": render.money(quote.target_amount_minor, quote.target_currency),
        "route": list(quote.route), "legs": legs, "rates_date": quote.rates_date.isoformat(),
        "created_at": iso_from_ns(quote.created_ns), "expires_at": iso_from_ns(quote.expires_ns),
    }  # fmt: skip


# Wallets -----------------------------------------------------------------------


@router.get("/wallets", response_model=WalletsOut)
def list_wallets(principal: Customer, bank: BankDep) -> Response:
    wallets = bank.wallets.of_party(principal.party_id)
    return render.json_response(200, {"wallets": [wallet_json(w) for w in wallets]})


@router.post("/wallets", status_code=201, response_model=WalletOut)
def open_wallet(
    request: Request, body: WalletIn, principal: Customer, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    """A root wallet of ``class_no`` (default: the strongest class the caller's KYC allows)."""

    def run() -> StoredResponse:
        wallet = bank.wallets.open(
            _actor(principal), principal.party_id, class_no=body.class_no, nickname=body.nickname
        )
        return render.stored_json(201, wallet_json(wallet, bank.wallets.balance(wallet)))

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.post("/wallets/{wallet_id}/sub-wallets", status_code=201, response_model=WalletOut)
def open_sub_wallet(
    request: Request, wallet_id: WalletPath, body: SubWalletIn, principal: Customer, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """A sub-wallet: its own balance under its parent's limits."""

    def open_() -> Wallet:
        parent = bank.wallets.get_for_party(principal.party_id, wallet_id)
        return bank.wallets.open_sub_wallet(_actor(principal), parent.wallet_id, nickname=body.nickname)  # type: ignore[no-any-return]

    def run() -> StoredResponse:
        actor = _actor(principal)
        wallet = _audited(request, bank, actor, "wallet.open_sub", ("wallet", wallet_id), open_)
        return render.stored_json(201, wallet_json(wallet, bank.wallets.balance(wallet)))

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.get("/wallets/{wallet_id}", response_model=WalletOut)
def get_wallet(request: Request, wallet_id: WalletPath, principal: Customer, bank: BankDep) -> Response:
    """The wallet, its balance and what each limit still allows."""
    wallet = _audited(
        request, bank, _actor(principal), "wallet.read", ("wallet", wallet_id),
        lambda: bank.wallets.get_for_party(principal.party_id, wallet_id),
    )  # fmt: skip
    return render.json_response(200, wallet_json(wallet, bank.wallets.balance(wallet)))


# Payment orders ------------------------------------------------------------------


def _qr_request(body: OrderIn) -> OrderRequest:
    """A merchant QR payment: the payee and currency (and the amount, where fixed) come from the code."""
    if body.qr_payload is None:
        raise InvalidInput("a merchant QR payment carries qr_payload", code="qr_payload_required")
    if body.payee is not None:
        raise InvalidInput("a merchant QR payment takes its payee from the code", code="payee_unexpected")
    return merchant_qr_request(
        _endpoint(body.payer), body.qr_payload, amount_text=body.amount, currency=body.currency,
        reference=body.reference,
    )  # fmt: skip


def order_request(body: OrderIn) -> OrderRequest:
    """The service's request for one order body (the service checks the rest)."""
    if body.kind == "merchant_qr":
        return _qr_request(body)
    if body.qr_payload is not None:
        raise InvalidInput("only merchant_qr payments carry qr_payload", code="qr_payload_unexpected")
    if body.payee is None:
        raise InvalidInput("the payment names its payee", code="payee_required")
    if body.amount is None or body.currency is None:
        raise InvalidInput("the payment carries an amount and a currency", code="amount_required")
    return OrderRequest(
        _ORDER_KINDS[body.kind], _endpoint(body.payer), _endpoint(body.payee),
        parse_amount(body.amount, body.currency), body.currency, reference=body.reference,
        payee_reference=body.payee_reference,
    )  # fmt: skip


@router.post("/payment-orders", status_code=201, response_model=OrderOut)
def submit_order(
    request: Request, body: OrderIn, principal: Customer, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    """Pay from one of the caller's accounts or wallets.

    The order comes back ``settled``, ``rejected`` (with the reason), or
    ``step_up``: then a passkey confirmation is needed (``confirmation-options``,
    then ``confirmation``).
    """

    def submit() -> PaymentOrder:
        return bank.order_gateway.submit(  # type: ignore[no-any-return]
            _actor(principal), principal.party_id, order_request(body), idempotency_key=_order_key(key)
        )

    def run() -> StoredResponse:
        order = _audited(
            request, bank, _actor(principal), "payment_order.submit", ("payment_order", ""), submit
        )
        return render.stored_json(201, order_json(order), f"/v1/payment-orders/{order.order_id}")

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.get("/payment-orders/{order_id}", response_model=OrderOut)
def get_order(request: Request, order_id: OrderPath, principal: Customer, bank: BankDep) -> Response:
    """An order the caller paid or received, with its transitions."""
    order = _audited(
        request, bank, _actor(principal), "payment_order.read", ("payment_order", order_id),
        lambda: bank.orders.get_for_party(principal.party_id, order_id),
    )  # fmt: skip
    return render.json_response(200, order_json(order, bank.orders.events(order.order_id)))


def _payer_order(bank: BankDep, principal: Principal, order_id: str) -> PaymentOrder:
    """An order the caller paid; the payee may read it but never confirm it."""
    order: PaymentOrder = bank.orders.get_for_party(principal.party_id, order_id)
    if order.payer_party_id != principal.party_id:
        raise Forbidden("only the payer confirms a payment", code="order_payer_only")
    return order


@router.post("/payment-orders/{order_id}/confirmation-options")
def confirmation_options(
    request: Request, order_id: OrderPath, principal: Customer, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    """WebAuthn options whose challenge is bound to this order's amount and payee."""

    def options() -> dict[str, Any]:
        _payer_order(bank, principal, order_id)
        return bank.orders.begin_confirmation(principal.party_id, order_id)  # type: ignore[no-any-return]

    def run() -> StoredResponse:
        actor = _actor(principal)
        found = _audited(
            request, bank, actor, "payment_order.sca.options", ("payment_order", order_id), options
        )
        return render.stored_json(200, found)

    return _idempotent(request, bank, _scope(principal), key, None, run)


@router.post("/payment-orders/{order_id}/confirmation", response_model=OrderOut)
def confirm_order(
    request: Request, order_id: OrderPath, body: ConfirmationIn, principal: Customer, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """A fresh passkey assertion over the order's challenge authorises it; the money then moves."""

    def confirm() -> PaymentOrder:
        _payer_order(bank, principal, order_id)
        return bank.orders.confirm(_actor(principal), principal.party_id, order_id, body.credential)  # type: ignore[no-any-return]

    def run() -> StoredResponse:
        actor = _actor(principal)
        order = _audited(
            request, bank, actor, "payment_order.sca.confirm", ("payment_order", order_id), confirm
        )
        return render.stored_json(200, order_json(order, bank.orders.events(order.order_id)))

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


def _party_of(bank: BankDep, endpoint: Endpoint) -> int | None:
    if endpoint.kind is EndpointKind.WALLET:
        return int(bank.wallets.get(endpoint.id).party_id)
    if endpoint.kind is EndpointKind.ACCOUNT:
        return int(bank.identity.get_account(endpoint.id).party_id)
    return None


@router.post("/payment-orders/{order_id}/refunds", status_code=201, response_model=OrderOut)
def refund_order(
    request: Request, order_id: OrderPath, body: RefundIn, principal: Customer, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """The payee pays back (part of) a settled order; refunds never sum past its amount."""

    def refund() -> PaymentOrder:
        original: PaymentOrder = bank.orders.get_for_party(principal.party_id, order_id)
        if _party_of(bank, original.payee) != principal.party_id:
            raise Forbidden("only the payee refunds a payment", code="refund_payee_only")
        return bank.orders.refund(  # type: ignore[no-any-return]
            _actor(principal), principal.party_id, original.order_id,
            parse_amount(body.amount, original.currency), idempotency_key=_order_key(key),
            reference=body.reference,
        )  # fmt: skip

    def run() -> StoredResponse:
        actor = _actor(principal)
        order = _audited(request, bank, actor, "payment_order.refund", ("payment_order", order_id), refund)
        return render.stored_json(201, order_json(order), f"/v1/payment-orders/{order.order_id}")

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.get("/billers", response_model=BillersOut)
def list_billers(principal: Customer, bank: BankDep) -> Response:
    """The public-service payees a bill payment may name, with their reference formats."""
    billers = [b for b in bank.orders.billers() if b.active]
    return render.json_response(200, {"billers": [biller_json(b) for b in billers]})


# Device mandates -------------------------------------------------------------------


def mandate_terms(body: MandateIn) -> MandateTerms:
    key = _b64url(body.device_public_key, "the device key", DEVICE_PUBLIC_KEY_BYTES,
                  lambda m: InvalidInput(m, code="device_public_key_invalid"))  # fmt: skip
    limits = tuple(
        PeriodicLimit(x.period_type, x.period_alignment, parse_amount(x.amount, body.currency))
        for x in body.periodic_limits
    )
    return MandateTerms(
        payer=_endpoint(body.payer), payee=_endpoint(body.payee), currency=body.currency,
        max_individual_minor=parse_amount(body.max_individual_amount, body.currency),
        periodic_limits=limits, valid_to_ns=_ns_of(body.valid_to), device_id=body.device_id,
        device_public_key=key, valid_from_ns=None if body.valid_from is None else _ns_of(body.valid_from),
    )  # fmt: skip


@router.get("/mandates", response_model=MandatesOut)
def list_mandates(principal: Customer, bank: BankDep) -> Response:
    mandates = bank.mandates.list_for_party(principal.party_id, limit=MANDATES_PAGE_MAX)
    return render.json_response(200, {"mandates": [mandate_json(m) for m in mandates]})


@router.post("/mandates", status_code=201, response_model=MandateOut)
def grant_mandate(
    request: Request, body: MandateIn, principal: Customer, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    """Let a device pay one payee from one of the caller's wallets or accounts, within limits."""

    def grant() -> Mandate:
        return bank.mandates.grant(_actor(principal), principal.party_id, mandate_terms(body))  # type: ignore[no-any-return]

    def run() -> StoredResponse:
        mandate = _audited(request, bank, _actor(principal), "mandate.grant", ("mandate", ""), grant)
        return render.stored_json(201, mandate_json(mandate), f"/v1/mandates/{mandate.mandate_id}")

    return _idempotent(request, bank, _scope(principal), key, body.model_dump(mode="json"), run)


@router.get("/mandates/{mandate_id}", response_model=MandateOut)
def get_mandate(request: Request, mandate_id: MandatePath, principal: Customer, bank: BankDep) -> Response:
    """The mandate and how much of each periodic limit its current period has used."""
    mandate = _audited(
        request, bank, _actor(principal), "mandate.read", ("mandate", mandate_id),
        lambda: bank.mandates.get_for_party(principal.party_id, mandate_id),
    )  # fmt: skip
    usage = bank.mandates.usage_for_party(principal.party_id, mandate_id)
    return render.json_response(200, mandate_json(mandate, usage))


@router.delete("/mandates/{mandate_id}", response_model=MandateOut)
def revoke_mandate(request: Request, mandate_id: MandatePath, principal: Customer, bank: BankDep) -> Response:
    """Withdraw the mandate (``CANC``); revoking one no longer active changes nothing."""
    mandate = _audited(
        request, bank, _actor(principal), "mandate.revoke", ("mandate", mandate_id),
        lambda: bank.mandates.revoke(_actor(principal), principal.party_id, mandate_id),
    )  # fmt: skip
    return render.json_response(200, mandate_json(mandate))


@device_router.post("/mandates/{mandate_id}/payments", status_code=201, response_model=OrderOut)
def device_payment(
    request: Request,
    mandate_id: MandatePath,
    body: DevicePaymentIn,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    """A device pays under its mandate; the Ed25519 signature over the request and a counter
    above the last one used authenticate it (no session).

    Refusals: ``mandate_not_found``, ``device_signature_invalid``,
    ``device_counter_replayed``, ``mandate_revoked``, ``mandate_expired``,
    ``mandate_not_yet_valid``, ``mandate_currency_mismatch``,
    ``mandate_individual_limit_exceeded``, ``mandate_periodic_limit_exceeded``,
    then the payment order's own. A rejected order is a 201 with its reason.
    """

    def run() -> StoredResponse:
        order = bank.mandates.pay(_device_request(request, bank, mandate_id, body))
        return render.stored_json(201, order_json(order), f"/v1/payment-orders/{order.order_id}")

    return _idempotent(request, bank, "device:" + mandate_id, key, body.model_dump(mode="json"), run)


def _device_request(
    request: Request, bank: BankDep, mandate_id: str, body: DevicePaymentIn
) -> DevicePaymentRequest:
    """The signed request, checked as far as the mandates service does not audit itself."""
    # Not yet known to be the mandate's device: recorded as anonymous, as deps records a bad token.
    actor = Actor("anonymous", "", None, deps.interaction_id(request))
    subject = ("mandate", mandate_id)

    def build() -> DevicePaymentRequest:
        signature = _b64url(body.signature, "the device signature", DEVICE_SIGNATURE_BYTES,
                            lambda m: Unauthenticated(m, code="device_signature_invalid"))  # fmt: skip
        device_request = DevicePaymentRequest(
            mandate_id, body.counter, parse_amount(body.amount, body.currency), body.currency,
            body.reference, signature,
        )  # fmt: skip
        device_request.check()
        bank.mandates.get(mandate_id)
        return device_request

    return _audited(request, bank, actor, "mandate.payment", subject, build)


# FX quotes -----------------------------------------------------------------------


def fx_desk(request: Request, bank: BankDep) -> FxDesk:
    """The desk on the ECB reference rates named by ``$NETFIN_FX_RATES``, built on first use."""
    path = Path(os.environ.get(FX_RATES_VARIABLE, FX_RATES_DEFAULT))
    with _fx_lock:
        held = getattr(request.app.state, "fx_desk", None)
        if held is not None and held[0] == path:
            return held[1]  # type: ignore[no-any-return]
        if not path.is_file():
            raise ConfigurationError("no FX reference rates are installed", code="fx_rates_unavailable")
        desk = FxDesk(load_ecb_rates(path), load_packaged_profile(), clock=bank.clock, ids=bank.ids)
        request.app.state.fx_desk = (path, desk)
        return desk


@router.get("/fx/quote", response_model=QuoteOut)
def fx_quote(
    request: Request,
    principal: Quoter,
    bank: BankDep,
    source: Annotated[str, Query(alias="from", pattern=r"^[A-Z]{3}$")],
    target: Annotated[str, Query(alias="to", pattern=r"^[A-Z]{3}$")],
    amount: Annotated[str, Query(pattern=r"^\d{1,18}(\.\d{1,5})?$", max_length=24)],
    on: Annotated[date | None, Query(description="Rates of this day (default: today)")] = None,
) -> Response:
    """The best route for ``amount`` of ``from`` into ``to``, held for the profile's quote lifetime."""
    desk = fx_desk(request, bank)
    quote = desk.quote(source, target, parse_amount(amount, source), on=on)
    return render.json_response(200, quote_json(quote))


# Staff and regulator ---------------------------------------------------------------


@staff_router.post("/billers", status_code=201, response_model=BillerOut)
def register_biller(
    request: Request, body: BillerIn, principal: Staff, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        biller = bank.orders.register_biller(
            _actor(principal), name=body.name, category=body.category, account_id=body.account_id,
            reference_pattern=body.reference_pattern,
        )  # fmt: skip
        return render.stored_json(201, biller_json(biller))

    return _idempotent(request, bank, _scope(principal, True), key, body.model_dump(mode="json"), run)


@staff_router.post("/wallets/{wallet_id}/class", response_model=WalletOut)
def change_wallet_class(
    request: Request, wallet_id: WalletPath, body: WalletClassIn, principal: Staff, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """Move a root wallet (and its sub-wallets) to another class of the current profile."""

    def run() -> StoredResponse:
        wallet = _audited(
            request, bank, _actor(principal), "wallet.class", ("wallet", wallet_id),
            lambda: bank.wallets.change_class(_actor(principal), wallet_id, body.class_no),
        )  # fmt: skip
        return render.stored_json(200, wallet_json(wallet, bank.wallets.balance(wallet)))

    return _idempotent(request, bank, _scope(principal, True), key, body.model_dump(mode="json"), run)


def _set_wallet_status(
    request: Request, wallet_id: str, body: WalletStatusIn, principal: Principal, bank: BankDep,
    key: str | None, status: WalletStatus,
) -> Response:  # fmt: skip
    def run() -> StoredResponse:
        wallet = _audited(
            request, bank, _actor(principal), "wallet.status", ("wallet", wallet_id),
            lambda: bank.wallets.set_status(_actor(principal), wallet_id, status, reason=body.reason),
        )  # fmt: skip
        return render.stored_json(200, wallet_json(wallet))

    return _idempotent(request, bank, _scope(principal, True), key, body.model_dump(mode="json"), run)


@staff_router.post("/wallets/{wallet_id}/freeze", response_model=WalletOut)
def freeze_wallet(
    request: Request, wallet_id: WalletPath, body: WalletStatusIn, principal: WalletStaff, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """Stop a wallet paying and being paid; the reason (10 to 500 characters) is audited."""
    return _set_wallet_status(request, wallet_id, body, principal, bank, key, WalletStatus.FROZEN)


@staff_router.post("/wallets/{wallet_id}/unfreeze", response_model=WalletOut)
def unfreeze_wallet(
    request: Request, wallet_id: WalletPath, body: WalletStatusIn, principal: WalletStaff, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """Let a frozen wallet pay and be paid again; the reason is audited."""
    return _set_wallet_status(request, wallet_id, body, principal, bank, key, WalletStatus.ACTIVE)


@staff_router.post("/regulator/pseudonym-lookups", response_model=PseudonymLookupOut)
def pseudonym_lookup(
    request: Request, body: PseudonymLookupIn, principal: Regulator, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    """Who holds a pseudonymous wallet: a regulator only, with a reason; audited before the answer."""

    def reveal() -> Any:
        return bank.wallets.reveal_holder(actor, body.pseudonym, reason=body.reason)

    # The session proved the regulator role, whatever other roles the party holds.
    actor = _actor(principal, Role.REGULATOR.value)

    def run() -> StoredResponse:
        party = _audited(request, bank, actor, "wallet.reveal", ("wallet", body.pseudonym), reveal)
        return render.stored_json(200, {
            "pseudonym": body.pseudonym, "party_id": format_id(party.party_id),
            "display_name": party.display_name, "kind": party.kind.value, "kyc_level": int(party.kyc_level),
        })  # fmt: skip

    return _idempotent(request, bank, _scope(principal, True), key, body.model_dump(mode="json"), run)


__all__ = ["NETFIN_QR_GUID", "device_router", "router", "staff_router"]
