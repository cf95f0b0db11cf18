"""The operations console: role-based sections, CSRF, audited reads and changes, ledger and audit checks."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwk

from netfin.aml.monitoring.model import Alert
from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import LimitExceeded
from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind, Role
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus
from netfin.web import console
from netfin.web.console import _score_bucket
from netfin.web.i18n import CATALOGS

OPERATOR = Actor("operator", "operator-1")
BASE_URL = "https://testserver"
PAGE_BYTES_MAX = 100 * 1024
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
PAGES = ("/console", "/console/risk", "/console/aml", "/console/tpps", "/console/audit")
# Which console sections each role opens (the overview opens for every member of staff).
SECTIONS = {
    "operator": {"/console/tpps"},
    "risk_analyst": {"/console/risk"},
    "compliance": {"/console/aml", "/console/tpps", "/console/audit"},
    "auditor": {"/console/tpps", "/console/audit"},
    "regulator": {"/console/aml", "/console/tpps", "/console/audit"},
}
_phones = iter(range(100, 10_000))


@dataclass
class Staff:
    party_id: int
    password: str
    roles: list[str]


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    yield opened
    opened.close()


def _console(bank: Bank) -> TestClient:
    return TestClient(create_app(bank), base_url=BASE_URL, follow_redirects=False)


def _staff(bank: Bank, *roles: str) -> Staff:
    party = bank.identity.register_party(
        OPERATOR, kind=PartyKind.PERSON, display_name="-".join(roles).title(),
        phone=f"+86138000{next(_phones):05d}", roles=[Role(r) for r in roles],
    )  # fmt: skip
    password = f"correct horse {'-'.join(roles)} battery"
    bank.credentials.set_password(party.party_id, password)
    return Staff(party.party_id, password, list(roles))


def _sign_in(bank: Bank, staff: Staff) -> TestClient:
    """A session as ``POST /sign-in`` issues it (see ``test_staff_sign_in_through_the_form``)."""
    http = _console(bank)
    session = bank.oauth.issue_session(
        party_id=staff.party_id, roles=staff.roles, amr=["pwd"], auth_time_ns=bank.clock.now_ns()
    )
    http.cookies.set("netfin_session", session.token)
    return http


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def _actions(bank: Bank, prefix: str) -> list[Any]:
    return [e for e in bank.audit.query(limit=1000).entries if e.action.startswith(prefix)]


def _customer(bank: Bank, name: str, funds_minor: int) -> tuple[int, str]:
    party = bank.identity.register_party(
        OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=f"+86138000{next(_phones):05d}"
    )
    for step in ("remote_id_check", "bank_card"):
        bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=step, reference=f"ref-{step}")
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY", nickname=f"{name} pay")
    bank.identity.deposit_cash(OPERATOR, account.account_id, funds_minor)
    return party.party_id, account.account_id


def _declined_payment(bank: Bank) -> str:
    """A payment that the risk engine declines (an analyst blocked the payee): a decision to review."""
    payer, source = _customer(bank, "Li Na", 1_000_000)
    _, target = _customer(bank, "Wu Gang", 1_000)
    bank.risk.set_override(Actor("risk_analyst", "analyst-0"), f"account:{target}", "block", reason="mule")
    request = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT, Endpoint(EndpointKind.ACCOUNT, source),
        Endpoint(EndpointKind.ACCOUNT, target), 12_345, "CNY",
    )  # fmt: skip
    order = bank.orders.submit(OPERATOR, payer, request, idempotency_key="console-k1")
    assert order.status is OrderStatus.REJECTED
    (decision,) = bank.risk.review_queue(limit=5)
    return decision.decision_id


def _aml_case(bank: Bank, clock: ManualClock) -> str:
    alert = Alert(
        scenario="STR-FAN-IN", scenario_version=1, profile_version="test", account="acct-mule",
        ts_ms=clock.now_ns() // 1_000_000, severity="high", reason_en="many payers, one payee",
        reason_zh="多人汇入同一账户", facts={"payers": 10}, txn_ids=("t1", "t2"), typology="money_mule",
    )  # fmt: skip
    (case_id,) = bank.aml.cases.ingest([alert], party_of={"acct-mule": "party-mule"}).case_ids
    return case_id


def _sql(bank: Bank, text: str, params: Sequence[Any] = ()) -> None:
    """Raw SQL behind the ledger's back, as the ledger's tamper tests do it."""
    c: Any = bank.ledger.store.c  # type: ignore[attr-defined]
    if bank.ledger.store.dialect == "postgresql":
        with c.transaction():
            c.execute(text.replace("?", "%s"), tuple(params))
        return
    c.execute(text, tuple(params))


# Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_each_role_sees_exactly_its_sections(bank: Bank, role: str) -> None:
    staff = _staff(bank, role)
    http = _sign_in(bank, staff)
    overview = http.get("/console")
    assert overview.status_code == 200
    linked = set(re.findall(r'href="(/console/[a-z]+)"', overview.text))
    assert linked == SECTIONS[role]
    for path in PAGES[1:]:
        response = http.get(path)
        assert response.status_code == (200 if path in SECTIONS[role] else 403), (role, path)
    refusals = [e for e in _actions(bank, "console.access") if e.actor_id == format_id(staff.party_id)]
    assert len(refusals) == len(PAGES) - 1 - len(SECTIONS[role])
    assert all(e.outcome == "refused" and e.actor_kind == role for e in refusals)


def test_anonymous_visitors_are_sent_to_sign_in_and_customers_refused(bank: Bank) -> None:
    http = _console(bank)
    posts = ("/console/ledger/verify", "/console/audit/verify", f"/console/risk/rd-{'0' * 32}/label")
    for path in PAGES:
        response = http.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/"
    for path in posts:
        assert http.post(path, data={"csrf": "0" * 64}).status_code == 303
    party_id, _ = _customer(bank, "Alice", 100)
    session = bank.oauth.issue_session(
        party_id=party_id, roles=["customer"], amr=["pwd"], auth_time_ns=bank.clock.now_ns()
    )
    http.cookies.set("netfin_session", session.token)
    for path in PAGES:
        assert http.get(path).status_code == 403
    assert http.post(posts[0], data={"csrf": "0" * 64}).status_code == 403
    assert "/console/verify" not in http.get("/console").text


def test_staff_sign_in_through_the_form(bank: Bank) -> None:
    staff = _staff(bank, "auditor")
    http = _console(bank)
    response = http.post(
        "/sign-in",
        data={"csrf": _csrf(http.get("/").text), "party_id": format_id(staff.party_id),
              "password": staff.password},
    )  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == "/console"
    assert http.get("/console").status_code == 200


def test_every_post_checks_the_csrf_token(bank: Bank) -> None:
    decision_id = _declined_payment(bank)
    http = _sign_in(bank, _staff(bank, "operator", "risk_analyst", "auditor"))
    for path, data in (
        ("/console/ledger/verify", {}),
        ("/console/audit/verify", {}),
        (f"/console/risk/{decision_id}/label", {"label": "confirmed_fraud"}),
    ):
        forged = http.post(path, data={**data, "csrf": "f" * 64})
        assert forged.status_code == 403, path
        missing = http.post(path, data=data)
        assert missing.status_code == 403, path
    assert [d.decision_id for d in bank.risk.review_queue(limit=5)] == [decision_id]
    assert "The ledger has not been verified" in http.get("/console", headers={"Accept-Language": "en"}).text
    assert len(_actions(bank, "console.csrf")) == 6


# Risk review ---------------------------------------------------------------------------------


def test_an_analyst_labels_a_decision_through_the_console(bank: Bank) -> None:
    decision_id = _declined_payment(bank)
    analyst = _staff(bank, "risk_analyst")
    http = _sign_in(bank, analyst)
    page = http.get("/console/risk", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert f'id="decision-{decision_id}"' in page.text and "override_block" in page.text
    assert 'name="label" value="confirmed_fraud"' in page.text
    assert 'name="label" value="false_positive"' in page.text
    assert "123.45" in page.text  # the amount, formatted from minor units
    assert page.text.count('class="chart chart-histogram"') == 1
    assert _actions(bank, "console.read.risk_queue")[-1].detail == {"decisions": 1}

    bad = http.post(f"/console/risk/{decision_id}/label", data={"csrf": _csrf(page.text), "label": "maybe"})
    assert bad.status_code == 422 or bad.status_code == 400
    done = http.post(
        f"/console/risk/{decision_id}/label",
        data={"csrf": _csrf(page.text), "label": "false_positive", "note": "known payee"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/risk"
    assert bank.risk.review_queue(limit=5) == []
    assert bank.risk.store.training_pairs(5)[-1][1].value == "false_positive"  # type: ignore[union-attr]
    (changed,) = _actions(bank, "risk.label")
    assert changed.actor_id == format_id(analyst.party_id) and changed.detail == {"outcome": "false_positive"}
    (console_entry,) = _actions(bank, "console.risk.label")
    assert console_entry.outcome == "succeeded" and console_entry.subject_id == decision_id
    again = http.post(
        f"/console/risk/{decision_id}/label", data={"csrf": _csrf(page.text), "label": "confirmed_fraud"}
    )
    assert again.status_code == 303  # a later finding replaces the label
    assert f'id="decision-{decision_id}"' not in http.get("/console/risk").text


def test_only_risk_analysts_label(bank: Bank) -> None:
    decision_id = _declined_payment(bank)
    http = _sign_in(bank, _staff(bank, "operator"))
    token = _csrf(http.get("/console").text)
    refused = http.post(f"/console/risk/{decision_id}/label", data={"csrf": token, "label": "false_positive"})
    assert refused.status_code == 403
    assert [d.decision_id for d in bank.risk.review_queue(limit=5)] == [decision_id]


# The ledger ------------------------------------------------------------------------------------


def test_ledger_verify_shows_ok_then_the_first_bad_entry(bank: Bank) -> None:
    _, account_id = _customer(bank, "Alice", 50_000)
    checkpoint = bank.ledger.checkpoint()
    http = _sign_in(bank, _staff(bank, "operator"))
    overview = http.get("/console", headers={"Accept-Language": "en"})
    assert f'<th scope="row">{checkpoint.seq}</th>' in overview.text
    assert checkpoint.root.hex()[:16] in overview.text
    done = http.post("/console/ledger/verify", data={"csrf": _csrf(overview.text)})
    assert done.status_code == 303 and done.headers["location"].startswith("/console")
    ok = http.get("/console", headers={"Accept-Language": "en"}).text
    assert "The ledger verified" in ok and "did not verify" not in ok

    transfer_id = bank.identity.deposit_cash(OPERATOR, account_id, 7_00)
    _sql(bank, "UPDATE transfers SET amount = amount + 1 WHERE id = ?", (transfer_id.to_bytes(16, "big"),))
    http.post("/console/ledger/verify", data={"csrf": _csrf(ok)})
    bad = http.get("/console", headers={"Accept-Language": "en"}).text
    report = bank.ledger.verify()
    assert not report.ok and report.first_error is not None
    assert "The ledger did not verify" in bad
    assert f'<strong class="bad-entry">journal entry {report.first_error.seq}</strong>' in bad
    outcomes = [e.outcome for e in _actions(bank, "console.ledger.verify")]
    assert outcomes == ["succeeded", "failed"]
    assert _actions(bank, "console.ledger.verify")[-1].detail["first_bad_seq"] == report.first_error.seq


# AML ---------------------------------------------------------------------------------------------


def test_a_regulator_reads_aml_but_every_post_is_refused(bank: Bank, clock: ManualClock) -> None:
    case_id = _aml_case(bank, clock)
    clock.advance(seconds=4 * 86_400)  # past the 72-hour SLA of a high-severity case
    regulator = _staff(bank, "regulator")
    http = _sign_in(bank, regulator)
    page = http.get("/console/aml", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert case_id in page.text and "party-mule" in page.text and "STR-FAN-IN" in page.text
    assert "Breached" in page.text and "4 d 0 h" in page.text
    assert '<form method="post" action="/console/aml' not in page.text
    assert 'class="chart chart-bar"' in page.text
    token = _csrf(page.text)
    for path in (f"/console/aml/{case_id}/assign", "/console/ledger/verify", "/console/audit/verify"):
        assert http.post(path, data={"csrf": token}).status_code == 403, path
    reads = [e for e in _actions(bank, "aml.") if e.actor_id == format_id(regulator.party_id)]
    assert {"aml.cases.listed", "aml.dashboard.read"} <= {e.action for e in reads}
    assert _actions(bank, "console.read.aml_cases")[-1].actor_kind == "regulator"

    officer = _staff(bank, "compliance")
    worker = _sign_in(bank, officer)
    own = worker.get("/console/aml")
    assert f'action="/console/aml/{case_id}/assign"' in own.text
    taken = worker.post(f"/console/aml/{case_id}/assign", data={"csrf": _csrf(own.text)})
    assert taken.status_code == 303
    (case,) = bank.aml.cases.cases(Actor("compliance", "x"), limit=5)
    assert case.assignee == format_id(officer.party_id)
    assert _actions(bank, "console.aml.assign")[-1].outcome == "succeeded"


# Third parties -------------------------------------------------------------------------------------


def test_tpps_and_their_consents_are_listed(bank: Bank) -> None:
    key = jwk.ECKey.generate_key("P-256")
    registration = bank.oauth.register_client(
        "Budget <App>", auth_method="private_key_jwt", jwks={"keys": [dict(key.as_dict(private=False))]},
        scopes=["accounts"],
    )  # fmt: skip
    consent = bank.consents.create_account_access(
        Actor("tpp", registration.client_id), registration.client_id,
        permissions=["ReadAccountsBasic", "ReadBalances"], expiration_ns=None, transaction_from_ns=None,
        transaction_to_ns=None,
    )  # fmt: skip
    http = _sign_in(bank, _staff(bank, "auditor"))
    page = http.get("/console/tpps", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Budget &lt;App&gt;" in page.text and "Budget <App>" not in page.text
    assert registration.client_id in page.text and consent.consent_id in page.text
    assert "ReadAccountsBasic, ReadBalances" in page.text
    assert _actions(bank, "console.read.tpps")[-1].detail == {"clients": 1, "consents": 1}


def test_consents_list_recent_is_newest_first_and_limited(bank: Bank, clock: ManualClock) -> None:
    ids = []
    for client in ("tpp-a", "tpp-b", "tpp-a"):
        consent = bank.consents.create_account_access(
            Actor("tpp", client), client, permissions=["ReadAccountsBasic"], expiration_ns=None,
            transaction_from_ns=None, transaction_to_ns=None,
        )  # fmt: skip
        ids.append(consent.consent_id)
        clock.advance(seconds=1)
    assert [c.consent_id for c in bank.consents.list_recent()] == ids[::-1]
    assert [c.consent_id for c in bank.consents.list_recent(limit=1)] == [ids[2]]
    assert [c.consent_id for c in bank.consents.list_recent(client_id="tpp-a")] == [ids[2], ids[0]]
    for bad in (0, 201):
        with pytest.raises(LimitExceeded):
            bank.consents.list_recent(limit=bad)


# The audit log -------------------------------------------------------------------------------------


def test_the_audit_page_filters_and_paginates_newest_first(bank: Bank) -> None:
    for n in range(25):
        bank.audit.record(actor_kind="system", actor_id=f"job-{n % 2}", action=f"test.step_{n}",
                          outcome="succeeded")  # fmt: skip
    http = _sign_in(bank, _staff(bank, "auditor"))
    seen: list[int] = []
    url = "/console/audit?action=test.&limit=10"
    pages = 0
    while url:
        page = http.get(url)
        assert page.status_code == 200
        seqs = [int(s) for s in re.findall(r'<th scope="row" class="num">(\d+)</th>', page.text)]
        assert len(seqs) <= 10 and seqs == sorted(seqs, reverse=True)
        seen += seqs
        pages += 1
        found = re.search(r'<a href="(/console/audit\?[^"]+)" rel="next">', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert pages == 3 and len(seen) == 25 and len(set(seen)) == 25
    actor = http.get("/console/audit?action=test.&actor=job-1&limit=100").text
    assert actor.count("<code>job-1</code>") == 12 and "<code>job-0</code>" not in actor
    assert http.get("/console/audit?limit=101").status_code in (400, 422)
    assert http.get("/console/audit?action=nothing.here").text.count('scope="row"') == 0
    reads = _actions(bank, "console.read.audit_log")
    assert len(reads) == 5 and reads[0].detail["entries"] == 10


def test_the_audit_chain_is_verified_from_the_console(bank: Bank) -> None:
    http = _sign_in(bank, _staff(bank, "compliance"))
    page = http.get("/console/audit", headers={"Accept-Language": "en"})
    assert 'action="/console/audit/verify"' in page.text
    done = http.post("/console/audit/verify", data={"csrf": _csrf(page.text)})
    assert done.status_code == 303
    assert "The audit chain verified." in http.get("/console/audit", headers={"Accept-Language": "en"}).text
    assert _actions(bank, "console.audit.verify")[-1].outcome == "succeeded"


# Pages -----------------------------------------------------------------------------------------------


def test_every_page_is_small_in_both_languages_and_secured(bank: Bank, clock: ManualClock) -> None:
    _declined_payment(bank)
    _aml_case(bank, clock)
    bank.ledger.checkpoint()
    for n in range(150):
        bank.audit.record(actor_kind="system", actor_id="job", action=f"test.bulk_{n}", outcome="succeeded")
    http = _sign_in(bank, _staff(bank, "operator", "risk_analyst", "compliance", "auditor"))
    css_bytes = len(http.get("/assets/portal.css").content) + len(http.get("/assets/console.css").content)
    assert http.get("/assets/console.css").headers["content-type"].startswith("text/css")
    for path in (*PAGES, "/console/audit?limit=100"):
        english = http.get(path, headers={"Accept-Language": "en"})
        chinese = http.get(path, headers={"Accept-Language": "zh-CN"})
        for response in (english, chinese):
            assert response.status_code == 200, path
            assert len(response.content) + css_bytes <= PAGE_BYTES_MAX, path
            assert response.headers["content-security-policy"].startswith("default-src 'self'")
            assert "<script" not in response.text and "http://" not in response.text.replace(
                'xmlns="http://www.w3.org/2000/svg"', ""
            )
        assert '<html lang="en">' in english.text and "Operations console" in english.text
        assert '<html lang="zh-CN">' in chinese.text and "运营控制台" in chinese.text
        assert "Operations console" not in chinese.text
    assert "风险复核队列" in http.get("/console/risk", headers={"Accept-Language": "zh"}).text
    assert "反洗钱预警与案件" in http.get("/console/aml", headers={"Accept-Language": "zh"}).text


def test_scores_fall_into_ten_buckets_by_integer_arithmetic() -> None:
    assert [_score_bucket(s) for s in (0.0, 0.05, 0.1, 0.55, 0.999, 1.0, 1.7, -0.2)] == [
        0,
        0,
        1,
        5,
        9,
        9,
        9,
        0,
    ]
    assert _score_bucket(Decimal("0.35")) == 3 and _score_bucket(None) is None


def test_every_console_string_is_translated_in_both_catalogues() -> None:
    templates = Path(console.__file__).parent / "templates"
    sources = [p.read_text("utf-8") for p in sorted(templates.glob("console_*.html"))]
    sources.append(Path(console.__file__).read_text("utf-8"))
    literals = {m for text in sources for m in re.findall(r'_\(\s*"([^"]+)"\s*\)', text)}
    keyed = {f"role.{r.value}" for r in Role} | {s.title for s in console.SECTIONS}
    keyed |= {label for _, label in console.AGE_BUCKETS} | {f"risk.{v}" for v in console.LABEL_BUTTONS}
    for lang in ("zh", "en"):
        missing = sorted(m for m in literals | keyed if m not in CATALOGS[lang])
        assert not missing, (lang, missing)
    assert CATALOGS["zh"]["Operations console"] != CATALOGS["en"]["Operations console"]
