"""Payment orders (domestic, single, immediate) and the exact amount rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from netfin.core.errors import InvalidInput
from netfin.core.limits import INT64_MAX
from netfin.core.money import currency_exponent, is_currency

REFERENCE_LENGTH_MAX = 35
UNSTRUCTURED_LENGTH_MAX = 140
IDENTIFICATION_LENGTH_MAX = 256
NAME_LENGTH_MAX = 350
AMOUNT_TEXT_LENGTH_MAX = 20


class PaymentStatus(enum.StrEnum):
    """ISO 20022 payment status codes, as UK Open Banking v4.0 reports them."""

    PENDING = "PDNG"  # accepted, not yet booked in the ledger
    SETTLEMENT_IN_PROCESS = "ACSP"  # booked to the clearing account for an external creditor
    SETTLEMENT_COMPLETED = "ACSC"  # booked to a creditor account held here
    REJECTED = "RJCT"


@dataclass(frozen=True, slots=True)
class CreditorAccount:
    scheme_name: str
    identification: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class DomesticInitiation:
    instruction_identification: str
    end_to_end_identification: str
    amount_minor: int
    currency: str
    creditor: CreditorAccount
    reference: str | None = None
    unstructured: str | None = None


@dataclass(frozen=True, slots=True)
class DomesticPayment:
    payment_id: str
    consent_id: str
    client_id: str
    party_id: int
    debtor_account_id: str
    initiation: DomesticInitiation
    transfer_id: int
    internal_creditor_account_id: str | None
    status: PaymentStatus
    status_reason: str | None
    created_ns: int
    status_updated_ns: int


def parse_amount(text: str, currency: str) -> int:
    """An exact decimal string in major units -> integer minor units.

    More decimal places than the currency has is refused, never rounded:
    "10.005" GBP is a mistake the customer must see, not a half-penny lost.
    """
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidInput(f"unknown ISO 4217 currency {currency!r}", code="currency_invalid")
    if not isinstance(text, str) or not text or len(text) > AMOUNT_TEXT_LENGTH_MAX:
        raise InvalidInput("amount must be a decimal string", code="amount_invalid")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"amount {text!r} is not a decimal number", code="amount_invalid") from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput("amount must be a positive decimal number", code="amount_invalid")
    minor = value.scaleb(currency_exponent(currency))
    if minor != minor.to_integral_value():
        raise InvalidInput(
            f"{currency} has {currency_exponent(currency)} decimal places; {text!r} has more",
            code="amount_precision_invalid",
        )
    if minor > INT64_MAX:
        raise InvalidInput("amount is too large", code="amount_invalid")
    return int(minor)


def format_amount(minor: int, currency: str) -> str:
    """Integer minor units -> the decimal string JSON carries (never a float)."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"
