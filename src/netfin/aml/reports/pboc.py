"""The PBoC layouts: large-value (大额交易报告) and suspicious (可疑交易报告) transaction reports.

The element tree follows ``schemas/pboc-*.xsd``; docs/aml-reports.md maps
every element to what PBoC Order [2016] No. 3 asks a report to carry.
Transactions are written in time order (then by id), so one filing always
gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lxml import etree  # type: ignore[import-untyped]

from netfin.aml.reports.model import Filing, FilingKind, ReportTransaction
from netfin.core.money import currency_exponent

NAMESPACE = "urn:netfin:aml:pboc:1"
VERSION = "1.0"
_NS = f"{{{NAMESPACE}}}"


def timestamp(value: datetime) -> str:
    """Local time with its UTC offset, to the second (``2025-03-01T09:30:00+08:00``)."""
    return value.replace(microsecond=0).isoformat()


def ordered(transactions: Sequence[ReportTransaction]) -> list[ReportTransaction]:
    return sorted(transactions, key=lambda t: (t.occurred_at, t.transaction_id))


def _add(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _NS + tag, attributes)
    if text is not None:
        element.text = text
    return element


def build(filing: Filing) -> etree._Element:
    large = filing.kind == FilingKind.LARGE_VALUE
    root_tag = "LargeValueTransactionReport" if large else "SuspiciousTransactionReport"
    root = etree.Element(_NS + root_tag, {"version": VERSION}, nsmap={None: NAMESPACE})
    _header(root, filing)
    if not large:
        _add(root, "ReportCount", filing.report_count.value)
        _add(root, "Urgency", filing.urgency.value)
    _customer(root, filing)
    if not large:
        suspicion = _add(root, "Suspicion")
        features = _add(suspicion, "Features")
        for code in sorted(set(filing.indicators)):
            _add(features, "Feature", code)
        _add(suspicion, "Analysis", filing.reason)
        _add(suspicion, "MeasuresTaken", filing.action)
        if filing.suspected_offence:
            _add(suspicion, "SuspectedOffence", filing.suspected_offence)
    transactions = _add(root, "Transactions")
    for t in ordered(filing.transactions):
        _transaction(transactions, t, filing.local_currency, large)
    approvals = _add(root, "Approvals")
    for position, approver in enumerate(filing.approvers):
        _add(approvals, "Approver", approver, role="preparer" if position == 0 else "reviewer")
    return root


def _header(root: etree._Element, filing: Filing) -> None:
    header = _add(root, "Header")
    _add(header, "ReportId", filing.filing_id)
    _add(header, "CaseId", filing.case_id)
    _add(header, "CreatedAt", timestamp(filing.created_at))
    entity = filing.reporting_entity
    institution = _add(header, "Institution")
    _add(institution, "Code", entity.institution_code)
    _add(institution, "Name", entity.name)
    _add(institution, "RegionCode", entity.region_code)
    if entity.branch_code:
        _add(institution, "BranchCode", entity.branch_code)
    reporter = _add(institution, "Reporter")
    _add(reporter, "Name", entity.reporter_name)
    _add(reporter, "Phone", entity.reporter_phone)
    _add(header, "TransactionCount", str(len(filing.transactions)))


def _customer(root: etree._Element, filing: Filing) -> None:
    subject = filing.subject
    customer = _add(root, "Customer", kind=subject.kind.value)
    _add(customer, "CustomerId", subject.subject_id)
    _add(customer, "Name", subject.name)
    identification = _add(customer, "Identification")
    _add(identification, "Type", subject.id_type.value)
    _add(identification, "Number", subject.id_number)
    _add(customer, "Nationality", subject.nationality)
    _add(customer, "OccupationOrIndustry", subject.occupation)
    _add(customer, "Address", subject.address)
    _add(customer, "Phone", subject.phone)
    _add(customer, "Account", subject.account_number)


def _money(parent: etree._Element, tag: str, amount_minor: int, currency: str) -> None:
    _add(parent, tag, str(amount_minor), currency=currency, exponent=str(currency_exponent(currency)))


def _transaction(parent: etree._Element, t: ReportTransaction, local_currency: str, large: bool) -> None:
    element = _add(parent, "Transaction")
    _add(element, "TransactionId", t.transaction_id)
    _add(element, "OccurredAt", timestamp(t.occurred_at))
    _money(element, "Amount", t.amount_minor, t.currency)
    if t.local_amount_minor is not None and t.currency != local_currency:
        _money(element, "LocalAmount", t.local_amount_minor, local_currency)
    _add(element, "Direction", t.direction.value)
    _add(element, "Channel", t.channel.value)
    if t.location:
        _add(element, "Location", t.location)
    counterparty = _add(element, "Counterparty", kind=t.counterparty_kind.value)
    _add(counterparty, "Name", t.counterparty_name)
    if t.counterparty_account:
        _add(counterparty, "Account", t.counterparty_account)
    if t.counterparty_institution or t.counterparty_institution_code:
        institution = _add(counterparty, "Institution")
        if t.counterparty_institution:
            _add(institution, "Name", t.counterparty_institution)
        if t.counterparty_institution_code:
            _add(institution, "Code", t.counterparty_institution_code)
    _add(counterparty, "Country", t.counterparty_country)
    _add(element, "Purpose", t.purpose)
    if large and t.criterion is not None:
        _add(element, "Criterion", t.criterion.value)
