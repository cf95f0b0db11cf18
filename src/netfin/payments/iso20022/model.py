"""Domain types of the ISO 20022 messages netfin reads and writes.

Invariants:
- Every amount is integer minor units of its ISO 4217 currency
  (``amount_minor`` + ``currency``); text from a message becomes minor units
  only through ``minor_units_from_text``, which refuses more decimal places
  than the currency has instead of rounding, and never goes through ``float``.
- The types are frozen; sequences are tuples, so a parsed message cannot be
  changed after its checks passed.
- Dates are ``datetime.date``; ISO ``DateTime`` values keep their offset when
  the message gave one and are naive when it did not (ISO allows both).

Public names: ``Problem``, ``EmittedMessage``, ``Pain001Message``,
``PaymentInstruction``, ``CreditTransfer``, ``Pacs008Message``,
``InterbankTransfer``, ``StatusReport``, ``TransactionStatus``,
``StatusReason``, ``StatementMessage``, ``Statement``, ``StatementAccount``,
``Balance``, ``Entry``, ``EntryTransaction``, ``BankTransactionCode``,
``CreditDebit``, ``minor_units_from_text``, ``text_from_minor_units``,
``date_from_text``, ``datetime_from_text``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Context, Decimal

from netfin.core.errors import InvalidInput
from netfin.core.limits import INT64_MAX
from netfin.core.money import currency_exponent, is_currency
from netfin.payments.model import format_amount

# Longest amount text looked at; ISO amounts have at most 18 digits.
AMOUNT_TEXT_LENGTH_MAX = 64
# Placeholder end-to-end id that ISO 20022 allows to repeat (the debtor gave none).
END_TO_END_ID_NOT_PROVIDED = "NOTPROVIDED"

# Precision large enough that no arithmetic on AMOUNT_TEXT_LENGTH_MAX-digit
# amounts (or sums of many of them) is ever rounded.
EXACT = Context(prec=200)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class CreditDebit(enum.StrEnum):
    CREDIT = "CRDT"
    DEBIT = "DBIT"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason to refuse a message: a rule-like ``code``, a sentence, and
    where it is (``line`` in the received document; ``path`` for schema
    errors; ``end_to_end_id`` when it concerns one transaction)."""

    code: str
    message: str
    line: int | None = None
    path: str | None = None
    end_to_end_id: str | None = None

    def describe(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class EmittedMessage:
    """A message netfin built: UTF-8 XML, its name, and whether its XSD checked it."""

    xml: bytes
    message_name: str
    schema_validated: bool


# --- pain.001: customer credit transfer initiation -------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One CdtTrfTxInf of a pain.001.

    ``currency`` is the currency of ``amount_minor`` as the message states it.
    ``transfer_currency`` is the currency the creditor is to receive: the same
    for an instructed amount (InstdAmt); for an equivalent amount (EqvtAmt) the
    debtor fixed the amount in ``currency`` and the bank converts it.
    """

    end_to_end_id: str
    amount_minor: int
    currency: str
    transfer_currency: str
    instruction_id: str | None = None
    uetr: str | None = None
    charge_bearer: str | None = None
    creditor_name: str | None = None
    creditor_iban: str | None = None
    creditor_account_other: str | None = None
    creditor_agent_bic: str | None = None
    remittance_unstructured: tuple[str, ...] = ()
    creditor_reference: str | None = None
    source_line: int | None = None

    @property
    def is_equivalent_amount(self) -> bool:
        return self.transfer_currency != self.currency


@dataclass(frozen=True, slots=True)
class PaymentInstruction:
    """One PmtInf: a debtor account and the transfers it pays."""

    payment_information_id: str
    payment_method: str
    requested_execution_date: date
    debtor_name: str | None
    debtor_iban: str | None
    debtor_account_other: str | None
    debtor_account_currency: str | None
    debtor_agent_bic: str | None
    transactions: tuple[CreditTransfer, ...]
    charge_bearer: str | None = None


@dataclass(frozen=True, slots=True)
class Pain001Message:
    """A pain.001 that passed the schema and every business check."""

    message_id: str
    creation_time: datetime
    initiating_party: str | None
    payments: tuple[PaymentInstruction, ...]
    message_name: str
    number_of_transactions: int
    control_sum: Decimal | None = None

    def transactions(self) -> Iterator[tuple[PaymentInstruction, CreditTransfer]]:
        for payment in self.payments:
            for transfer in payment.transactions:
                yield payment, transfer


# --- pacs.008: FI to FI customer credit transfer -------------------------------------------------


@dataclass(frozen=True, slots=True)
class InterbankTransfer:
    """One CdtTrfTxInf of a pacs.008 (settlement amount = instructed amount)."""

    end_to_end_id: str
    amount_minor: int
    currency: str
    settlement_date: date
    debtor_agent_bic: str
    creditor_agent_bic: str
    charge_bearer: str = "SHAR"
    instruction_id: str | None = None
    transaction_id: str | None = None
    uetr: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None
    debtor_account_other: str | None = None
    creditor_name: str | None = None
    creditor_iban: str | None = None
    creditor_account_other: str | None = None
    instructing_agent_bic: str | None = None
    instructed_agent_bic: str | None = None
    remittance_unstructured: tuple[str, ...] = ()
    creditor_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Pacs008Message:
    message_id: str
    creation_time: datetime
    transfers: tuple[InterbankTransfer, ...]
    settlement_method: str = "INDA"
    message_name: str = "pacs.008.001.09"
    schema_validated: bool = True


# --- pacs.002: payment status report ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusReason:
    """An ExternalStatusReason1Code (``code``) or a proprietary reason, with
    free text (each line at most 105 characters in the message)."""

    code: str | None = None
    proprietary: str | None = None
    additional_information: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    status: str
    original_end_to_end_id: str | None = None
    original_instruction_id: str | None = None
    original_uetr: str | None = None
    reasons: tuple[StatusReason, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusReport:
    message_id: str
    creation_time: datetime
    original_message_id: str
    original_message_name: str
    group_status: str | None = None
    group_reasons: tuple[StatusReason, ...] = ()
    transactions: tuple[TransactionStatus, ...] = ()
    original_creation_time: datetime | None = None
    original_number_of_transactions: int | None = None
    original_control_sum: Decimal | None = None
    instructing_agent_bic: str | None = None
    instructed_agent_bic: str | None = None


# --- camt.053: bank to customer statement -------------------------------------------------------

# A Dt or DtTm choice; ``datetime`` is tested first because it subclasses ``date``.
DateOrDateTime = date | datetime


@dataclass(frozen=True, slots=True)
class StatementAccount:
    iban: str | None = None
    other_id: str | None = None
    currency: str | None = None
    owner_name: str | None = None
    servicer_bic: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    type_code: str
    amount_minor: int
    currency: str
    credit_debit: CreditDebit
    date: DateOrDateTime
    type_is_proprietary: bool = False

    @property
    def signed_minor(self) -> int:
        return self.amount_minor if self.credit_debit is CreditDebit.CREDIT else -self.amount_minor


@dataclass(frozen=True, slots=True)
class BankTransactionCode:
    domain: str | None = None
    family: str | None = None
    sub_family: str | None = None
    proprietary_code: str | None = None
    proprietary_issuer: str | None = None


@dataclass(frozen=True, slots=True)
class EntryTransaction:
    """One TxDtls of an entry (amount optional: a batch may give only the total)."""

    amount_minor: int | None = None
    currency: str | None = None
    credit_debit: CreditDebit | None = None
    account_servicer_reference: str | None = None
    payment_information_id: str | None = None
    instruction_id: str | None = None
    end_to_end_id: str | None = None
    transaction_id: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None
    debtor_account_other: str | None = None
    creditor_name: str | None = None
    creditor_iban: str | None = None
    creditor_account_other: str | None = None
    debtor_agent_bic: str | None = None
    creditor_agent_bic: str | None = None
    remittance_unstructured: tuple[str, ...] = ()
    creditor_reference: str | None = None
    additional_information: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    amount_minor: int
    currency: str
    credit_debit: CreditDebit
    status: str
    bank_transaction_code: BankTransactionCode
    reference: str | None = None
    reversal: bool | None = None
    booking_date: DateOrDateTime | None = None
    value_date: DateOrDateTime | None = None
    account_servicer_reference: str | None = None
    batch_message_id: str | None = None
    batch_payment_information_id: str | None = None
    batch_number_of_transactions: int | None = None
    transactions: tuple[EntryTransaction, ...] = ()
    additional_information: str | None = None

    @property
    def signed_minor(self) -> int:
        return self.amount_minor if self.credit_debit is CreditDebit.CREDIT else -self.amount_minor


@dataclass(frozen=True, slots=True)
class Statement:
    statement_id: str
    account: StatementAccount
    balances: tuple[Balance, ...]
    entries: tuple[Entry, ...] = ()
    electronic_sequence_number: int | None = None
    legal_sequence_number: int | None = None
    creation_time: datetime | None = None
    from_time: datetime | None = None
    to_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatementMessage:
    message_id: str
    creation_time: datetime
    statements: tuple[Statement, ...]
    message_name: str = "camt.053.001.08"
    schema_validated: bool = True


# --- amounts ------------------------------------------------------------------------------------


def minor_units_from_text(text: str | None, currency: str | None, *, zero_allowed: bool = False) -> int:
    """An ISO 20022 decimal amount -> integer minor units of ``currency``.

    Refused (``InvalidInput`` with its own code), never rounded: unknown
    currency (``currency_unknown``), text that is not a decimal number
    (``amount_not_a_number``), a negative amount or zero where zero is not
    allowed (``amount_not_positive``), more decimal places than the currency
    has (``amount_precision_invalid``), more than 64 bits (``amount_too_large``).
    """
    if currency is None or not is_currency(currency):
        raise InvalidInput(f"unknown ISO 4217 currency {currency!r}", code="currency_unknown")
    stripped = (text or "").strip()
    if len(stripped) > AMOUNT_TEXT_LENGTH_MAX or not _DECIMAL_TEXT.fullmatch(stripped):
        raise InvalidInput(f"amount {stripped[:40]!r} is not a decimal number", code="amount_not_a_number")
    value = Decimal(stripped)
    if value < 0 or (value == 0 and not zero_allowed):
        raise InvalidInput(f"amount {stripped!r} must be greater than zero", code="amount_not_positive")
    exponent = currency_exponent(currency)
    minor = value.scaleb(exponent, context=EXACT)
    if minor != minor.to_integral_value(context=EXACT):
        raise InvalidInput(
            f"{currency} has {exponent} decimal place(s); {stripped!r} has more",
            code="amount_precision_invalid",
        )
    if minor > INT64_MAX:
        raise InvalidInput(f"amount {stripped!r} exceeds the 64-bit range", code="amount_too_large")
    return int(minor)


def text_from_minor_units(amount_minor: int, currency: str) -> str:
    """Integer minor units -> the exact decimal text ISO 20022 carries."""
    return format_amount(amount_minor, currency)


# --- dates --------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")


def date_from_text(text: str | None) -> date:
    """An ISODate (``2024-05-31``, optionally with an offset, which a date
    without a time cannot use and is dropped) -> ``date``; ValueError otherwise."""
    match = _ISO_DATE.fullmatch((text or "").strip())
    if match is None:
        raise ValueError(f"{text!r} is not an ISO date")
    return date.fromisoformat(match.group(1))


def datetime_from_text(text: str | None) -> datetime:
    """An ISODateTime -> ``datetime`` (aware when the text has an offset)."""
    stripped = (text or "").strip()
    if "T" not in stripped:
        raise ValueError(f"{text!r} is not an ISO date-time")
    return datetime.fromisoformat(stripped)


def text_from_datetime(value: datetime) -> str:
    return value.isoformat()
