"""goAML-style XML (the international option): one ``report`` with its transactions.

Element names and order follow UNODC's published goAML schema
documentation; ``schemas/goaml-subset.xsd`` is netfin's own schema for the
subset written here, not UNODC's file. A suspicious filing becomes an STR
and a large-value filing a CTR. Each transaction is bi-party: the
subject's side is ``t_from_my_client`` (money out) or ``t_to_my_client``
(money in), the counterparty's side ``t_to`` or ``t_from``. For cash, the
other side is the subject in person (the conductor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from lxml import etree  # type: ignore[import-untyped]

from netfin.aml.reports.model import (
    Channel,
    Direction,
    Filing,
    FilingKind,
    PartyKind,
    ReportInvalid,
    ReportTransaction,
    Subject,
)
from netfin.aml.reports.pboc import ordered
from netfin.core.money import currency_exponent

_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
_RATE_QUANTUM = Decimal("0.000001")
_DEFAULT_CODES = {channel: channel.value.upper() for channel in Channel}


@dataclass(frozen=True, slots=True)
class GoamlProfile:
    """One FIU's lookups. Each FIU publishes its own codes; these defaults are placeholders to replace."""

    submission_code: str = "E"  # E electronic, M manual
    funds_codes: dict[Channel, str] = field(default_factory=lambda: dict(_DEFAULT_CODES))
    transmode_codes: dict[Channel, str] = field(default_factory=lambda: dict(_DEFAULT_CODES))
    phone_contact_type: str = "BUSINESS"
    phone_communication_type: str = "LANDLINE"
    address_type: str = "BUSINESS"


def goaml_date(value: datetime) -> str:
    """goAML's ``yyyy-mm-ddThh:mm:ss``: the local time of the filing's timestamp, offset dropped."""
    return value.replace(microsecond=0, tzinfo=None).isoformat()


def decimal_amount(amount_minor: int, currency: str) -> str:
    """Minor units as a decimal string with the currency's places (``12345`` CNY -> ``123.45``); exact."""
    exponent = currency_exponent(currency)
    return f"{Decimal(amount_minor).scaleb(-exponent):.{exponent}f}"


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def build(filing: Filing, profile: GoamlProfile) -> etree._Element:
    entity = filing.reporting_entity
    if entity.goaml_rentity_id is None:
        raise ReportInvalid(
            "goAML needs the FIU's id for the reporting entity", code="report_rentity_id_missing"
        )
    if filing.subject.kind == PartyKind.PERSON and not (
        filing.subject.family_name and filing.subject.given_name
    ):
        raise ReportInvalid(
            "goAML needs the subject's family and given names", code="report_subject_name_split"
        )
    root = etree.Element("report")
    _add(root, "rentity_id", str(entity.goaml_rentity_id))
    if entity.branch_code:
        _add(root, "rentity_branch", entity.branch_code)
    _add(root, "submission_code", profile.submission_code)
    _add(root, "report_code", "STR" if filing.kind == FilingKind.SUSPICIOUS else "CTR")
    _add(root, "entity_reference", filing.filing_id)
    _add(root, "submission_date", goaml_date(filing.created_at))
    _add(root, "currency_code_local", filing.local_currency)
    if entity.reporter_family_name and entity.reporter_given_name:
        person = _add(root, "reporting_person")
        _add(person, "first_name", entity.reporter_given_name)
        _add(person, "last_name", entity.reporter_family_name)
        _phones(person, entity.reporter_phone, profile)
    if filing.reason:
        _add(root, "reason", filing.reason)
    if filing.action:
        _add(root, "action", filing.action)
    for t in ordered(filing.transactions):
        _transaction(root, filing, t, profile)
    indicators = _add(root, "report_indicators")
    codes = filing.indicators if filing.kind == FilingKind.SUSPICIOUS else [
        t.criterion.value for t in filing.transactions if t.criterion is not None
    ]  # fmt: skip
    for code in sorted(set(codes)):
        _add(indicators, "indicator", code)
    return root


def _transaction(root: etree._Element, filing: Filing, t: ReportTransaction, profile: GoamlProfile) -> None:
    element = _add(root, "transaction")
    _add(element, "transactionnumber", t.transaction_id)
    _add(element, "internal_ref_number", filing.case_id)
    if t.location:
        _add(element, "transaction_location", t.location)
    _add(element, "transaction_description", t.purpose)
    _add(element, "date_transaction", goaml_date(t.occurred_at))
    _add(element, "transmode_code", profile.transmode_codes[t.channel])
    _add(element, "amount_local", decimal_amount(_local_minor(filing, t), filing.local_currency))
    outgoing = t.direction == Direction.OUT
    mine = _add(element, "t_from_my_client" if outgoing else "t_from")
    if outgoing:
        _client_side(mine, "from", filing, t, profile)
        _counterparty_side(_add(element, "t_to"), "to", filing, t, profile)
    else:
        _counterparty_side(mine, "from", filing, t, profile)
        _client_side(_add(element, "t_to_my_client"), "to", filing, t, profile)


def _local_minor(filing: Filing, t: ReportTransaction) -> int:
    if t.currency == filing.local_currency:
        return t.amount_minor
    if t.local_amount_minor is None:
        raise ReportInvalid(
            f"transaction {t.transaction_id} is in {t.currency}; "
            f"goAML needs its amount in {filing.local_currency} too",
            code="report_local_amount_missing",
        )
    return t.local_amount_minor


def _client_side(
    side: etree._Element, prefix: str, filing: Filing, t: ReportTransaction, profile: GoamlProfile
) -> None:
    _add(side, f"{prefix}_funds_code", profile.funds_codes[t.channel])
    if t.currency != filing.local_currency:
        _foreign_currency(side, prefix, filing, t)
    subject, entity = filing.subject, filing.reporting_entity
    account = _add(side, f"{prefix}_account")
    _add(account, "institution_name", entity.name)
    _add(account, "institution_code", entity.institution_code)
    if entity.branch_code:
        _add(account, "branch", entity.branch_code)
    _add(account, "account", subject.account_number)
    _add(account, "currency_code", t.currency)
    _add(account, "account_name", subject.name)
    _add(account, "client_number", subject.subject_id)
    if subject.kind == PartyKind.ENTITY:
        _entity(_add(account, "t_entity"), subject, profile)
    else:
        signatory = _add(account, "signatory")
        _add(signatory, "is_primary", "true")
        _person(_add(signatory, "t_person"), subject, profile)
    _add(side, f"{prefix}_country", entity.country)


def _counterparty_side(
    side: etree._Element, prefix: str, filing: Filing, t: ReportTransaction, profile: GoamlProfile
) -> None:
    _add(side, f"{prefix}_funds_code", profile.funds_codes[t.channel])
    if t.channel == Channel.CASH:
        # Cash has no account on the other side: the subject brought or took it in person.
        subject = filing.subject
        if subject.kind == PartyKind.PERSON:
            _person(_add(side, f"{prefix}_person"), subject, profile)
        else:
            _entity(_add(side, f"{prefix}_entity"), subject, profile)
    elif t.counterparty_account:
        account = _add(side, f"{prefix}_account")
        if t.counterparty_institution:
            _add(account, "institution_name", t.counterparty_institution)
        code = t.counterparty_institution_code
        if code:
            _add(account, "swift" if _BIC.fullmatch(code) else "institution_code", code)
        _add(account, "account", t.counterparty_account)
        _add(account, "account_name", t.counterparty_name)
    elif t.counterparty_kind == PartyKind.ENTITY:
        _add(_add(side, f"{prefix}_entity"), "name", t.counterparty_name)
    else:
        raise ReportInvalid(
            f"transaction {t.transaction_id}: goAML needs the counterparty's account or a split name",
            code="report_counterparty_unidentified",
        )
    _add(side, f"{prefix}_country", t.counterparty_country)


def _foreign_currency(side: etree._Element, prefix: str, filing: Filing, t: ReportTransaction) -> None:
    local_minor = _local_minor(filing, t)
    node = _add(side, f"{prefix}_foreign_currency")
    _add(node, "foreign_currency_code", t.currency)
    _add(node, "foreign_amount", decimal_amount(t.amount_minor, t.currency))
    with localcontext() as context:
        context.prec = 40
        local = Decimal(local_minor).scaleb(-currency_exponent(filing.local_currency))
        foreign = Decimal(t.amount_minor).scaleb(-currency_exponent(t.currency))
        rate = (local / foreign).quantize(_RATE_QUANTUM, rounding=ROUND_HALF_EVEN)
    _add(node, "foreign_exchange_rate", f"{rate:f}")


def _phones(parent: etree._Element, number: str, profile: GoamlProfile) -> None:
    phone = _add(_add(parent, "phones"), "phone")
    _add(phone, "tph_contact_type", profile.phone_contact_type)
    _add(phone, "tph_communication_type", profile.phone_communication_type)
    _add(phone, "tph_number", number)


def _address(parent: etree._Element, subject: Subject, profile: GoamlProfile) -> None:
    if subject.city:
        address = _add(_add(parent, "addresses"), "address")
        _add(address, "address_type", profile.address_type)
        _add(address, "address", subject.address)
        _add(address, "city", subject.city)
        _add(address, "country_code", subject.nationality)


def _person(node: etree._Element, subject: Subject, profile: GoamlProfile) -> None:
    _add(node, "first_name", subject.given_name)
    _add(node, "last_name", subject.family_name)
    _add(node, "id_number", subject.id_number)
    _add(node, "nationality1", subject.nationality)
    _phones(node, subject.phone, profile)
    _address(node, subject, profile)
    _add(node, "occupation", subject.occupation)
    identification = _add(node, "identification")
    _add(identification, "type", subject.id_type.value)
    _add(identification, "number", subject.id_number)
    _add(identification, "issue_country", subject.nationality)


def _entity(node: etree._Element, subject: Subject, profile: GoamlProfile) -> None:
    _add(node, "name", subject.name)
    _add(node, "incorporation_number", subject.id_number)
    _add(node, "business", subject.occupation)
    _phones(node, subject.phone, profile)
    _address(node, subject, profile)
    _add(node, "incorporation_country_code", subject.nationality)
