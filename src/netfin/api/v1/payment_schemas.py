"""Request and response bodies of the ``/v1`` payment routes: wallets, payment orders,
billers, device mandates and FX quotes.

Money travels as a decimal string with its ISO 4217 currency, never a float.
Request bodies refuse unknown fields. Limits a wallet does not have are ``null``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from netfin.api.v1.schemas import AmountText, Currency, MoneyOut, Strict
from netfin.payments.mandates import PeriodAlignment, PeriodType
from netfin.payments.qr import PAYLOAD_LENGTH_MAX

EndpointId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
PathId = Annotated[str, Field(min_length=1, max_length=40)]
Reason = Annotated[str, Field(max_length=500)]
Base64Url = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]


# Wallets ---------------------------------------------------------------------


class WalletIn(Strict):
    class_no: Annotated[int | None, Field(ge=1, le=99)] = None
    nickname: Annotated[str, Field(max_length=70)] = ""


class SubWalletIn(Strict):
    nickname: Annotated[str, Field(max_length=70)] = ""


class WalletLimitsOut(BaseModel):
    """The class's limits; ``null`` where the class has none."""

    per_payment: MoneyOut | None
    balance: MoneyOut | None
    daily: MoneyOut | None
    annual: MoneyOut | None


class WalletRoomOut(BaseModel):
    """What each limit still allows now."""

    balance: MoneyOut | None
    daily: MoneyOut | None
    annual: MoneyOut | None


class WalletOut(BaseModel):
    wallet_id: str
    parent_wallet_id: str | None
    class_no: int
    currency: str
    pseudonym: str
    anonymous: bool
    nickname: str
    status: Literal["active", "frozen", "closed"]
    profile: str
    profile_version: int
    limits: WalletLimitsOut
    balance: MoneyOut | None = None
    remaining: WalletRoomOut | None = None
    created_at: str


class WalletsOut(BaseModel):
    wallets: list[WalletOut]


class WalletClassIn(Strict):
    class_no: Annotated[int, Field(ge=1, le=99)]


class WalletStatusIn(Strict):
    reason: Reason


# Payment orders --------------------------------------------------------------


class EndpointIn(Strict):
    kind: Literal["wallet", "account", "biller", "external"]
    id: EndpointId


class EndpointOut(BaseModel):
    kind: str
    id: str


class OrderIn(Strict):
    """One payment. ``merchant_qr`` takes ``qr_payload`` instead of ``payee`` (and takes the
    currency, and the amount where the code has one, from it); the other kinds name the payee."""

    kind: Literal["a2a", "w2w", "merchant_qr", "bill"]
    payer: EndpointIn
    payee: EndpointIn | None = None
    amount: AmountText | None = None
    currency: Currency | None = None
    reference: Annotated[str, Field(max_length=140)] = ""
    payee_reference: Annotated[str, Field(max_length=35)] = ""
    qr_payload: Annotated[str | None, Field(min_length=1, max_length=PAYLOAD_LENGTH_MAX)] = None


class OrderEventOut(BaseModel):
    seq: int
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: str


class OrderOut(BaseModel):
    order_id: str
    kind: str
    status: str
    status_reason: str | None
    payer: EndpointOut
    payee: EndpointOut
    amount: MoneyOut
    refunded: MoneyOut
    reference: str
    payee_reference: str
    original_order_id: str | None
    sca_required: bool
    sca_reasons: list[str]
    created_at: str
    updated_at: str
    expires_at: str
    events: list[OrderEventOut] | None = None


class ConfirmationIn(Strict):
    credential: dict[str, Any]


class RefundIn(Strict):
    amount: AmountText
    reference: Annotated[str, Field(max_length=140)] = ""


# Billers ---------------------------------------------------------------------


class BillerIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=140)]
    category: Literal["government", "hospital", "school", "utility", "other"]
    account_id: PathId
    reference_pattern: Annotated[str, Field(min_length=1, max_length=200)]


class BillerOut(BaseModel):
    biller_id: str
    name: str
    category: str
    reference_pattern: str
    active: bool


class BillersOut(BaseModel):
    billers: list[BillerOut]


# Device mandates -------------------------------------------------------------


class PeriodicLimitIn(Strict):
    period_type: PeriodType
    period_alignment: PeriodAlignment
    amount: AmountText


class MandateIn(Strict):
    payer: EndpointIn
    payee: EndpointIn
    currency: Currency
    max_individual_amount: AmountText
    periodic_limits: Annotated[list[PeriodicLimitIn], Field(min_length=1, max_length=4)]
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime
    device_id: Annotated[str, Field(min_length=1, max_length=64)]
    device_public_key: Annotated[Base64Url, Field(description="The raw Ed25519 public key, base64url")]


class PeriodicLimitOut(BaseModel):
    period_type: str
    period_alignment: str
    amount: MoneyOut


class PeriodUsageOut(BaseModel):
    period_type: str
    period_alignment: str
    period_start: str
    period_end: str
    used: MoneyOut
    remaining: MoneyOut


class MandateOut(BaseModel):
    mandate_id: str
    status: Literal["AUTH", "CANC", "EXPD"]
    payer: EndpointOut
    payee: EndpointOut
    currency: str
    max_individual_amount: MoneyOut
    periodic_limits: list[PeriodicLimitOut]
    valid_from: str
    valid_to: str
    device_id: str
    last_counter: int
    created_at: str
    usage: list[PeriodUsageOut] | None = None


class MandatesOut(BaseModel):
    mandates: list[MandateOut]


class DevicePaymentIn(Strict):
    """A payment a device asks for, signed over ``netfin.payments.mandates.payment_message``
    (the amount signed is the exact minor-unit value of ``amount``)."""

    counter: Annotated[int, Field(ge=1, le=2**63 - 1)]
    amount: AmountText
    currency: Currency
    reference: Annotated[str, Field(max_length=35)] = ""
    signature: Annotated[Base64Url, Field(description="Ed25519 signature, base64url")]


# Staff and regulator -----------------------------------------------------------


class PseudonymLookupIn(Strict):
    pseudonym: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9]+$")]
    reason: Reason


class PseudonymLookupOut(BaseModel):
    pseudonym: str
    party_id: str
    display_name: str
    kind: str
    kyc_level: int


# FX ----------------------------------------------------------------------------


class QuoteLegOut(BaseModel):
    source: MoneyOut
    target: MoneyOut
    mid_rate: str
    spread_bps: str
    effective_rate: str
    fee: MoneyOut


class QuoteOut(BaseModel):
    quote_id: str
    source: MoneyOut
    target: MoneyOut
    route: list[str]
    legs: list[QuoteLegOut]
    rates_date: date
    created_at: str
    expires_at: str
