"""pacs.008 (FI to FI customer credit transfer): build, read, and map from pain.001.

``build_pacs008`` writes pacs.008.001.09 (validated against its XSD before it
is returned) or, for counterparties still on it, pacs.008.001.08, which has
the same layout for every element written here: it is validated when
pacs.008.001.08.xsd is configured; otherwise the caller must pass
``require_schema=False`` and the result says ``schema_validated=False``.

Only a bare ``Document`` is written; a SWIFT business application header
(head.001) is the transport's concern. The settlement amount is the
instructed amount (no currency conversion, no charges deducted).

Public names: ``build_pacs008``, ``read_pacs008``,
``interbank_transfer_from_pain001``, ``PACS008_VERSIONS``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from schwifty import BIC

from netfin.core.errors import InvalidInput
from netfin.core.money import currency_exponent, is_currency
from netfin.payments.iso20022.document import (
    ISO_NAMESPACE_PREFIX,
    Builder,
    Element,
    Paths,
    line_of,
    message_name_of,
    parse_document,
    text_at,
    texts_at,
)
from netfin.payments.iso20022.errors import MessageRefused
from netfin.payments.iso20022.model import (
    EXACT,
    CreditTransfer,
    EmittedMessage,
    InterbankTransfer,
    Pacs008Message,
    PaymentInstruction,
    Problem,
    date_from_text,
    datetime_from_text,
    minor_units_from_text,
    text_from_datetime,
    text_from_minor_units,
)
from netfin.payments.iso20022.xsd import SchemaSet, default_schemas

PACS008_VERSIONS = ("pacs.008.001.08", "pacs.008.001.09")
# Transactions in one pacs.008 the builder writes.
INTERBANK_TRANSFERS_MAX = 10_000
SETTLEMENT_METHODS = frozenset({"INDA", "INGA", "COVE", "CLRG"})
CHARGE_BEARERS = frozenset({"DEBT", "CRED", "SHAR", "SLEV"})
ID_LENGTH_MAX = 35
# CtrlSum is a DecimalNumber of at most 18 digits; a larger sum is left out (it is optional).
CONTROL_SUM_DIGITS_MAX = 18
NAME_LENGTH_MAX = 140
_UETR = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")


def interbank_transfer_from_pain001(
    payment: PaymentInstruction,
    transfer: CreditTransfer,
    *,
    settlement_date: date,
    transaction_id: str | None = None,
    uetr: str | None = None,
    instructing_agent_bic: str | None = None,
    instructed_agent_bic: str | None = None,
) -> InterbankTransfer:
    """The pacs.008 transaction that forwards one imported pain.001 transfer.

    Refused (``InvalidInput``): a transfer without a creditor agent BIC
    (``creditor_agent_missing``) or debtor agent BIC (``debtor_agent_missing``),
    and an equivalent amount in another currency, which needs a conversion
    first (``currency_conversion_required``).
    """
    if transfer.creditor_agent_bic is None:
        raise InvalidInput("the transfer names no creditor agent BIC", code="creditor_agent_missing")
    if payment.debtor_agent_bic is None:
        raise InvalidInput("the payment names no debtor agent BIC", code="debtor_agent_missing")
    if transfer.is_equivalent_amount:
        raise InvalidInput(
            f"amount is in {transfer.currency} but {transfer.transfer_currency} is to be sent",
            code="currency_conversion_required",
        )
    return InterbankTransfer(
        end_to_end_id=transfer.end_to_end_id,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        settlement_date=settlement_date,
        debtor_agent_bic=payment.debtor_agent_bic,
        creditor_agent_bic=transfer.creditor_agent_bic,
        charge_bearer=transfer.charge_bearer or "SHAR",
        instruction_id=transfer.instruction_id,
        transaction_id=transaction_id,
        uetr=uetr or transfer.uetr,
        debtor_name=payment.debtor_name,
        debtor_iban=payment.debtor_iban,
        debtor_account_other=payment.debtor_account_other,
        creditor_name=transfer.creditor_name,
        creditor_iban=transfer.creditor_iban,
        creditor_account_other=transfer.creditor_account_other,
        instructing_agent_bic=instructing_agent_bic,
        instructed_agent_bic=instructed_agent_bic,
        remittance_unstructured=transfer.remittance_unstructured,
        creditor_reference=transfer.creditor_reference,
    )


def build_pacs008(
    message: Pacs008Message, *, schemas: SchemaSet | None = None, require_schema: bool = True
) -> EmittedMessage:
    """Write ``message`` as ``message.message_name`` (pacs.008.001.09 or .08)."""
    _check_message(message)
    builder = Builder(ISO_NAMESPACE_PREFIX + message.message_name)
    document = builder.document()
    root = builder.add(document, "FIToFICstmrCdtTrf")
    header = builder.add(root, "GrpHdr")
    builder.add(header, "MsgId", message.message_id)
    builder.add(header, "CreDtTm", text_from_datetime(message.creation_time))
    builder.add(header, "NbOfTxs", str(len(message.transfers)))
    control_sum = _control_sum(message.transfers)
    if len(control_sum.as_tuple().digits) <= CONTROL_SUM_DIGITS_MAX:
        builder.add(header, "CtrlSum", format(control_sum, "f"))
    builder.add_path(header, "SttlmInf/SttlmMtd", message.settlement_method)
    for transfer in message.transfers:
        _add_transfer(builder, root, transfer)
    return (schemas or default_schemas()).emitted(
        document, message.message_name, require_schema=require_schema
    )


def _control_sum(transfers: tuple[InterbankTransfer, ...]) -> Decimal:
    """The exact sum of the amounts in major units, irrespective of currency (ISO CtrlSum)."""
    total = Decimal(0)
    for transfer in transfers:
        total = EXACT.add(total, Decimal(transfer.amount_minor).scaleb(-currency_exponent(transfer.currency)))
    return total


def _add_transfer(builder: Builder, root: Element, transfer: InterbankTransfer) -> None:
    element = builder.add(root, "CdtTrfTxInf")
    identification = builder.add(element, "PmtId")
    builder.add_optional(identification, "InstrId", transfer.instruction_id)
    builder.add(identification, "EndToEndId", transfer.end_to_end_id)
    builder.add_optional(identification, "TxId", transfer.transaction_id)
    builder.add_optional(identification, "UETR", transfer.uetr)
    amount_text = text_from_minor_units(transfer.amount_minor, transfer.currency)
    builder.add(element, "IntrBkSttlmAmt", amount_text, currency=transfer.currency)
    builder.add(element, "IntrBkSttlmDt", transfer.settlement_date.isoformat())
    builder.add(element, "ChrgBr", transfer.charge_bearer)
    _add_agent(builder, element, "InstgAgt", transfer.instructing_agent_bic)
    _add_agent(builder, element, "InstdAgt", transfer.instructed_agent_bic)
    _add_party(builder, element, "Dbtr", transfer.debtor_name)
    _add_account(builder, element, "DbtrAcct", transfer.debtor_iban, transfer.debtor_account_other)
    _add_agent(builder, element, "DbtrAgt", transfer.debtor_agent_bic)
    _add_agent(builder, element, "CdtrAgt", transfer.creditor_agent_bic)
    _add_party(builder, element, "Cdtr", transfer.creditor_name)
    _add_account(builder, element, "CdtrAcct", transfer.creditor_iban, transfer.creditor_account_other)
    if transfer.remittance_unstructured or transfer.creditor_reference is not None:
        remittance = builder.add(element, "RmtInf")
        for line in transfer.remittance_unstructured:
            builder.add(remittance, "Ustrd", line)
        if transfer.creditor_reference is not None:
            builder.add_path(remittance, "Strd/CdtrRefInf/Ref", transfer.creditor_reference)


def _add_agent(builder: Builder, parent: Element, name: str, bic: str | None) -> None:
    if bic is not None:
        builder.add_path(parent, f"{name}/FinInstnId/BICFI", bic)


def _add_party(builder: Builder, parent: Element, name: str, party_name: str | None) -> None:
    party = builder.add(parent, name)
    builder.add_optional(party, "Nm", party_name)


def _add_account(builder: Builder, parent: Element, name: str, iban: str | None, other: str | None) -> None:
    if iban is not None:
        builder.add_path(parent, f"{name}/Id/IBAN", iban)
    elif other is not None:
        builder.add_path(parent, f"{name}/Id/Othr/Id", other)


def _check_message(message: Pacs008Message) -> None:
    """Refuse input the XSD would refuse, so that a schema failure after
    building can only be a bug."""
    if message.message_name not in PACS008_VERSIONS:
        raise InvalidInput(f"cannot write {message.message_name!r}", code="message_version_unsupported")
    if not 1 <= len(message.transfers) <= INTERBANK_TRANSFERS_MAX:
        raise InvalidInput(
            f"a pacs.008 holds 1 to {INTERBANK_TRANSFERS_MAX} transfers", code="transfer_count_invalid"
        )
    if message.settlement_method not in SETTLEMENT_METHODS:
        raise InvalidInput(
            f"settlement method {message.settlement_method!r}", code="settlement_method_invalid"
        )
    _check_text(message.message_id, ID_LENGTH_MAX, "message_id")
    for transfer in message.transfers:
        _check_transfer(transfer)


def _check_transfer(transfer: InterbankTransfer) -> None:
    if type(transfer.amount_minor) is not int or transfer.amount_minor <= 0:
        raise InvalidInput("amount_minor must be a positive int", code="amount_not_positive")
    if not is_currency(transfer.currency):
        raise InvalidInput(f"unknown ISO 4217 currency {transfer.currency!r}", code="currency_unknown")
    if transfer.charge_bearer not in CHARGE_BEARERS:
        raise InvalidInput(f"charge bearer {transfer.charge_bearer!r}", code="charge_bearer_invalid")
    if transfer.uetr is not None and not _UETR.fullmatch(transfer.uetr):
        raise InvalidInput(f"UETR {transfer.uetr!r} is not a lower-case UUIDv4", code="uetr_invalid")
    for bic in (
        transfer.debtor_agent_bic,
        transfer.creditor_agent_bic,
        transfer.instructing_agent_bic,
        transfer.instructed_agent_bic,
    ):
        if bic is not None:
            _check_bic(bic)
    for value in (transfer.end_to_end_id, transfer.instruction_id, transfer.transaction_id):
        if value is not None:
            _check_text(value, ID_LENGTH_MAX, "identification")
    for value in (transfer.debtor_name, transfer.creditor_name, *transfer.remittance_unstructured):
        if value is not None:
            _check_text(value, NAME_LENGTH_MAX, "name or remittance line")
    if transfer.creditor_reference is not None:
        _check_text(transfer.creditor_reference, ID_LENGTH_MAX, "creditor reference")


def _check_bic(bic: str) -> None:
    try:
        BIC(bic)
    except ValueError:
        raise InvalidInput(f"BIC {bic!r} is invalid", code="bic_invalid") from None


def _check_text(value: str, length_max: int, what: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > length_max:
        raise InvalidInput(f"{what} must be 1 to {length_max} characters", code="text_length_invalid")


# --- reading ------------------------------------------------------------------------------------


def read_pacs008(
    data: bytes, *, schemas: SchemaSet | None = None, require_schema: bool = True
) -> Pacs008Message:
    """Read a pacs.008.001.08/.09 (bare or in a SWIFT envelope).

    Validated against its XSD when configured; without it, ``SchemaUnavailable``
    unless ``require_schema`` is off (the result then says
    ``schema_validated=False``). Amounts are checked as in pain.001.
    """
    received = parse_document(data, expected="pacs.008")
    name = message_name_of(received.namespace)
    if name not in PACS008_VERSIONS:
        problem = Problem(
            "message_version_unsupported", f"namespace {received.namespace!r}", line_of(received.document)
        )
        raise MessageRefused("pacs.008", [problem])
    p = Paths(received.namespace)
    message_id = text_at(received.document, p("FIToFICstmrCdtTrf/GrpHdr/MsgId"))
    validated = (schemas or default_schemas()).check_received(
        received.document, name, require_schema=require_schema, message_id=message_id
    )
    root = received.document.find(p("FIToFICstmrCdtTrf"))
    if root is None or root.find(p("GrpHdr")) is None:
        problem = Problem(
            "element_missing", "FIToFICstmrCdtTrf/GrpHdr is missing", line_of(received.document)
        )
        raise MessageRefused(name, [problem], message_id=message_id)
    problems: list[Problem] = []
    transfers = tuple(_read_transfer(p, element, problems) for element in root.iterfind(p("CdtTrfTxInf")))
    header = root.find(p("GrpHdr"))
    try:
        creation_time = datetime_from_text(text_at(header, p("CreDtTm")))
    except ValueError as error:
        problems.append(Problem("creation_time_invalid", str(error), line_of(header)))
        creation_time = None
    if problems or creation_time is None:
        raise MessageRefused(name, problems, message_id=message_id)
    return Pacs008Message(
        message_id=message_id or "",
        creation_time=creation_time,
        transfers=transfers,
        settlement_method=text_at(header, p("SttlmInf/SttlmMtd")) or "",
        message_name=name,
        schema_validated=validated,
    )


def _read_transfer(p: Paths, element: Element, problems: list[Problem]) -> InterbankTransfer:
    amount_element = element.find(p("IntrBkSttlmAmt"))
    currency = amount_element.get("Ccy") if amount_element is not None else None
    end_to_end_id = text_at(element, p("PmtId/EndToEndId")) or ""
    try:
        amount_minor = minor_units_from_text(
            amount_element.text if amount_element is not None else None, currency
        )
    except InvalidInput as error:
        problems.append(
            Problem(error.code, error.message, line_of(amount_element), end_to_end_id=end_to_end_id)
        )
        amount_minor = 0
    settlement_text = text_at(element, p("IntrBkSttlmDt"))
    try:
        settlement_date = date_from_text(settlement_text)
    except ValueError:
        problems.append(
            Problem("settlement_date_missing", "IntrBkSttlmDt is absent or not a date", line_of(element))
        )
        settlement_date = date.min
    return InterbankTransfer(
        end_to_end_id=end_to_end_id,
        amount_minor=amount_minor,
        currency=currency or "",
        settlement_date=settlement_date,
        debtor_agent_bic=text_at(element, p("DbtrAgt/FinInstnId/BICFI")) or "",
        creditor_agent_bic=text_at(element, p("CdtrAgt/FinInstnId/BICFI")) or "",
        charge_bearer=text_at(element, p("ChrgBr")) or "",
        instruction_id=text_at(element, p("PmtId/InstrId")),
        transaction_id=text_at(element, p("PmtId/TxId")),
        uetr=text_at(element, p("PmtId/UETR")),
        debtor_name=text_at(element, p("Dbtr/Nm")),
        debtor_iban=text_at(element, p("DbtrAcct/Id/IBAN")),
        debtor_account_other=text_at(element, p("DbtrAcct/Id/Othr/Id")),
        creditor_name=text_at(element, p("Cdtr/Nm")),
        creditor_iban=text_at(element, p("CdtrAcct/Id/IBAN")),
        creditor_account_other=text_at(element, p("CdtrAcct/Id/Othr/Id")),
        instructing_agent_bic=text_at(element, p("InstgAgt/FinInstnId/BICFI")),
        instructed_agent_bic=text_at(element, p("InstdAgt/FinInstnId/BICFI")),
        remittance_unstructured=texts_at(element, p("RmtInf/Ustrd")),
        creditor_reference=text_at(element, p("RmtInf/Strd/CdtrRefInf/Ref")),
    )
