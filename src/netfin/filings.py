"""Regulatory reports from AML cases: the case's customer, its payments and its reasons, as a filing.

The assembled bank gives the case service this renderer: it reads the
customer from identity and the transactions behind the case's alerts from
the payment orders, builds a ``netfin.aml.reports.Filing`` (which checks
every field) and renders it in the requested layout, validated against its
schema. What the bank does not record (a customer's address, occupation)
is written as not recorded, never invented.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from netfin.aml.cases import Case, FilingKind
from netfin.aml.reports import model as r
from netfin.aml.reports import render
from netfin.core.errors import ConfigurationError, Conflict, NotFound
from netfin.core.ids import parse_id
from netfin.identity.model import PartyKind
from netfin.identity.service import Identity
from netfin.payments.orders import PaymentOrders
from netfin.payments.orders.model import OrderKind, PaymentOrder

NOT_RECORDED = "未登记 (not recorded)"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_CRITERIA = {
    "LV-CASH": r.LargeValueCriterion.CASH,
    "LV-ENTITY-TRANSFER": r.LargeValueCriterion.ENTITY_TRANSFER,
    "LV-PERSON-DOMESTIC": r.LargeValueCriterion.PERSON_DOMESTIC,
    "LV-PERSON-CROSS-BORDER": r.LargeValueCriterion.PERSON_CROSS_BORDER,
}
_ID_TYPES = {"cn.ric": r.IdType.RESIDENT_ID, "cn.uscc": r.IdType.CREDIT_CODE, "passport": r.IdType.PASSPORT}


def reporting_entity_from_env(environ: Mapping[str, str] = os.environ) -> r.ReportingEntity:
    """The reporting institution, from ``NETFIN_AML_*`` settings (the demo's values when unset)."""
    return r.ReportingEntity(
        institution_code=environ.get("NETFIN_AML_INSTITUTION_CODE", "NETFIN-DEMO"),
        name=environ.get("NETFIN_AML_INSTITUTION_NAME", "netfin demo bank"),
        region_code=environ.get("NETFIN_AML_REGION_CODE", "110000"),
        reporter_name=environ.get("NETFIN_AML_REPORTER_NAME", "合规部 Compliance"),
        reporter_phone=environ.get("NETFIN_AML_REPORTER_PHONE", "+86 10 0000 0000"),
        country=environ.get("NETFIN_AML_COUNTRY", "CN"),
        goaml_rentity_id=_positive(environ.get("NETFIN_AML_GOAML_RENTITY_ID")),
    )


def _positive(text: str | None) -> int | None:
    """The FIU's number for this institution (goAML); unset means goAML reports are refused."""
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(
            "NETFIN_AML_GOAML_RENTITY_ID is a positive integer", code="rentity_id_invalid"
        )
    return int(text)


@dataclass(frozen=True, slots=True)
class CaseReports:
    """The renderer the case service calls when a second officer approves a report."""

    identity: Identity
    orders: PaymentOrders
    entity: r.ReportingEntity

    def __call__(
        self, case: Case, alerts: Sequence[Mapping[str, Any]], layout: str, kind: FilingKind, approver: str
    ) -> bytes:
        accounts = {str(a["account"]) for a in alerts}
        orders = self._orders(alerts)
        if not orders:
            raise Conflict(
                f"case {case.case_id} has no booked payment behind its alerts to report",
                code="report_without_transactions",
            )
        scenarios = sorted({str(a["scenario"]) for a in alerts})
        criterion = next((_CRITERIA[s] for s in scenarios if s in _CRITERIA), None)
        filing = r.Filing(
            filing_id=f"F-{case.case_id}",
            kind=r.FilingKind(kind.value),
            case_id=case.case_id,
            created_at=datetime.now(UTC),
            reporting_entity=self.entity,
            subject=self._subject(case, sorted(accounts)[0]),
            transactions=tuple(
                self._transaction(o, accounts, criterion) for o in orders[: r.TRANSACTIONS_PER_FILING_MAX]
            ),
            approvers=(case.proposed_by or "", approver),
            indicators=tuple(s for s in scenarios if s not in _CRITERIA)[:20],
            reason=_reason(case, alerts) if kind is FilingKind.SUSPICIOUS else "",
            action="账户列入持续监测 (account under continued monitoring)"
            if kind is FilingKind.SUSPICIOUS
            else "",
        )
        return render(filing, "goaml" if layout == "goaml" else "pboc")

    def _orders(self, alerts: Sequence[Mapping[str, Any]]) -> list[PaymentOrder]:
        seen: dict[str, PaymentOrder] = {}
        for alert in alerts:
            for txn_id in alert["txn_ids"]:
                if txn_id in seen:
                    continue
                try:
                    seen[txn_id] = self.orders.get(str(txn_id))
                except (NotFound, ValueError):
                    continue  # a transaction from a scanned file, not a payment booked here
        return sorted(seen.values(), key=lambda o: o.created_ns)

    def _subject(self, case: Case, account: str) -> r.Subject:
        try:
            party = self.identity.get_party(parse_id(case.party))
        except (NotFound, ValueError) as error:
            raise Conflict(
                f"case {case.case_id} names no known customer", code="report_subject_unknown"
            ) from error
        identifiers = self.identity.identifiers(party.party_id)
        family, given = _split_name(party.display_name) if party.kind is PartyKind.PERSON else ("", "")
        document = identifiers[0] if identifiers else None
        return r.Subject(
            subject_id=case.party,
            kind=r.PartyKind.PERSON if party.kind is PartyKind.PERSON else r.PartyKind.ENTITY,
            name=party.display_name,
            id_type=_ID_TYPES.get(document.scheme, r.IdType.OTHER) if document else r.IdType.OTHER,
            id_number=document.value if document else NOT_RECORDED,
            nationality=self.entity.country,
            address=NOT_RECORDED,
            phone=party.phone or NOT_RECORDED,
            occupation=NOT_RECORDED,
            account_number=account.split(":", 1)[-1],
            family_name=family,
            given_name=given,
        )

    def _transaction(
        self, order: PaymentOrder, accounts: set[str], criterion: r.LargeValueCriterion | None
    ) -> r.ReportTransaction:
        out = order.payer.key in accounts
        other = order.payee if out else order.payer
        iban = other.id.replace(" ", "").upper()
        abroad = order.kind is OrderKind.CROSS_BORDER and iban[:2].isalpha() and iban[2:4].isdigit()
        return r.ReportTransaction(
            transaction_id=order.order_id,
            occurred_at=datetime.fromtimestamp(order.created_ns / 1e9, tz=UTC),
            amount_minor=order.amount_minor,
            currency=order.currency,
            direction=r.Direction.OUT if out else r.Direction.IN,
            channel=r.Channel.CARD if order.kind is OrderKind.MERCHANT_QR else r.Channel.MOBILE,
            counterparty_name=other.key,
            counterparty_country=iban[:2] if abroad else self.entity.country,
            purpose=order.reference or order.kind.value,
            counterparty_account=other.id if _CODE.fullmatch(other.id) else "",
            counterparty_kind=r.PartyKind.ENTITY if other.kind.value == "biller" else r.PartyKind.PERSON,
            criterion=criterion,
        )


_COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐"}
)


def _split_name(name: str) -> tuple[str, str]:
    """(family, given) as goAML wants them: Han names surname first, others "given … family"."""
    text = " ".join(name.split())
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if han:  # "赵强", or "Zhao Qiang 赵强": the Han name, surname first
        joined = "".join(han)
        cut = 2 if joined[:2] in _COMPOUND_SURNAMES and len(joined) > 2 else 1
        return joined[:cut], joined[cut:] or joined[:cut]
    parts = text.split()
    if len(parts) < 2:
        return text, text
    return parts[-1], " ".join(parts[:-1])


def _reason(case: Case, alerts: Sequence[Mapping[str, Any]]) -> str:
    lines = [case.decision_reason or ""]
    lines += sorted({f"{a['scenario']}: {a['reason_zh']} / {a['reason_en']}" for a in alerts})[:20]
    return "\n".join(line for line in lines if line)[: r.TEXT_LENGTH_MAX]
