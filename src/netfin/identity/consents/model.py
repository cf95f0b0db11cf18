"""Consents after the UK Open Banking Read/Write API v4.0: kinds, states and access rules.

A consent is created by a third party (TPP), authorised or rejected by the
customer (with a passkey), and then covers that TPP's access until it is
revoked, expires or — for a single payment — is consumed. The rules here are
pure: the service loads a consent and asks them whether a request may pass.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netfin.core.errors import Conflict, Forbidden, InvalidInput, NotFound

CONSENT_ACCOUNTS_MAX = 64
CONSENT_LIFETIME_MAX_NS = 400 * 86_400 * 1_000_000_000  # a little over a year, as OB suggests for AIS
AWAITING_AUTHORISATION_MAX_NS = 24 * 3_600 * 1_000_000_000


class ConsentKind(enum.StrEnum):
    ACCOUNT_ACCESS = "account-access"
    DOMESTIC_PAYMENT = "domestic-payment"
    FUNDS_CONFIRMATION = "funds-confirmation"


CONSENT_ID_PREFIX = {
    ConsentKind.ACCOUNT_ACCESS: "aac-",
    ConsentKind.DOMESTIC_PAYMENT: "pdc-",
    ConsentKind.FUNDS_CONFIRMATION: "fcc-",
}


class ConsentStatus(enum.StrEnum):
    """v4.0 uses ISO 20022 codes for consent states."""

    AWAITING_AUTHORISATION = "AWAU"
    AUTHORISED = "AUTH"
    REJECTED = "RJCT"
    REVOKED = "CANC"
    EXPIRED = "EXPD"
    CONSUMED = "COND"


_S = ConsentStatus
TRANSITIONS: dict[ConsentKind, dict[ConsentStatus, frozenset[ConsentStatus]]] = {
    ConsentKind.ACCOUNT_ACCESS: {
        _S.AWAITING_AUTHORISATION: frozenset({_S.AUTHORISED, _S.REJECTED, _S.REVOKED, _S.EXPIRED}),
        _S.AUTHORISED: frozenset({_S.REVOKED, _S.EXPIRED}),
    },
    ConsentKind.FUNDS_CONFIRMATION: {
        _S.AWAITING_AUTHORISATION: frozenset({_S.AUTHORISED, _S.REJECTED, _S.REVOKED, _S.EXPIRED}),
        _S.AUTHORISED: frozenset({_S.REVOKED, _S.EXPIRED}),
    },
    ConsentKind.DOMESTIC_PAYMENT: {
        _S.AWAITING_AUTHORISATION: frozenset({_S.AUTHORISED, _S.REJECTED}),
        _S.AUTHORISED: frozenset({_S.CONSUMED, _S.REJECTED}),
    },
}


class Permission(enum.StrEnum):
    READ_ACCOUNTS_BASIC = "ReadAccountsBasic"
    READ_ACCOUNTS_DETAIL = "ReadAccountsDetail"
    READ_BALANCES = "ReadBalances"
    READ_TRANSACTIONS_BASIC = "ReadTransactionsBasic"
    READ_TRANSACTIONS_DETAIL = "ReadTransactionsDetail"
    READ_TRANSACTIONS_CREDITS = "ReadTransactionsCredits"
    READ_TRANSACTIONS_DEBITS = "ReadTransactionsDebits"


P = Permission
ACCOUNT_PERMISSIONS = frozenset({P.READ_ACCOUNTS_BASIC, P.READ_ACCOUNTS_DETAIL})
TRANSACTION_PERMISSIONS = frozenset({P.READ_TRANSACTIONS_BASIC, P.READ_TRANSACTIONS_DETAIL})
DIRECTION_PERMISSIONS = frozenset({P.READ_TRANSACTIONS_CREDITS, P.READ_TRANSACTIONS_DEBITS})
# Permissions the v4.0 specification defines but netfin does not serve yet;
# a consent asking for them is refused rather than silently narrowed.
UNSUPPORTED_PERMISSIONS = frozenset(
    {
        "ReadBeneficiariesBasic",
        "ReadBeneficiariesDetail",
        "ReadDirectDebits",
        "ReadOffers",
        "ReadPAN",
        "ReadParty",
        "ReadPartyPSU",
        "ReadProducts",
        "ReadScheduledPaymentsBasic",
        "ReadScheduledPaymentsDetail",
        "ReadStandingOrdersBasic",
        "ReadStandingOrdersDetail",
        "ReadStatementsBasic",
        "ReadStatementsDetail",
    }
)


@dataclass(frozen=True, slots=True)
class Consent:
    consent_id: str
    kind: ConsentKind
    client_id: str
    status: ConsentStatus
    created_ns: int
    status_updated_ns: int
    party_id: int | None = None
    permissions: frozenset[Permission] = frozenset()
    expiration_ns: int | None = None
    transaction_from_ns: int | None = None
    transaction_to_ns: int | None = None
    account_ids: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)  # PIS initiation and risk; CBPII debtor account
    authorised_ns: int | None = None
    status_reason: str | None = None


def normalise_permissions(requested: Iterable[str]) -> frozenset[Permission]:
    """Apply the v4.0 dependency rules to a requested permission list.

    ReadTransactionsBasic/Detail need at least one of ReadTransactionsCredits
    and ReadTransactionsDebits, and those two need Basic or Detail: a
    direction without a level (or the reverse) would grant nothing usable.
    """
    names = list(requested)
    if not names:
        raise InvalidInput("Permissions must not be empty", code="permissions_empty")
    unsupported = sorted({n for n in names if n in UNSUPPORTED_PERMISSIONS})
    if unsupported:
        raise InvalidInput(
            f"permissions not supported: {', '.join(unsupported)}", code="permission_unsupported"
        )
    try:
        granted = frozenset(Permission(n) for n in names)
    except ValueError:
        raise InvalidInput("unknown permission", code="permission_unknown") from None
    if granted & TRANSACTION_PERMISSIONS and not granted & DIRECTION_PERMISSIONS:
        raise InvalidInput(
            "ReadTransactionsBasic/Detail need ReadTransactionsCredits and/or ReadTransactionsDebits",
            code="permission_dependency_missing",
        )
    if granted & DIRECTION_PERMISSIONS and not granted & TRANSACTION_PERMISSIONS:
        raise InvalidInput(
            "ReadTransactionsCredits/Debits need ReadTransactionsBasic or ReadTransactionsDetail",
            code="permission_dependency_missing",
        )
    return granted


def check_window(now_ns: int, expiration_ns: int | None, from_ns: int | None, to_ns: int | None) -> None:
    if expiration_ns is not None:
        if expiration_ns <= now_ns:
            raise InvalidInput("ExpirationDateTime must be in the future", code="expiration_in_past")
        if expiration_ns - now_ns > CONSENT_LIFETIME_MAX_NS:
            raise InvalidInput("ExpirationDateTime is too far in the future", code="expiration_too_far")
    if from_ns is not None and to_ns is not None and from_ns > to_ns:
        raise InvalidInput(
            "TransactionFromDateTime must not be after TransactionToDateTime",
            code="transaction_window_invalid",
        )


def effective_status(consent: Consent, now_ns: int) -> ConsentStatus:
    """The status as of ``now``: an authorised or awaiting consent past its expiry is expired."""
    if consent.status in (_S.AUTHORISED, _S.AWAITING_AUTHORISATION):
        if consent.expiration_ns is not None and now_ns >= consent.expiration_ns:
            return _S.EXPIRED
        if (
            consent.status is _S.AWAITING_AUTHORISATION
            and consent.kind is ConsentKind.DOMESTIC_PAYMENT
            and now_ns - consent.created_ns >= AWAITING_AUTHORISATION_MAX_NS
        ):
            return _S.REJECTED
    return consent.status


def check_transition(consent: Consent, target: ConsentStatus, now_ns: int) -> None:
    current = effective_status(consent, now_ns)
    allowed = TRANSITIONS[consent.kind].get(current, frozenset())
    if target not in allowed:
        raise Conflict(
            f"a {consent.kind.value} consent in status {current.value} cannot become {target.value}",
            code=f"consent_{_status_word(current)}",
        )


def _status_word(status: ConsentStatus) -> str:
    return {
        _S.AWAITING_AUTHORISATION: "awaiting_authorisation",
        _S.AUTHORISED: "authorised",
        _S.REJECTED: "rejected",
        _S.REVOKED: "revoked",
        _S.EXPIRED: "expired",
        _S.CONSUMED: "consumed",
    }[status]


def require_usable(consent: Consent, *, client_id: str, kind: ConsentKind, now_ns: int) -> None:
    """May ``client_id`` act under ``consent`` now? Refusals name the rule.

    A consent of another client is reported as not found, so that ids cannot
    be probed across clients.
    """
    if consent.client_id != client_id or consent.kind is not kind:
        raise NotFound("no such consent", code="consent_not_found")
    status = effective_status(consent, now_ns)
    if status is not _S.AUTHORISED:
        raise Forbidden(f"the consent is {status.value}", code=f"consent_{_status_word(status)}")


def require_permission(consent: Consent, *needed_any: Permission) -> None:
    if not consent.permissions & frozenset(needed_any):
        names = " or ".join(p.value for p in needed_any)
        raise Forbidden(f"the consent does not grant {names}", code="permission_missing")


def require_account(consent: Consent, account_id: str) -> None:
    # Not found rather than forbidden: an account outside the consent must not
    # be distinguishable from one that does not exist.
    if account_id not in consent.account_ids:
        raise NotFound("no such account", code="account_not_found")


def transaction_window(consent: Consent, from_ns: int | None, to_ns: int | None) -> tuple[int, int]:
    """The booking-time window a request may see: its own filter inside the consent's."""
    low = max(v for v in (consent.transaction_from_ns, from_ns, 0) if v is not None)
    high_candidates = [v for v in (consent.transaction_to_ns, to_ns) if v is not None]
    high = min(high_candidates) if high_candidates else 2**63 - 1
    return low, high
