"""Parties, their identifiers, KYC levels, roles and customer accounts (pure rules)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError
from stdnum.util import get_cc_module

from netfin.core.errors import InvalidInput
from netfin.core.money import is_currency

DISPLAY_NAME_LENGTH_MAX = 140
NICKNAME_LENGTH_MAX = 70
IDENTIFIER_LENGTH_MAX = 64
IDENTIFIERS_PER_PARTY_MAX = 16
ACCOUNTS_PER_PARTY_MAX = 64
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
_SCHEME = re.compile(r"^([a-z]{2})\.([a-z_]{2,20})$")


class PartyKind(enum.StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


class PartyStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    TPP = "tpp"
    OPERATOR = "operator"
    RISK_ANALYST = "risk_analyst"
    COMPLIANCE = "compliance"
    AUDITOR = "auditor"
    REGULATOR = "regulator"


STAFF_ROLES = frozenset({Role.OPERATOR, Role.RISK_ANALYST, Role.COMPLIANCE, Role.AUDITOR, Role.REGULATOR})
AUDIT_READER_ROLES = frozenset({Role.AUDITOR, Role.REGULATOR, Role.COMPLIANCE})


class KycLevel(enum.IntEnum):
    """How well the bank knows a party; wallet tiers and credit limits key off it.

    Levels only rise through evidence: a phone number the party controls, a
    remote check of an identity document, a bank card in the party's own name,
    and finally a check in person at a branch.
    """

    PHONE_ONLY = 1
    REMOTE_ID = 2
    CARD_LINKED = 3
    IN_PERSON = 4


# The evidence each level needs, in the order a party gathers it.
KYC_EVIDENCE = {
    KycLevel.PHONE_ONLY: "phone",
    KycLevel.REMOTE_ID: "remote_id_check",
    KycLevel.CARD_LINKED: "bank_card",
    KycLevel.IN_PERSON: "in_person_check",
}


@dataclass(frozen=True, slots=True)
class Party:
    party_id: int
    kind: PartyKind
    display_name: str
    phone: str
    kyc_level: KycLevel
    roles: frozenset[Role]
    status: PartyStatus
    created_ns: int


@dataclass(frozen=True, slots=True)
class Identifier:
    party_id: int
    scheme: str
    value: str  # the compact, validated form

    @property
    def masked(self) -> str:
        """What a screen or a log may show: only the last four characters."""
        return "*" * max(0, len(self.value) - 4) + self.value[-4:]


class AccountStatus(enum.StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


@dataclass(frozen=True, slots=True)
class CustomerAccount:
    """A customer-facing account, bound one-to-one to a ledger account."""

    account_id: str  # public id used in every API path
    party_id: int
    ledger_account_id: int
    currency: str
    nickname: str
    iban: str
    status: AccountStatus
    created_ns: int


def validate_display_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > DISPLAY_NAME_LENGTH_MAX or any(ord(c) < 32 for c in name):
        raise InvalidInput(
            f"display name must be 1..{DISPLAY_NAME_LENGTH_MAX} printable characters",
            code="display_name_invalid",
        )
    return name


def validate_phone(phone: str) -> str:
    if not isinstance(phone, str) or not _PHONE.match(phone):
        raise InvalidInput("phone must be in E.164 form, e.g. +8613800138000", code="phone_invalid")
    return phone


def validate_identifier(scheme: str, value: str) -> str:
    """Validate a national identifier with python-stdnum; return its compact form.

    ``scheme`` is ``<country>.<number>`` as python-stdnum names its modules:
    ``cn.ric`` (resident identity card), ``cn.uscc`` (unified social credit
    code), ``gb.nino``, ``de.idnr``, ``us.ssn`` ... ; ``iban`` and ``bic`` are
    checked with schwifty, ``lei`` with python-stdnum.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > IDENTIFIER_LENGTH_MAX:
        raise InvalidInput(
            f"identifier must be 1..{IDENTIFIER_LENGTH_MAX} characters", code="identifier_invalid"
        )
    if scheme == "iban":
        return validate_iban(value)
    if scheme == "bic":
        return validate_bic(value)
    module = _stdnum_module(scheme)
    try:
        return str(module.validate(value))
    except ValidationError as error:
        raise InvalidInput(f"{scheme} number is not valid: {error}", code="identifier_invalid") from None


def _stdnum_module(scheme: str) -> Any:
    if scheme == "lei":
        from stdnum import lei

        return lei
    match = _SCHEME.match(scheme) if isinstance(scheme, str) else None
    if match is None:
        raise InvalidInput(f"unknown identifier scheme {scheme!r}", code="identifier_scheme_unknown")
    module = get_cc_module(match.group(1), match.group(2))
    if module is None or not hasattr(module, "validate"):
        raise InvalidInput(f"unknown identifier scheme {scheme!r}", code="identifier_scheme_unknown")
    return module


def validate_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as error:
        raise InvalidInput(f"IBAN is not valid: {error}", code="iban_invalid") from None


def validate_bic(value: str) -> str:
    try:
        return str(BIC(value).compact)
    except SchwiftyException as error:
        raise InvalidInput(f"BIC is not valid: {error}", code="bic_invalid") from None


def validate_currency(currency: str) -> str:
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidInput(f"unknown ISO 4217 currency {currency!r}", code="currency_invalid")
    return currency


def validate_nickname(nickname: str) -> str:
    if not isinstance(nickname, str) or len(nickname) > NICKNAME_LENGTH_MAX:
        raise InvalidInput(
            f"nickname must be at most {NICKNAME_LENGTH_MAX} characters", code="nickname_invalid"
        )
    return nickname.strip()


def next_kyc_level(current: KycLevel, evidence: str) -> KycLevel:
    """The level a piece of evidence lifts a party to; levels never skip or fall."""
    for level, needed in KYC_EVIDENCE.items():
        if needed == evidence:
            if level != current + 1:
                raise InvalidInput(
                    f"{evidence!r} lifts a party to level {int(level)}, but the party is at {int(current)}; "
                    "evidence must be gathered in order",
                    code="kyc_evidence_out_of_order",
                )
            return level
    raise InvalidInput(f"unknown KYC evidence {evidence!r}", code="kyc_evidence_unknown")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: recorded in the audit log with every change they make."""

    kind: str  # a Role value, "system" or "anonymous"
    id: str
    consent_id: str | None = None
    interaction_id: str | None = None

    @classmethod
    def system(cls, name: str = "netfin") -> Actor:
        return cls(kind="system", id=name)


@dataclass(frozen=True, slots=True)
class BankProfile:
    """How this bank numbers its accounts (country, bank code, branch sort code)."""

    country: str = "GB"
    bank_code: str = "NTFN"
    sort_code: str = "000001"
    bank_name: str = "netfin bank"
