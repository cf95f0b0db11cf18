"""pacs.002 (FI to FI payment status report): build, read, and report on a pain.001.

``build_pacs002`` writes pacs.002.001.11 with a group status and
per-transaction statuses, each with ExternalStatusReason1Code reasons, and
validates it against its XSD before returning it.

``status_report_for_pain001`` accepts an imported pain.001 (every transfer
with one status); ``status_report_for_refusal`` turns a ``MessageRefused``
into a group rejection (RJCT) whose reasons map each problem code to the ISO
reason code (``REASON_CODES``, ``NARR`` with the sentence where none fits),
and lists the transactions a problem names.

Public names: ``build_pacs002``, ``read_pacs002``, ``status_report_for_pain001``,
``status_report_for_refusal``, ``REASON_CODES``, ``PACS002_VERSION``.
"""

from __future__ import annotations

from datetime import datetime

from netfin.core.errors import InvalidInput
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
    EmittedMessage,
    Pain001Message,
    Problem,
    StatusReason,
    StatusReport,
    TransactionStatus,
    datetime_from_text,
    text_from_datetime,
)
from netfin.payments.iso20022.xsd import SchemaSet, default_schemas

PACS002_VERSION = "pacs.002.001.11"
_READABLE_VERSIONS = ("pacs.002.001.10", "pacs.002.001.11")
# Reasons and transactions written into one status report.
STATUS_REASONS_MAX = 100
STATUS_TRANSACTIONS_MAX = 100_000
ADDITIONAL_INFORMATION_LENGTH_MAX = 105
STATUS_CODES = frozenset({"ACCP", "ACTC", "ACSP", "ACSC", "ACWC", "PDNG", "RCVD", "RJCT", "PART", "ACCC"})

# Problem code -> ExternalStatusReason1Code (ISO 20022 external code sets).
REASON_CODES: dict[str, str] = {
    "message_too_large": "FF01",
    "xml_malformed": "FF01",
    "xml_doctype_forbidden": "FF01",
    "message_type_unexpected": "FF01",
    "message_version_unsupported": "FF01",
    "schema_invalid": "FF02",
    "iban_invalid": "AC01",
    "creditor_account_missing": "AC01",
    "bic_invalid": "RC01",
    "currency_unknown": "AM03",
    "amount_not_a_number": "AM12",
    "amount_not_positive": "AM12",
    "amount_precision_invalid": "AM12",
    "amount_too_large": "AM02",
    "amount_invalid": "AM12",
    "control_sum_mismatch": "AM10",
    "number_of_transactions_mismatch": "AM18",
    "message_id_duplicate": "DU01",
    "payment_information_id_duplicate": "DU02",
    "end_to_end_id_duplicate": "DU04",
    "instruction_id_duplicate": "DU05",
    "payment_method_unsupported": "FF03",
}


def status_report_for_pain001(
    message: Pain001Message, *, message_id: str, creation_time: datetime, status: str = "ACCP"
) -> StatusReport:
    """Every transfer of an accepted pain.001 with ``status`` (ACCP by default)."""
    transactions = tuple(
        TransactionStatus(
            status=status,
            original_end_to_end_id=transfer.end_to_end_id,
            original_instruction_id=transfer.instruction_id,
            original_uetr=transfer.uetr,
        )
        for _, transfer in message.transactions()
    )
    return StatusReport(
        message_id=message_id,
        creation_time=creation_time,
        original_message_id=message.message_id,
        original_message_name=message.message_name,
        group_status=status,
        transactions=transactions,
        original_creation_time=message.creation_time,
        original_number_of_transactions=message.number_of_transactions,
        original_control_sum=message.control_sum,
    )


def status_report_for_refusal(
    refusal: MessageRefused,
    *,
    message_id: str,
    creation_time: datetime,
    original_message_id: str | None = None,
) -> StatusReport:
    """A group rejection listing the refusal's problems as ISO reasons.

    ``original_message_id`` is needed when the refused file's own MsgId could
    not be read (``original_message_id_unknown`` otherwise).
    """
    original = original_message_id or refusal.message_id
    if original is None:
        raise InvalidInput("the refused message's id is unknown", code="original_message_id_unknown")
    reasons = tuple(_reason(problem) for problem in refusal.problems[:STATUS_REASONS_MAX])
    by_transaction: dict[str, list[StatusReason]] = {}
    for problem in refusal.problems:
        if problem.end_to_end_id is not None:
            by_transaction.setdefault(problem.end_to_end_id, []).append(_reason(problem))
    transactions = tuple(
        TransactionStatus("RJCT", original_end_to_end_id=e2e, reasons=tuple(found[:STATUS_REASONS_MAX]))
        for e2e, found in by_transaction.items()
    )
    return StatusReport(
        message_id=message_id,
        creation_time=creation_time,
        original_message_id=original,
        original_message_name=refusal.message_name,
        group_status="RJCT",
        group_reasons=reasons,
        transactions=transactions[:STATUS_TRANSACTIONS_MAX],
    )


def _reason(problem: Problem) -> StatusReason:
    text = problem.describe()[:ADDITIONAL_INFORMATION_LENGTH_MAX]
    return StatusReason(code=REASON_CODES.get(problem.code, "NARR"), additional_information=(text,))


# --- writing ------------------------------------------------------------------------------------


def build_pacs002(report: StatusReport, *, schemas: SchemaSet | None = None) -> EmittedMessage:
    """Write ``report`` as pacs.002.001.11, validated against its XSD."""
    _check_report(report)
    builder = Builder(ISO_NAMESPACE_PREFIX + PACS002_VERSION)
    document = builder.document()
    root = builder.add(document, "FIToFIPmtStsRpt")
    header = builder.add(root, "GrpHdr")
    builder.add(header, "MsgId", report.message_id)
    builder.add(header, "CreDtTm", text_from_datetime(report.creation_time))
    _add_agent(builder, header, "InstgAgt", report.instructing_agent_bic)
    _add_agent(builder, header, "InstdAgt", report.instructed_agent_bic)
    group = builder.add(root, "OrgnlGrpInfAndSts")
    builder.add(group, "OrgnlMsgId", report.original_message_id)
    builder.add(group, "OrgnlMsgNmId", report.original_message_name)
    if report.original_creation_time is not None:
        builder.add(group, "OrgnlCreDtTm", text_from_datetime(report.original_creation_time))
    if report.original_number_of_transactions is not None:
        builder.add(group, "OrgnlNbOfTxs", str(report.original_number_of_transactions))
    if report.original_control_sum is not None:
        builder.add(group, "OrgnlCtrlSum", format(report.original_control_sum, "f"))
    builder.add_optional(group, "GrpSts", report.group_status)
    for reason in report.group_reasons:
        _add_reason(builder, group, reason)
    for transaction in report.transactions:
        element = builder.add(root, "TxInfAndSts")
        builder.add_optional(element, "OrgnlInstrId", transaction.original_instruction_id)
        builder.add_optional(element, "OrgnlEndToEndId", transaction.original_end_to_end_id)
        builder.add_optional(element, "OrgnlUETR", transaction.original_uetr)
        builder.add(element, "TxSts", transaction.status)
        for reason in transaction.reasons:
            _add_reason(builder, element, reason)
    return (schemas or default_schemas()).emitted(document, PACS002_VERSION)


def _add_agent(builder: Builder, parent: Element, name: str, bic: str | None) -> None:
    if bic is not None:
        builder.add_path(parent, f"{name}/FinInstnId/BICFI", bic)


def _add_reason(builder: Builder, parent: Element, reason: StatusReason) -> None:
    element = builder.add(parent, "StsRsnInf")
    if reason.code is not None:
        builder.add_path(element, "Rsn/Cd", reason.code)
    elif reason.proprietary is not None:
        builder.add_path(element, "Rsn/Prtry", reason.proprietary)
    for line in reason.additional_information:
        builder.add(element, "AddtlInf", line)


def _check_report(report: StatusReport) -> None:
    statuses = [report.group_status] if report.group_status is not None else []
    statuses += [t.status for t in report.transactions]
    for status in statuses:
        if status not in STATUS_CODES:
            raise InvalidInput(f"status {status!r} is not a payment status code", code="status_invalid")
    if len(report.group_reasons) > STATUS_REASONS_MAX or len(report.transactions) > STATUS_TRANSACTIONS_MAX:
        raise InvalidInput("too many reasons or transactions for one report", code="status_report_too_large")
    reasons = list(report.group_reasons)
    for transaction in report.transactions:
        reasons.extend(transaction.reasons)
    for reason in reasons:
        if reason.code is not None and not 1 <= len(reason.code) <= 4:
            raise InvalidInput(f"reason code {reason.code!r}", code="reason_code_invalid")
        if any(len(line) > ADDITIONAL_INFORMATION_LENGTH_MAX for line in reason.additional_information):
            raise InvalidInput("additional information over 105 characters", code="text_length_invalid")
    for value in (report.message_id, report.original_message_id, report.original_message_name):
        if not value or len(value) > 35:
            raise InvalidInput("ids must be 1 to 35 characters", code="text_length_invalid")


# --- reading ------------------------------------------------------------------------------------


def read_pacs002(
    data: bytes, *, schemas: SchemaSet | None = None, require_schema: bool = True
) -> StatusReport:
    """Read a pacs.002.001.10/.11 (bare or in a SWIFT envelope) into a ``StatusReport``.

    A report may carry several original groups; the first is read.
    """
    received = parse_document(data, expected="pacs.002")
    name = message_name_of(received.namespace)
    if name not in _READABLE_VERSIONS:
        problem = Problem(
            "message_version_unsupported", f"namespace {received.namespace!r}", line_of(received.document)
        )
        raise MessageRefused("pacs.002", [problem])
    p = Paths(received.namespace)
    message_id = text_at(received.document, p("FIToFIPmtStsRpt/GrpHdr/MsgId"))
    (schemas or default_schemas()).check_received(
        received.document, name, require_schema=require_schema, message_id=message_id
    )
    root = received.document.find(p("FIToFIPmtStsRpt"))
    if root is None or message_id is None:
        problem = Problem(
            "element_missing", "FIToFIPmtStsRpt/GrpHdr/MsgId is missing", line_of(received.document)
        )
        raise MessageRefused(name, [problem])
    group = root.find(p("OrgnlGrpInfAndSts"))
    transactions = tuple(_read_transaction(p, element) for element in root.iterfind(p("TxInfAndSts")))
    original_id = text_at(group, p("OrgnlMsgId")) if group is not None else None
    original_name = text_at(group, p("OrgnlMsgNmId")) if group is not None else None
    if group is None and transactions:
        original_id = text_at(root, p("TxInfAndSts/OrgnlGrpInf/OrgnlMsgId"))
        original_name = text_at(root, p("TxInfAndSts/OrgnlGrpInf/OrgnlMsgNmId"))
    count_text = text_at(group, p("OrgnlNbOfTxs")) if group is not None else None
    return StatusReport(
        message_id=message_id or "",
        creation_time=datetime_from_text(text_at(root, p("GrpHdr/CreDtTm"))),
        original_message_id=original_id or "",
        original_message_name=original_name or "",
        group_status=text_at(group, p("GrpSts")) if group is not None else None,
        group_reasons=tuple(_read_reason(p, e) for e in group.iterfind(p("StsRsnInf")))
        if group is not None
        else (),
        transactions=transactions,
        original_number_of_transactions=int(count_text) if count_text is not None else None,
    )


def _read_transaction(p: Paths, element: Element) -> TransactionStatus:
    return TransactionStatus(
        status=text_at(element, p("TxSts")) or "",
        original_end_to_end_id=text_at(element, p("OrgnlEndToEndId")),
        original_instruction_id=text_at(element, p("OrgnlInstrId")),
        original_uetr=text_at(element, p("OrgnlUETR")),
        reasons=tuple(_read_reason(p, e) for e in element.iterfind(p("StsRsnInf"))),
    )


def _read_reason(p: Paths, element: Element) -> StatusReason:
    return StatusReason(
        code=text_at(element, p("Rsn/Cd")),
        proprietary=text_at(element, p("Rsn/Prtry")),
        additional_information=texts_at(element, p("AddtlInf")),
    )
