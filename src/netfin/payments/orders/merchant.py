"""A merchant-presented EMV QR code turned into a payment order request.

The code names a netfin payee with a merchant account template (IDs 26-51)
whose globally unique identifier is ``NETFIN_QR_GUID`` and whose sub-ID
``01`` is the payee's account id or wallet id (``w-...``). The currency, and
the amount where the code fixes one, come from the code; a caller's amount or
currency that disagrees with it is refused, never silently replaced.
"""

from __future__ import annotations

from netfin.core.errors import InvalidInput
from netfin.payments.model import format_amount, parse_amount
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest
from netfin.payments.qr import MerchantQr, Template, TipIndicator, parse_payload

NETFIN_QR_GUID = "net.netfin.pay"
NETFIN_QR_PAYEE_FIELD = "01"


def qr_payee(qr: MerchantQr) -> Endpoint:
    """The netfin payee a merchant code names in its netfin merchant account template."""
    for account in qr.merchant_accounts:
        if isinstance(account, Template) and account.globally_unique_identifier.lower() == NETFIN_QR_GUID:
            target = dict(account.fields).get(NETFIN_QR_PAYEE_FIELD, "")
            if target:
                kind = EndpointKind.WALLET if target.startswith("w-") else EndpointKind.ACCOUNT
                return Endpoint(kind, target)
    raise InvalidInput("the code names no netfin merchant account", code="qr_netfin_account_missing")


def merchant_qr_request(
    payer: Endpoint,
    payload: str,
    *,
    amount_text: str | None = None,
    currency: str | None = None,
    reference: str = "",
) -> OrderRequest:
    """The order for paying the merchant that ``payload`` names, from ``payer``."""
    qr = parse_payload(payload)
    if qr.tip_indicator in (TipIndicator.FIXED_FEE, TipIndicator.PERCENTAGE_FEE):
        raise InvalidInput("codes with a convenience fee are not accepted",
                           code="qr_convenience_fee_unsupported")  # fmt: skip
    if currency is not None and currency != qr.currency:
        raise InvalidInput(f"the code asks for {qr.currency}", code="qr_currency_mismatch")
    amount_minor = None if amount_text is None else parse_amount(amount_text, qr.currency)
    if qr.amount_minor is not None and amount_minor not in (None, qr.amount_minor):
        raise InvalidInput(
            f"the code fixes the amount at {format_amount(qr.amount_minor, qr.currency)}",
            code="qr_amount_mismatch",
        )
    amount_minor = qr.amount_minor if qr.amount_minor is not None else amount_minor
    if amount_minor is None:
        raise InvalidInput("the code has no amount; send one", code="amount_required")
    label = (
        qr.additional_data.reference_label or qr.additional_data.bill_number if qr.additional_data else None
    )
    reference = reference or (label if label and label != "***" else "") or qr.merchant_name
    return OrderRequest(OrderKind.MERCHANT_QR, payer, qr_payee(qr), amount_minor, qr.currency,
                        reference=reference)  # fmt: skip
