"""pain.001 (customer credit transfer initiation) import: parse, validate, check.

A received pain.001 is refused whole or accepted whole. The stages, each of
which refuses with ``MessageRefused`` listing every problem it found (code,
line, sentence):

1. hardened parsing (``document.parse_document``): size, well-formedness
   (``xml_malformed`` with the line), no DOCTYPE (``xml_doctype_forbidden``);
2. the version from the namespace: pain.001.001.03, .09 and .10, and the Swiss
   SIX variant pain.001.001.03.ch.02 (see below); anything else is
   ``message_version_unsupported``;
3. the XSD (``schema_invalid`` with the line and libxml2's reason; a schema
   error on an amount is given the amount's own code, e.g. a negative amount
   is ``amount_not_positive``);
4. business rules: IBANs (schwifty, ``iban_invalid``), BICs (``bic_invalid``),
   amounts (more decimal places than the currency has,
   ``amount_precision_invalid``; zero, ``amount_not_positive``), NbOfTxs and
   CtrlSum of the group header and of every PmtInf (exact decimal comparison;
   ``number_of_transactions_mismatch``, ``control_sum_mismatch``), duplicate
   end-to-end, instruction and payment-information ids within the file
   (``*_duplicate``; the ISO placeholder ``NOTPROVIDED`` may repeat), payment
   method (cheques are not accepted: ``payment_method_unsupported``), a
   creditor account on every transfer (``creditor_account_missing``).

Swiss pain.001.001.03.ch.02: SIX publishes it as a restriction of
pain.001.001.03 in its own namespace. Its elements are renamed into the .03
namespace in memory and validated against the base .03 XSD; the Swiss
restrictions themselves are therefore not enforced (the SIX XSD is not
configured). Line numbers are unaffected.

Message ids across files: a MsgId must not repeat per sender, which needs
state this module does not own. ``read_pain001`` returns the MsgId;
``import_pain001`` asks a caller-owned ``MessageIdRegistry`` and refuses a
repeat with ``message_id_duplicate``.

Public names: ``read_pain001``, ``import_pain001``, ``MessageIdRegistry``,
``InMemoryMessageIdRegistry``, ``PAIN001_VERSIONS``, ``TRANSACTIONS_MAX``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from schwifty import BIC, IBAN

from netfin.core.errors import InvalidInput
from netfin.core.money import is_currency
from netfin.payments.iso20022.document import (
    ISO_NAMESPACE_PREFIX,
    MESSAGE_SIZE_MAX,
    Element,
    Paths,
    ReceivedDocument,
    children_by_tag,
    line_of,
    local_name,
    namespace_of,
    parse_document,
    text_at,
    text_of,
)
from netfin.payments.iso20022.errors import MessageRefused
from netfin.payments.iso20022.model import (
    END_TO_END_ID_NOT_PROVIDED,
    EXACT,
    CreditTransfer,
    Pain001Message,
    PaymentInstruction,
    Problem,
    date_from_text,
    datetime_from_text,
    minor_units_from_text,
)
from netfin.payments.iso20022.xsd import SchemaSet, default_schemas, schema_error_subject

# Credit transfers in one file; a larger file is refused before its rows are read.
TRANSACTIONS_MAX = 100_000
SIX_CH02_NAMESPACE = "http://www.six-interbank-clearing.com/de/pain.001.001.03.ch.02.xsd"
PAYMENT_METHODS_ACCEPTED = frozenset({"TRF", "TRA"})
_AMOUNT_ELEMENTS = frozenset({"InstdAmt", "Amt"})
_TRANSFER_FIELDS = (
    *("PmtId", "EndToEndId", "InstrId", "UETR", "Amt", "InstdAmt", "EqvtAmt", "CcyOfTrf", "ChrgBr"),
    *("Cdtr", "Nm", "CdtrAcct", "CdtrAgt", "Id", "IBAN", "Othr", "FinInstnId", "BIC", "BICFI"),
    *("RmtInf", "Ustrd", "Strd", "CdtrRefInf", "Ref"),
)


@dataclass(frozen=True, slots=True)
class Pain001Version:
    name: str  # what the message is
    schema: str  # the XSD it is validated against
    legacy_layout: bool  # .03: <BIC>, ReqdExctnDt is a date (later: <BICFI>, Dt/DtTm choice)


PAIN001_VERSIONS: dict[str, Pain001Version] = {
    ISO_NAMESPACE_PREFIX + "pain.001.001.03": Pain001Version("pain.001.001.03", "pain.001.001.03", True),
    SIX_CH02_NAMESPACE: Pain001Version("pain.001.001.03.ch.02", "pain.001.001.03", True),
    ISO_NAMESPACE_PREFIX + "pain.001.001.09": Pain001Version("pain.001.001.09", "pain.001.001.09", False),
    ISO_NAMESPACE_PREFIX + "pain.001.001.10": Pain001Version("pain.001.001.10", "pain.001.001.10", False),
}


def read_pain001(
    data: bytes, *, schemas: SchemaSet | None = None, size_max: int = MESSAGE_SIZE_MAX
) -> Pain001Message:
    """Parse, validate and check a pain.001; the accepted message or ``MessageRefused``.

    Raises ``SchemaUnavailable`` when the version's XSD is not configured.
    ``size_max`` (bytes) may be lowered by a caller with a smaller request limit.
    """
    received = parse_document(data, expected="pain.001", size_max=size_max)
    version = _version_of(received)
    document = received.document
    schema_namespace = ISO_NAMESPACE_PREFIX + version.schema
    if received.namespace != schema_namespace:
        _rename_namespace(document, received.namespace, schema_namespace)
    paths = Paths(schema_namespace)
    message_id = text_at(document, paths("CstmrCdtTrfInitn/GrpHdr/MsgId"))
    problems = (schemas or default_schemas()).problems(document, version.schema)
    if problems:
        refined = _refine_schema_problems(document, problems)
        raise MessageRefused(version.name, refined, message_id=message_id)
    reader = _Reader(document, paths, version)
    message = reader.read()
    if reader.problems:
        raise MessageRefused(version.name, reader.problems, message_id=message_id)
    return message


class MessageIdRegistry(Protocol):
    """The caller's record of message ids already received, per sender."""

    def register(self, sender: str, message_id: str) -> bool:
        """Record ``message_id`` for ``sender``; False when it was recorded before."""
        ...


class InMemoryMessageIdRegistry:
    """A ``MessageIdRegistry`` for tests and single-process tools."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def register(self, sender: str, message_id: str) -> bool:
        key = (sender, message_id)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True


def import_pain001(
    data: bytes,
    *,
    sender: str,
    registry: MessageIdRegistry,
    schemas: SchemaSet | None = None,
    size_max: int = MESSAGE_SIZE_MAX,
) -> Pain001Message:
    """``read_pain001``, then refuse a MsgId ``sender`` has used before.

    The id is registered only once every other check passed, so a refused
    file can be corrected and sent again under the same MsgId. A registry
    backed by the payment store should register in the transaction that
    books the orders.
    """
    message = read_pain001(data, schemas=schemas, size_max=size_max)
    if not registry.register(sender, message.message_id):
        problem = Problem("message_id_duplicate", f"message id {message.message_id!r} was already received")
        raise MessageRefused(message.message_name, [problem], message_id=message.message_id)
    return message


def _version_of(received: ReceivedDocument) -> Pain001Version:
    version = PAIN001_VERSIONS.get(received.namespace)
    if version is None:
        supported = ", ".join(v.name for v in PAIN001_VERSIONS.values())
        problem = Problem(
            "message_version_unsupported",
            f"namespace {received.namespace!r} is not a supported pain.001 ({supported})",
            line=line_of(received.document),
        )
        raise MessageRefused("pain.001", [problem])
    return version


def _rename_namespace(document: Element, source: str, target: str) -> None:
    prefix = "{" + target + "}"
    for element in document.iter():
        if isinstance(element.tag, str) and namespace_of(element) == source:
            element.tag = prefix + local_name(element)


def _refine_schema_problems(document: Element, problems: list[Problem]) -> list[Problem]:
    """Give schema errors on amounts the amount's own code (negative, not a number)."""
    refined: list[Problem] = []
    amounts_by_line: dict[int, list[Element]] | None = None
    for problem in problems:
        element_name, attribute = schema_error_subject(problem)
        if element_name not in _AMOUNT_ELEMENTS or problem.line is None:
            refined.append(problem)
            continue
        if amounts_by_line is None:
            amounts_by_line = {}
            for element in document.iter():
                # Only amounts carry Ccy; the Amt wrapper of InstdAmt does not.
                is_amount = isinstance(element.tag, str) and element.get("Ccy") is not None
                if is_amount and local_name(element) in _AMOUNT_ELEMENTS:
                    amounts_by_line.setdefault(line_of(element) or 0, []).append(element)
        code = (
            "currency_unknown" if attribute == "Ccy" else _amount_code(amounts_by_line.get(problem.line, []))
        )
        refined.append(Problem(code, problem.message, line=problem.line, path=problem.path))
    return refined


def _amount_code(elements: list[Element]) -> str:
    for element in elements:
        try:
            minor_units_from_text(element.text, element.get("Ccy"))
        except InvalidInput as error:
            return error.code
    return "amount_invalid"


@lru_cache(maxsize=4096)
def _bic_is_valid(text: str) -> bool:
    try:
        BIC(text)
    except ValueError:
        return False
    return True


class _Reader:
    """Reads a schema-valid pain.001 into the model, collecting every problem."""

    def __init__(self, document: Element, paths: Paths, version: Pain001Version) -> None:
        self.document = document
        self.p = paths
        self.version = version
        self.bic = "BIC" if version.legacy_layout else "BICFI"
        self.problems: list[Problem] = []
        self.amounts_valid = True
        self.end_to_end_ids: set[str] = set()
        self.instruction_ids: set[str] = set()
        self.payment_ids: set[str] = set()
        # Qualified tags of the fields read per transfer (a dict lookup per field on the hot path).
        self.t = {name: paths(name) for name in _TRANSFER_FIELDS}

    def problem(
        self, code: str, message: str, element: Element | None, end_to_end_id: str | None = None
    ) -> None:
        self.problems.append(Problem(code, message, line=line_of(element), end_to_end_id=end_to_end_id))

    def read(self) -> Pain001Message:
        p = self.p
        root = self.document.find(p("CstmrCdtTrfInitn"))
        header = root.find(p("GrpHdr"))
        payment_elements = root.findall(p("PmtInf"))
        transfer_count = sum(len(e.findall(p("CdtTrfTxInf"))) for e in payment_elements)
        if transfer_count > TRANSACTIONS_MAX:
            self.problem(
                "too_many_transactions", f"{transfer_count} transfers exceed {TRANSACTIONS_MAX}", header
            )
            raise MessageRefused(self.version.name, self.problems)
        payments: list[PaymentInstruction] = []
        total = Decimal(0)
        for element in payment_elements:
            payment, payment_sum = self.payment(element)
            payments.append(payment)
            total = EXACT.add(total, payment_sum)
        declared_count = int(text_at(header, p("NbOfTxs")) or "0")
        control_sum = self.check_totals(header, "group header", transfer_count, total)
        return Pain001Message(
            message_id=text_at(header, p("MsgId")) or "",
            creation_time=self.creation_time(header),
            initiating_party=text_at(header, p("InitgPty/Nm")),
            payments=tuple(payments),
            message_name=self.version.name,
            number_of_transactions=declared_count,
            control_sum=control_sum,
        )

    def creation_time(self, header: Element) -> datetime:
        element = header.find(self.p("CreDtTm"))
        try:
            return datetime_from_text(element.text)
        except ValueError:
            self.problem(
                "creation_time_invalid", f"CreDtTm {element.text!r} is not a usable date-time", element
            )
            return datetime.min

    def check_totals(self, parent: Element, scope: str, count: int, total: Decimal) -> Decimal | None:
        """Compare NbOfTxs and CtrlSum (where given) with the transfers; the declared CtrlSum."""
        count_element = parent.find(self.p("NbOfTxs"))
        if count_element is not None and int(count_element.text) != count:
            self.problem(
                "number_of_transactions_mismatch",
                f"{scope} declares NbOfTxs {count_element.text.strip()} but holds {count} transfer(s)",
                count_element,
            )
        sum_element = parent.find(self.p("CtrlSum"))
        if sum_element is None:
            return None
        declared = Decimal(sum_element.text.strip())
        if self.amounts_valid and declared != total:
            self.problem(
                "control_sum_mismatch",
                f"{scope} declares CtrlSum {sum_element.text.strip()} but its amounts sum to {total}",
                sum_element,
            )
        return declared

    def payment(self, element: Element) -> tuple[PaymentInstruction, Decimal]:
        p = self.p
        payment_id = text_at(element, p("PmtInfId")) or ""
        self.unique(
            payment_id, self.payment_ids, "payment_information_id_duplicate", element.find(p("PmtInfId"))
        )
        method_element = element.find(p("PmtMtd"))
        method = (method_element.text or "").strip()
        if method not in PAYMENT_METHODS_ACCEPTED:
            self.problem(
                "payment_method_unsupported", f"payment method {method!r} is not accepted", method_element
            )
        charge_bearer = text_at(element, p("ChrgBr"))
        transfers: list[CreditTransfer] = []
        total = Decimal(0)
        for transfer_element in element.iterfind(p("CdtTrfTxInf")):
            transfer, amount = self.transfer(transfer_element, charge_bearer)
            transfers.append(transfer)
            total = EXACT.add(total, amount)
        self.check_totals(element, f"payment information {payment_id!r}", len(transfers), total)
        debtor_iban, debtor_other = self.account(element.find(p("DbtrAcct")))
        debtor_currency_element = element.find(p("DbtrAcct/Ccy"))
        debtor_currency = self.currency(debtor_currency_element)
        payment = PaymentInstruction(
            payment_information_id=payment_id,
            payment_method=method,
            requested_execution_date=self.execution_date(element),
            debtor_name=text_at(element, p("Dbtr/Nm")),
            debtor_iban=debtor_iban,
            debtor_account_other=debtor_other,
            debtor_account_currency=debtor_currency,
            debtor_agent_bic=self.agent_bic(element.find(p("DbtrAgt"))),
            transactions=tuple(transfers),
            charge_bearer=charge_bearer,
        )
        return payment, total

    def execution_date(self, element: Element) -> date:
        p = self.p
        if self.version.legacy_layout:
            date_element = element.find(p("ReqdExctnDt"))
        else:
            date_element = element.find(p("ReqdExctnDt/Dt"))
            if date_element is None:
                date_element = element.find(p("ReqdExctnDt/DtTm"))
        text = (date_element.text or "").strip()
        try:
            return date_from_text(text[:10]) if "T" in text else date_from_text(text)
        except ValueError:
            self.problem("requested_execution_date_invalid", f"{text!r} is not a usable date", date_element)
            return date.min

    def transfer(self, element: Element, payment_charge_bearer: str | None) -> tuple[CreditTransfer, Decimal]:
        t = self.t
        fields = children_by_tag(element)
        identification = children_by_tag(fields.get(t["PmtId"]))
        end_to_end_element = identification.get(t["EndToEndId"])
        end_to_end_id = text_of(end_to_end_element) or ""
        if end_to_end_id != END_TO_END_ID_NOT_PROVIDED:
            self.unique(end_to_end_id, self.end_to_end_ids, "end_to_end_id_duplicate", end_to_end_element)
        instruction_element = identification.get(t["InstrId"])
        instruction_id = text_of(instruction_element)
        if instruction_id is not None:
            self.unique(instruction_id, self.instruction_ids, "instruction_id_duplicate", instruction_element)
        amount_minor, currency, transfer_currency, amount = self.amount(fields.get(t["Amt"]), end_to_end_id)
        creditor_iban, creditor_other = self.account(fields.get(t["CdtrAcct"]), end_to_end_id)
        if creditor_iban is None and creditor_other is None:
            self.problem(
                "creditor_account_missing", "a transfer needs a creditor account", element, end_to_end_id
            )
        remittance: Element = fields.get(t["RmtInf"])
        transfer = CreditTransfer(
            end_to_end_id=end_to_end_id,
            amount_minor=amount_minor,
            currency=currency,
            transfer_currency=transfer_currency,
            instruction_id=instruction_id,
            uetr=text_of(identification.get(t["UETR"])),
            charge_bearer=text_of(fields.get(t["ChrgBr"])) or payment_charge_bearer,
            creditor_name=text_of(children_by_tag(fields.get(t["Cdtr"])).get(t["Nm"])),
            creditor_iban=creditor_iban,
            creditor_account_other=creditor_other,
            creditor_agent_bic=self.agent_bic(fields.get(t["CdtrAgt"]), end_to_end_id),
            remittance_unstructured=self.unstructured(remittance),
            creditor_reference=self.creditor_reference(remittance),
            source_line=line_of(element),
        )
        return transfer, amount

    def unstructured(self, remittance: Element | None) -> tuple[str, ...]:
        if remittance is None:
            return ()
        return tuple(text_of(line) or "" for line in remittance.iterchildren(self.t["Ustrd"]))

    def creditor_reference(self, remittance: Element | None) -> str | None:
        """The first structured creditor reference (Strd/CdtrRefInf/Ref), if any."""
        if remittance is None:
            return None
        t = self.t
        for structured in remittance.iterchildren(t["Strd"]):
            reference = children_by_tag(children_by_tag(structured).get(t["CdtrRefInf"])).get(t["Ref"])
            if reference is not None:
                return text_of(reference)
        return None

    def amount(self, element: Element, end_to_end_id: str) -> tuple[int, str, str, Decimal]:
        """(minor units, currency, transfer currency, decimal value for CtrlSum) of an Amt."""
        t = self.t
        choice = children_by_tag(element)
        amount_element: Element = choice.get(t["InstdAmt"])
        if amount_element is not None:
            currency = amount_element.get("Ccy") or ""
            transfer_currency = currency
        else:
            equivalent = children_by_tag(choice.get(t["EqvtAmt"]))
            amount_element = equivalent.get(t["Amt"])
            currency = amount_element.get("Ccy") or ""
            transfer_currency = self.currency(equivalent.get(t["CcyOfTrf"]), end_to_end_id) or ""
        try:
            minor = minor_units_from_text(amount_element.text, currency)
        except InvalidInput as error:
            self.amounts_valid = False
            self.problem(error.code, error.message, amount_element, end_to_end_id)
            return 0, currency, transfer_currency, Decimal(0)
        return minor, currency, transfer_currency, Decimal(amount_element.text.strip())

    def currency(self, element: Element | None, end_to_end_id: str | None = None) -> str | None:
        if element is None:
            return None
        code = (element.text or "").strip()
        if not is_currency(code):
            self.problem("currency_unknown", f"{code!r} is not an ISO 4217 currency", element, end_to_end_id)
        return code

    def account(
        self, element: Element | None, end_to_end_id: str | None = None
    ) -> tuple[str | None, str | None]:
        """(IBAN, other identification) of a CashAccount element."""
        t = self.t
        identification = children_by_tag(children_by_tag(element).get(t["Id"]))
        iban_element = identification.get(t["IBAN"])
        if iban_element is None:
            return None, text_of(children_by_tag(identification.get(t["Othr"])).get(t["Id"]))
        text = text_of(iban_element) or ""
        try:
            return IBAN(text).compact, None
        except ValueError as error:
            self.problem("iban_invalid", f"IBAN {text!r} is invalid: {error}", iban_element, end_to_end_id)
            return text, None

    def agent_bic(self, element: Element | None, end_to_end_id: str | None = None) -> str | None:
        """The BIC of a BranchAndFinancialInstitutionIdentification element."""
        t = self.t
        bic_element = children_by_tag(children_by_tag(element).get(t["FinInstnId"])).get(t[self.bic])
        if bic_element is None:
            return None
        text = text_of(bic_element) or ""
        if not _bic_is_valid(text):
            self.problem("bic_invalid", f"BIC {text!r} is invalid", bic_element, end_to_end_id)
        return text

    def unique(self, value: str, seen: set[str], code: str, element: Element) -> None:
        if value in seen:
            self.problem(code, f"{value!r} is used more than once in this file", element)
        seen.add(value)
