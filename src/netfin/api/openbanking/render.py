"""Domain objects to UK Open Banking v4.0 JSON documents (plain dicts, for speed).

The shapes follow ``schemas.py`` (checked against the official files by the
tests); responses are built as dicts and serialised with orjson because the
balance read is on the hot path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from netfin.core.clock import iso_from_ns
from netfin.core.ids import format_id
from netfin.identity.consents import Consent, Permission
from netfin.identity.model import BankProfile, CustomerAccount
from netfin.ledger import Transfer, TransferFlags
from netfin.openbanking.service import Balance, TransactionPage
from netfin.payments import DomesticPayment, format_amount

IBAN_SCHEME = "UK.OBIE.IBAN"
SORT_CODE_SCHEME = "UK.OBIE.SortCodeAccountNumber"


def links(request: Request, **extra: str) -> dict[str, str]:
    return {"Self": str(request.url), **extra}


def amount(minor: int, currency: str) -> dict[str, str]:
    return {"Amount": format_amount(abs(minor), currency), "Currency": currency}


def account_access_consent(c: Consent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ConsentId": c.consent_id,
        "CreationDateTime": iso_from_ns(c.created_ns),
        "Status": c.status.value,
        "StatusUpdateDateTime": iso_from_ns(c.status_updated_ns),
        "Permissions": sorted(p.value for p in c.permissions),
    }
    if c.expiration_ns is not None:
        data["ExpirationDateTime"] = iso_from_ns(c.expiration_ns)
    if c.transaction_from_ns is not None:
        data["TransactionFromDateTime"] = iso_from_ns(c.transaction_from_ns)
    if c.transaction_to_ns is not None:
        data["TransactionToDateTime"] = iso_from_ns(c.transaction_to_ns)
    return data


def account(a: CustomerAccount, consent: Consent, bank: BankProfile) -> dict[str, Any]:
    body: dict[str, Any] = {
        "AccountId": a.account_id,
        "Status": a.status.value,
        "Currency": a.currency,
        "AccountCategory": "Personal",
        "AccountTypeCode": "CACC",
    }
    if a.nickname:
        body["Nickname"] = a.nickname
    if Permission.READ_ACCOUNTS_DETAIL in consent.permissions:
        body["Account"] = [
            {"SchemeName": IBAN_SCHEME, "Identification": a.iban},
            {"SchemeName": SORT_CODE_SCHEME, "Identification": a.iban[-14:]},
        ]
    return body


def balances(b: Balance, now_ns: int) -> list[dict[str, Any]]:
    when = iso_from_ns(now_ns)
    rows = []
    for kind, minor in (("ITAV", b.available_minor), ("ITBD", b.booked_minor)):
        rows.append(
            {
                "AccountId": b.account.account_id,
                "CreditDebitIndicator": "Credit" if minor >= 0 else "Debit",
                "Type": kind,
                "DateTime": when,
                "Amount": amount(minor, b.account.currency),
            }
        )
    return rows


def transaction(t: Transfer, page: TransactionPage) -> dict[str, Any]:
    account_row = page.account
    credit = t.credit_account_id == account_row.ledger_account_id
    body: dict[str, Any] = {
        "AccountId": account_row.account_id,
        "TransactionId": format_id(t.id),
        "CreditDebitIndicator": "Credit" if credit else "Debit",
        "Status": "PDNG" if t.flags & TransferFlags.PENDING else "BOOK",
        "BookingDateTime": iso_from_ns(t.timestamp),
        "Amount": amount(t.amount, t.currency),
    }
    payment = page.payments.get(t.id)
    if payment is not None:
        i = payment.initiation
        body["TransactionReference"] = i.end_to_end_identification
        if i.unstructured:
            body["TransactionInformation"] = i.unstructured
        body["CreditorAccount"] = {
            "SchemeName": i.creditor.scheme_name,
            "Identification": i.creditor.identification,
            "Name": i.creditor.name,
        }
    return body


def next_link(request: Request, cursor: str | None) -> dict[str, str]:
    if cursor is None:
        return {}
    query = dict(request.query_params)
    query["cursor"] = cursor
    return {"Next": str(request.url.replace(query=urlencode(query)))}


def payment_consent(c: Consent) -> dict[str, Any]:
    return {
        "ConsentId": c.consent_id,
        "CreationDateTime": iso_from_ns(c.created_ns),
        "Status": c.status.value,
        "StatusUpdateDateTime": iso_from_ns(c.status_updated_ns),
        "Initiation": c.payload["Initiation"],
    }


def payment(p: DomesticPayment, initiation: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "DomesticPaymentId": p.payment_id,
        "ConsentId": p.consent_id,
        "CreationDateTime": iso_from_ns(p.created_ns),
        "Status": p.status.value,
        "StatusUpdateDateTime": iso_from_ns(p.status_updated_ns),
        "Initiation": initiation,
    }
    if p.status_reason:
        data["StatusReason"] = [
            {"StatusReasonCode": "AM04" if p.status_reason == "exceeds_credits" else "NARR",
             "StatusReasonDescription": p.status_reason}
        ]  # fmt: skip
    return data


def funds_consent(c: Consent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ConsentId": c.consent_id,
        "CreationDateTime": iso_from_ns(c.created_ns),
        "Status": c.status.value,
        "StatusUpdateDateTime": iso_from_ns(c.status_updated_ns),
        "DebtorAccount": c.payload["DebtorAccount"],
    }
    if c.expiration_ns is not None:
        data["ExpirationDateTime"] = iso_from_ns(c.expiration_ns)
    return data
