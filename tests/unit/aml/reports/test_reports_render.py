"""Large-value and suspicious transaction reports, PBoC and goAML layouts, checked against their schemas."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import xmlschema
from lxml import etree

from netfin.aml.reports import (
    TRANSACTIONS_PER_FILING_MAX,
    Channel,
    Direction,
    Filing,
    FilingKind,
    IdType,
    PartyKind,
    ReportingEntity,
    ReportInvalid,
    ReportTransaction,
    Subject,
    render,
    schema_path,
    validate,
)
from netfin.core.errors import InvalidInput, LimitExceeded

CST = timezone(timedelta(hours=8))
PBOC = "{urn:netfin:aml:pboc:1}"
BANK = ReportingEntity(
    "C1100000000017", "网金银行股份有限公司", "110105", "王芳", "+86 10 6500 0000",
    branch_code="BJ-CY-01", goaml_rentity_id=1001, reporter_family_name="王", reporter_given_name="芳",
)  # fmt: skip
PERSON = Subject(
    "CUST-0001", PartyKind.PERSON, "张伟", IdType.RESIDENT_ID, "110101199003074514", "CN",
    "北京市朝阳区建国路88号", "+8613800000101", "个体经营", "6222020200112233",
    family_name="张", given_name="伟", city="北京",
)  # fmt: skip
COMPANY = Subject(
    "CUST-0900", PartyKind.ENTITY, "上海远航贸易有限公司", IdType.CREDIT_CODE, "91310000MA1FL0XX0X", "CN",
    "上海市浦东新区世纪大道100号", "+86 21 5000 0000", "批发业", "31001234567890",
)  # fmt: skip


def tx(tx_id: str, hour: int, amount_minor: int, **kw: Any) -> ReportTransaction:
    fields: dict[str, Any] = {
        "currency": "CNY", "direction": Direction.OUT, "channel": Channel.TRANSFER,
        "counterparty_name": "李娜", "counterparty_country": "CN", "purpose": "往来款",
        "counterparty_account": "6217000010001234567", "counterparty_institution": "中国建设银行",
        "counterparty_institution_code": "105100000017", "counterparty_kind": PartyKind.PERSON,
    }  # fmt: skip
    fields.update(kw)
    return ReportTransaction(tx_id, datetime(2025, 3, 1, hour, 0, tzinfo=CST), amount_minor, **fields)


def large_value(**kw: Any) -> Filing:
    fields: dict[str, Any] = {
        "filing_id": "LV-2025-0001", "kind": FilingKind.LARGE_VALUE, "case_id": "CASE-77",
        "created_at": datetime(2025, 3, 3, 16, 0, tzinfo=CST), "reporting_entity": BANK, "subject": PERSON,
        "transactions": (
            tx("T2", 14, 6_000_000, channel=Channel.CASH, direction=Direction.IN, counterparty_name="张伟",
               counterparty_account="", counterparty_institution="", counterparty_institution_code="",
               criterion="0501"),
            tx("T1", 9, 60_000_000, criterion="0503"),
            tx("T3", 16, 3_000_000, currency="USD", counterparty_country="HK", counterparty_name="ACME Ltd",
               counterparty_kind=PartyKind.ENTITY, counterparty_institution="HSBC",
               counterparty_institution_code="HSBCHKHHHKH", counterparty_account="HK0012345678",
               local_amount_minor=21_600_000, criterion="0504"),
        ),
        "approvers": ("analyst-1", "officer-2"),
    }  # fmt: skip
    fields.update(kw)
    return Filing(**fields)


def suspicious(**kw: Any) -> Filing:
    fields: dict[str, Any] = {
        "kind": FilingKind.SUSPICIOUS, "filing_id": "STR-2025-0009", "subject": COMPANY,
        "transactions": tuple(tx(f"S{i}", 8 + i, 4_990_000 + i, direction=Direction.IN) for i in range(5)),
        "indicators": ("STRUCT-01", "FANIN-02"),
        "reason": "短期内资金分散转入、集中转出，金额接近大额标准，与客户经营规模明显不符。",
        "action": "提高客户风险等级为高风险，限制非柜面交易，持续监测。",
        "suspected_offence": "非法集资",
    }  # fmt: skip
    fields.update(kw)
    return large_value(**fields)


FILINGS = {"large_value": large_value, "suspicious": suspicious}
TOO_MANY = TRANSACTIONS_PER_FILING_MAX + 1


@pytest.mark.parametrize("layout", ["pboc", "goaml"])
@pytest.mark.parametrize("kind", ["large_value", "suspicious"])
def test_each_layout_is_valid_against_its_schema_by_two_validators(kind: str, layout: Any) -> None:
    filing = FILINGS[kind]()
    document = render(filing, layout)
    path = schema_path(layout, filing.kind)
    validate(document, path)
    assert xmlschema.XMLSchema(str(path)).is_valid(document.decode("utf-8"))
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_pboc_large_value_carries_what_article_5_asks() -> None:
    root = etree.fromstring(render(large_value()))
    assert root.tag == f"{PBOC}LargeValueTransactionReport"
    assert root.findtext(f"{PBOC}Header/{PBOC}Institution/{PBOC}RegionCode") == "110105"
    assert root.findtext(f"{PBOC}Header/{PBOC}TransactionCount") == "3"
    rows = root.findall(f"{PBOC}Transactions/{PBOC}Transaction")
    assert [r.findtext(f"{PBOC}TransactionId") for r in rows] == ["T1", "T2", "T3"]  # in time order
    assert [r.findtext(f"{PBOC}Criterion") for r in rows] == ["0503", "0501", "0504"]
    usd = rows[2].find(f"{PBOC}Amount")
    assert (usd.text, usd.get("currency"), usd.get("exponent")) == ("3000000", "USD", "2")
    assert rows[2].find(f"{PBOC}LocalAmount").text == "21600000"
    assert root.find(f"{PBOC}Suspicion") is None


def test_pboc_suspicious_carries_features_analysis_and_measures() -> None:
    root = etree.fromstring(render(suspicious()))
    assert [f.text for f in root.iter(f"{PBOC}Feature")] == ["FANIN-02", "STRUCT-01"]  # sorted
    assert root.findtext(f"{PBOC}Suspicion/{PBOC}MeasuresTaken").startswith("提高客户风险等级")
    assert root.findtext(f"{PBOC}Customer/{PBOC}Identification/{PBOC}Type") == "credit_code"
    assert root.find(f"{PBOC}Customer").get("kind") == "entity"
    assert [a.get("role") for a in root.iter(f"{PBOC}Approver")] == ["preparer", "reviewer"]


def test_goaml_sides_amounts_and_codes() -> None:
    root = etree.fromstring(render(large_value(), "goaml"))
    head = ("rentity_id", "submission_code", "report_code", "currency_code_local")
    assert [root.findtext(t) for t in head] == [
        "1001", "E", "CTR", "CNY",
    ]  # fmt: skip
    first, cash, foreign = root.findall("transaction")
    assert first.findtext("amount_local") == "600000.00"
    assert first.find("t_from_my_client/from_account/signatory/t_person/last_name").text == "张"
    assert first.findtext("t_to/to_account/account") == "6217000010001234567"
    # Cash comes in: the subject hands it over in person; it lands on the subject's account.
    assert cash.find("t_from/from_person/first_name").text == "伟"
    assert cash.findtext("t_to_my_client/to_account/account") == "6222020200112233"
    assert foreign.findtext("amount_local") == "216000.00"
    assert foreign.findtext("t_from_my_client/from_foreign_currency/foreign_amount") == "30000.00"
    assert foreign.findtext("t_from_my_client/from_foreign_currency/foreign_exchange_rate") == "7.200000"
    assert foreign.findtext("t_to/to_account/swift") == "HSBCHKHHHKH"
    assert [i.text for i in root.iter("indicator")] == ["0501", "0503", "0504"]
    str_root = etree.fromstring(render(suspicious(), "goaml"))
    assert str_root.findtext("report_code") == "STR" and str_root.findtext("reason").startswith("短期内")
    assert str_root.find("transaction/t_to_my_client/to_account/t_entity/name").text == "上海远航贸易有限公司"


def test_chinese_text_round_trips_in_utf8() -> None:
    document = render(suspicious())
    assert "上海远航贸易有限公司".encode() in document
    root = etree.fromstring(document)
    assert root.findtext(f"{PBOC}Customer/{PBOC}Name") == "上海远航贸易有限公司"
    assert root.findtext(f"{PBOC}Suspicion/{PBOC}SuspectedOffence") == "非法集资"


def test_output_is_deterministic_whatever_the_input_order() -> None:
    filing = suspicious()
    shuffled = dataclasses.replace(
        filing,
        transactions=tuple(reversed(filing.transactions)),
        indicators=tuple(reversed(filing.indicators)),
    )
    for layout in ("pboc", "goaml"):
        assert render(filing, layout) == render(filing, layout) == render(shuffled, layout)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        (lambda: tx("X", 9, -100), InvalidInput, "report_amount_not_positive"),
        (lambda: tx("X", 9, 0), InvalidInput, "report_amount_not_positive"),
        (lambda: tx("X", 9, 100.0), InvalidInput, "report_amount_malformed"),
        (lambda: tx("X", 9, 100, currency="XXQ"), InvalidInput, "report_currency_unknown"),
        (lambda: dataclasses.replace(PERSON, subject_id=""), InvalidInput, "report_subject_id_missing"),
        (lambda: dataclasses.replace(PERSON, id_number=" "), InvalidInput, "report_subject_id_missing"),
        (lambda: large_value(approvers=("analyst-1",)), InvalidInput, "report_four_eyes_missing"),
        (lambda: large_value(approvers=("a", "a")), InvalidInput, "report_four_eyes_missing"),
        (lambda: suspicious(indicators=()), InvalidInput, "report_indicators_missing"),
        (lambda: suspicious(reason=""), InvalidInput, "report_field_missing"),
        (lambda: large_value(transactions=(tx("T", 9, 1),)), InvalidInput, "report_criterion_missing"),
        (lambda: large_value(transactions=(tx("T", 9, 1, criterion="0502"),)), InvalidInput,
         "report_criterion_mismatch"),
        (lambda: large_value(transactions=(tx("T", 9, 1, criterion="0501"),)), InvalidInput,
         "report_criterion_mismatch"),
        (lambda: large_value(created_at=datetime(2025, 3, 3)), InvalidInput, "report_time_naive"),
        (lambda: suspicious(reason="x" * 4001), LimitExceeded, "report_field_too_long"),
        (lambda: suspicious(transactions=tuple(tx(f"S{i}", 9, 1) for i in range(TOO_MANY))),
         LimitExceeded, "report_too_many_transactions"),
        (lambda: suspicious(transactions=(tx("S", 9, 1), tx("S", 10, 2))), InvalidInput,
         "report_transaction_repeated"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_by_name(change: Any, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as caught:
        change()
    assert caught.value.code == code  # type: ignore[attr-defined]


def test_goaml_needs_what_pboc_does_not() -> None:
    with pytest.raises(ReportInvalid) as caught:
        render(large_value(reporting_entity=dataclasses.replace(BANK, goaml_rentity_id=None)), "goaml")
    assert caught.value.code == "report_rentity_id_missing"
    with pytest.raises(ReportInvalid) as caught:
        render(large_value(subject=dataclasses.replace(PERSON, given_name="")), "goaml")
    assert caught.value.code == "report_subject_name_split"
    no_local = tx("T9", 9, 100, currency="USD", criterion="0504")
    assert render(large_value(transactions=(no_local,)))  # PBoC takes the amount as it was
    with pytest.raises(ReportInvalid) as caught:
        render(large_value(transactions=(no_local,)), "goaml")
    assert caught.value.code == "report_local_amount_missing"


def test_a_document_that_fails_its_schema_is_never_returned() -> None:
    # Kuwaiti dinars have three decimal places; goAML amounts have two. The model allows it, the schema not.
    filing = suspicious(local_currency="KWD", transactions=(tx("K1", 9, 1_234_567, currency="KWD"),))
    assert render(filing)  # the PBoC layout keeps minor units and is fine
    with pytest.raises(ReportInvalid) as caught:
        render(filing, "goaml")
    assert caught.value.code == "report_schema_invalid"
    assert any("amount_local" in e and "fractionDigits" in e for e in caught.value.errors)


def test_validate_lists_every_failure() -> None:
    root = etree.fromstring(render(large_value()))
    header = root.find(f"{PBOC}Header")
    header.remove(header.find(f"{PBOC}CaseId"))
    root.find(f"{PBOC}Transactions/{PBOC}Transaction/{PBOC}Amount").text = "-5"
    with pytest.raises(ReportInvalid) as caught:
        validate(etree.tostring(root), schema_path("pboc", FilingKind.LARGE_VALUE))
    assert caught.value.code == "report_schema_invalid" and len(caught.value.errors) == 2
    with pytest.raises(ReportInvalid) as caught:
        validate(b"<not-closed>", schema_path("goaml", FilingKind.SUSPICIOUS))
    assert caught.value.code == "report_malformed"
    with pytest.raises(InvalidInput) as caught:
        render(large_value(), "fincen")  # type: ignore[arg-type]
    assert caught.value.code == "report_layout_unknown"
