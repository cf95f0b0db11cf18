"""The demo's second act: open banking and payments over the real HTTP API, in-process.

A customer signs up and enrols a passkey, a budgeting app (TPP) gets the
customer's consent to read one account, a shop's payment app initiates a
payment the customer approves with the passkey, the customer revokes the
read consent, and the next read is refused. Then payments: the customer
opens an anonymous wallet, tops it up, pays the shop by scanning its QR code
(a new payee: confirmed with a passkey bound to amount and payee), pays
again until the wallet's daily limit, held in the ledger, refuses; a
regulator, stating a reason, learns who holds the pseudonymous wallet. Then
risk: a fraud model trained on the synthetic bank joins the risk engine, a
burst of tiny QR payments (card testing) is declined, and an analyst reads
the reasons and labels the decision. Then credit: the customer borrows
(decision with reasons, an exact schedule, the money from the loan's own
ledger account), a marketplace offers her "pay later" at its checkout under
her consent and the shop is paid at once, and a tea grower's ESG evidence
earns a greener rate. The audit log and the ledger are verified at the end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.api.v1.payments import NETFIN_QR_GUID
from netfin.bank import Bank, BankSettings
from netfin.core.money import Money
from netfin.credit.origination import Application
from netfin.credit.pricing import EsgEvidence
from netfin.identity.model import Actor, PartyKind, Role
from netfin.payments import format_amount
from netfin.payments.qr import MerchantQr, Template, generate_payload
from netfin.risk.evaluation import evaluate_history
from netfin.risk.model import Scorer
from netfin.risk.rules import load_default_ruleset
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator
from netfin.sim.bank import BankConfig, generate

BASE_URL = "http://127.0.0.1:8000"
ORIGIN = "http://localhost:8000"
OB = ob.OB


@dataclass
class StoryStep:
    actor: str
    action: str
    result: str


@dataclass
class Story:
    steps: list[StoryStep] = field(default_factory=list)
    audit_entries: int = 0
    audit_ok: bool = False
    ledger_ok: bool = False
    customer_party_id: str = ""

    def add(self, actor: str, action: str, result: str) -> None:
        self.steps.append(StoryStep(actor, action, result))

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [s.__dict__ for s in self.steps],
            "audit": {"ok": self.audit_ok, "entries": self.audit_entries},
            "ledger_ok": self.ledger_ok,
        }


def run_story(database_url: str) -> Story:
    story = Story()
    with Bank(BankSettings(database_url=database_url, issuer=BASE_URL, origins=(ORIGIN,))) as bank:
        with TestClient(create_app(bank), base_url=BASE_URL) as http:
            _act(http, bank, story)
        report = bank.audit.verify()
        story.audit_ok, story.audit_entries = report.ok, report.entries
        story.ledger_ok = bank.ledger.verify().ok
    return story


def _act(http: TestClient, bank: Bank, story: Story) -> None:
    token_url = BASE_URL + "/oauth2/token"
    operator = ob.staff_session(bank)
    alice = ob.sign_up(
        http, SoftwareAuthenticator("localhost", ORIGIN), name="Li Hua 李华", phone="+8613800138000"
    )
    story.customer_party_id = alice.party_id
    story.add("customer", "signed up, enrolled a passkey, signed in with it", f"party {alice.party_id[-8:]}")
    account = ob.open_funded_account(http, alice, operator, "GBP", "250.00")
    shop = ob.sign_up(
        http, SoftwareAuthenticator("localhost", ORIGIN), name="Corner shop", phone="+447700900555"
    )
    ob.open_funded_account(http, shop, operator, "GBP", "0")
    story.add("operator", "opened and funded an account", "GBP 250.00")
    budget = ob.register_tpp(http, operator, "Budget app", ["accounts"], "https://budget.example/cb")
    payer = ob.register_tpp(http, operator, "Checkout app", ["payments"], "https://checkout.example/cb")
    story.add("operator", "registered two third parties (private_key_jwt)", "Budget app, Checkout app")
    consent_id, token = ob.account_access(http, budget, alice, token_url, account_ids=[account])
    story.add("customer", "authorised the Budget app with a passkey", consent_id)
    balance = http.get(f"{OB}/aisp/accounts/{account}/balances", headers=ob.bearer(token))
    amount = balance.json()["Data"]["Balance"][0]["Amount"]
    story.add(
        "Budget app", "read the balance", f"{balance.status_code} {amount['Currency']} {amount['Amount']}"
    )
    payment = ob.domestic_payment(
        http,
        payer,
        alice,
        token_url,
        debtor_account_id=account,
        payment=ob.initiation("42.50", "GBP", shop.ibans[0], reference="groceries"),
    )
    story.add("Checkout app", "paid GBP 42.50 after a passkey approval", payment["Data"]["Status"])
    shop_balance = http.get("/v1/me/accounts", headers=ob.bearer(shop.session)).json()[0]["booked"]
    story.add("shop", "sees the money arrive", f"{shop_balance['currency']} {shop_balance['amount']}")
    http.post(f"/v1/me/consents/{consent_id}/revoke", headers=ob.bearer(alice.session))
    story.add("customer", "revoked the Budget app's consent", "CANC")
    refused = http.get(f"{OB}/aisp/accounts/{account}/balances", headers=ob.bearer(token))
    story.add("Budget app", "tried to read again", f"{refused.status_code} {refused.json()['code']}")
    _payments_act(http, bank, story, alice, shop, operator)


def _post(http: TestClient, path: str, body: Any, session: str, status: int = 201) -> Any:
    headers = {**ob.bearer(session), "Idempotency-Key": uuid.uuid4().hex}
    return ob.expect(http.post(path, json=body, headers=headers), status)


def _payments_act(
    http: TestClient, bank: Bank, story: Story, alice: ob.Customer, shop: ob.Customer, operator: str
) -> None:
    cny = ob.open_funded_account(http, alice, operator, "CNY", "8000.00")
    wallet = _post(http, "/v1/wallets", {"nickname": "daily"}, alice.session)
    daily = wallet["limits"]["daily"]["amount"]
    story.add(
        "customer",
        "opened a wallet (class 4: anonymous, phone only)",
        f"pseudonym {wallet['pseudonym']}, daily limit CNY {daily}",
    )
    top_up = {
        "kind": "a2a",
        "payer": {"kind": "account", "id": cny},
        "amount": "6000.00",
        "currency": "CNY",
        "payee": {"kind": "wallet", "id": wallet["wallet_id"]},
    }
    story.add(
        "customer",
        "topped the wallet up from her own account (no step-up)",
        _post(http, "/v1/payment-orders", top_up, alice.session)["status"],
    )
    till = _post(http, "/v1/wallets", {"nickname": "till"}, shop.session)
    code = generate_payload(
        MerchantQr(
            merchant_accounts=(Template("26", NETFIN_QR_GUID, (("01", till["wallet_id"]),)),),
            merchant_category_code="5499",
            currency="CNY",
            country_code="CN",
            merchant_name="Corner shop",
            merchant_city="Shanghai",
            amount_minor=180_000,
        )
    )
    story.add("shop", "shows a dynamic EMVCo QR code for CNY 1,800.00", code[:24] + "…" + code[-8:])
    payer = {"kind": "wallet", "id": wallet["wallet_id"]}
    order = _post(
        http, "/v1/payment-orders", {"kind": "merchant_qr", "payer": payer, "qr_payload": code}, alice.session
    )
    story.add("customer", "scanned it and paid", f"{order['status']} ({', '.join(order['sca_reasons'])})")
    path = f"/v1/payment-orders/{order['order_id']}"
    options = _post(http, path + "/confirmation-options", None, alice.session, 200)
    assertion = alice.authenticator.get(options)
    settled = _post(http, path + "/confirmation", {"credential": assertion}, alice.session, 200)
    story.add("customer", "confirmed with a passkey bound to amount and payee", settled["status"])
    again = {
        "kind": "w2w",
        "payer": payer,
        "payee": {"kind": "wallet", "id": till["wallet_id"]},
        "amount": "1000.00",
        "currency": "CNY",
    }
    outcomes = [_post(http, "/v1/payment-orders", again, alice.session) for _ in range(4)]
    story.add(
        "customer",
        "paid the shop CNY 1,000.00 four more times",
        ", ".join(o["status_reason"] or o["status"] for o in outcomes),
    )
    holder = bank.wallets.reveal_holder(
        Actor("regulator", "demo-examiner"),
        wallet["pseudonym"],
        reason="demo: a court order names this wallet",
    )
    story.add("regulator", "linked the pseudonym to a person, with a reason (audited)", holder.display_name)
    _risk_act(http, bank, story, alice, cny, till["wallet_id"])
    _aml_act(http, bank, story, operator)
    _credit_act(http, bank, story, alice, cny, operator)


def _risk_act(
    http: TestClient, bank: Bank, story: Story, alice: ob.Customer, account_id: str, till_id: str
) -> None:
    """Risk: a model trained on the synthetic bank joins the engine; a card-testing burst is declined."""
    calibration = Path("../shared/data/fraud/paysim_params")
    config = BankConfig(
        seed=11, customers=1_500, days=14, calibration_dir=calibration if calibration.is_dir() else None
    )
    history = pa.Table.from_batches(list(generate(config)))
    model, report = evaluate_history(history, ruleset=load_default_ruleset())
    bank.risk.champion = Scorer(model)
    measured = report["model"]
    story.add(
        "risk team",
        f"trained a fraud model on a synthetic bank ({history.num_rows:,} payments)",
        f"test AUPRC {measured['auprc']:.3f} at base rate {measured['base_rate']:.4f}",
    )
    code = generate_payload(
        MerchantQr(
            merchant_accounts=(Template("26", NETFIN_QR_GUID, (("01", till_id),)),),
            merchant_category_code="5816",
            currency="CNY",
            country_code="CN",
            merchant_name="Corner shop",
            merchant_city="Shanghai",
            amount_minor=1,
        )
    )
    payer = {"kind": "account", "id": account_id}
    outcomes = [
        _post(
            http,
            "/v1/payment-orders",
            {"kind": "merchant_qr", "payer": payer, "qr_payload": code},
            alice.session,
        )
        for _ in range(6)
    ]
    story.add(
        "stolen credentials",
        "probed with six CNY 0.01 QR payments in a minute",
        ", ".join(o["status_reason"] or o["status"] for o in outcomes),
    )
    analyst = ob.staff_session(bank, roles=(Role.RISK_ANALYST,), name="Risk desk")
    queue = ob.expect(http.get("/v1/risk/review-queue", headers=ob.bearer(analyst)), 200)["decisions"]
    if queue:
        first = queue[0]
        story.add(
            "risk analyst", "opened the declined payment", ", ".join(r["code"] for r in first["reasons"])
        )
        labelled = http.put(
            f"/v1/risk/decisions/{first['decision_id']}/label",
            headers=ob.bearer(analyst),
            json={"outcome": "confirmed_fraud", "note": "card testing"},
        )
        story.add("risk analyst", "labelled it for the next training", ob.expect(labelled, 200)["outcome"])


def _aml_act(http: TestClient, bank: Bank, story: Story, operator: str) -> None:
    """AML: ten new accounts pay one collector; monitoring opens a case; two officers file a report."""
    collector = ob.sign_up(
        http, SoftwareAuthenticator("localhost", ORIGIN), name="Zhao Qiang 赵强", phone="+8613900139000"
    )
    target = ob.open_funded_account(http, collector, operator, "CNY", "0")
    for i in range(10):
        payer = ob.sign_up(
            http,
            SoftwareAuthenticator("localhost", ORIGIN),
            name=f"Student {i + 1}",
            phone=f"+86139001391{i:02d}",
        )
        source = ob.open_funded_account(http, payer, operator, "CNY", "3200.00")
        body = {
            "kind": "a2a",
            "payer": {"kind": "account", "id": source},
            "amount": "3000.00",
            "currency": "CNY",
            "payee": {"kind": "account", "id": target},
        }
        order = _post(http, "/v1/payment-orders", body, payer.session)
        if order["status"] == "step_up":
            path = f"/v1/payment-orders/{order['order_id']}"
            assertion = payer.authenticator.get(
                _post(http, path + "/confirmation-options", None, payer.session, 200)
            )
            _post(http, path + "/confirmation", {"credential": assertion}, payer.session, 200)
    story.add("ten new customers", "each paid Zhao Qiang CNY 3,000.00 with a passkey", "settled")
    consumed = bank.monitor_aml()
    found = f"{consumed.events} payments, {consumed.alerts_new} alert(s), {consumed.cases_opened} case(s)"
    story.add("AML monitor", "read the settled payments from the outbox", found)
    analyst = ob.staff_session(bank, roles=(Role.RISK_ANALYST,), name="AML analyst")
    officer = ob.staff_session(bank, roles=(Role.COMPLIANCE,), name="MLRO")
    cases = ob.expect(http.get("/v1/aml/cases", headers=ob.bearer(analyst)), 200)["cases"]
    if not cases:
        return
    case = cases[0]
    detail = ob.expect(http.get(f"/v1/aml/cases/{case['case_id']}", headers=ob.bearer(analyst)), 200)
    story.add("AML analyst", "opened the case", detail["alerts"][0]["reason_zh"])
    decision = {
        "decision": "report",
        "reason": "十个新开户账户两小时内集中转入，疑似收集资金 / ten new accounts paid in",
    }
    _post(http, f"/v1/aml/cases/{case['case_id']}/decision", decision, analyst, 200)
    filing = _post(http, f"/v1/aml/cases/{case['case_id']}/approval", {"layout": "pboc"}, officer)
    story.add(
        "MLRO",
        "approved the suspicious-transaction report (four eyes)",
        f"{filing['kind']} report filed, sha256 {filing['sha256'][:12]}…, schema-valid",
    )
    regulator = ob.staff_session(bank, roles=(Role.REGULATOR,), name="Examiner")
    board = ob.expect(http.get("/v1/aml/dashboard", headers=ob.bearer(regulator)), 200)
    story.add("regulator", "read the AML dashboard (audited)", f"cases {board['cases_by_status']}")


def _credit_act(
    http: TestClient, bank: Bank, story: Story, alice: ob.Customer, account: str, operator: str
) -> None:
    """Credit: a loan with reasons and a schedule; BNPL at a partner's checkout; a green rate."""
    bank.identity.raise_kyc(
        Actor("operator", "branch"),
        int(alice.party_id, 16),
        evidence="remote_id_check",
        reference="demo-id-check",
    )
    body = {
        "product": "personal_instalment",
        "amount": "6000.00",
        "currency": "CNY",
        "term": 12,
        "monthly_income": "15000.00",
        "method": "annuity",
    }
    offer = _post(http, "/v1/credit/applications", body, alice.session)
    story.add(
        "customer",
        "applied for a CNY 6,000.00 loan over 12 months",
        f"{offer['decision']} at {offer['price']['annual_rate']} p.a. "
        f"({', '.join(r['code'] for r in offer['price']['reasons'])})",
    )
    loan = _post(
        http,
        f"/v1/credit/applications/{offer['application_id']}/accept",
        {"settlement_account_id": account},
        alice.session,
    )
    first = loan["schedule"][0]
    story.add(
        "customer",
        "accepted; the loan's ledger account paid her",
        f"first instalment CNY {format_amount(first['total'], 'CNY')} due {first['due']}",
    )
    market = ob.register_tpp(
        http, operator, "Marketplace", ["accounts", "payments"], "https://market.example/cb"
    )
    seller = ob.sign_up(
        http, SoftwareAuthenticator("localhost", ORIGIN), name="Tea shop 茶叶店", phone="+8613700137000"
    )
    shop_account = ob.open_funded_account(http, seller, operator, "CNY", "0")
    consent_id, _ = ob.account_access(http, market, alice, BASE_URL + "/oauth2/token", account_ids=[account])
    grant = market.client_credentials(http, BASE_URL + "/oauth2/token", "payments")
    checkout = {
        "consent_id": consent_id,
        "price": "1200.00",
        "currency": "CNY",
        "instalments": 3,
        "merchant_account_id": shop_account,
    }
    bnpl = ob.expect(http.post("/v1/credit/bnpl/offers", json=checkout, headers=ob.bearer(grant)), 201)
    story.add("Marketplace", "asked at checkout: may she pay CNY 1,200.00 in 3?", bnpl["decision"])
    _post(
        http,
        f"/v1/credit/applications/{bnpl['application_id']}/accept",
        {"settlement_account_id": account},
        alice.session,
    )
    paid = http.get("/v1/me/accounts", headers=ob.bearer(seller.session)).json()[0]["booked"]
    story.add("tea shop", "was paid at once, less the merchant fee", f"CNY {paid['amount']}")
    _green_act(bank, story)


def _green_act(bank: Bank, story: Story) -> None:
    officer = Actor("operator", "relationship-manager")
    grower = bank.identity.register_party(
        officer, kind=PartyKind.ENTERPRISE, display_name="Green Tea Co 绿茶合作社", phone="+8613600136000"
    )
    for evidence in ("remote_id_check", "bank_card"):
        bank.identity.raise_kyc(officer, grower.party_id, evidence=evidence, reference="demo")
    esg = EsgEvidence(
        score=Decimal(82), carbon_intensity=Decimal(35), sector_benchmark=Decimal(60), source="carbon account"
    )
    application = Application(
        grower.party_id,
        "green_sme_instalment",
        Money(20_000_000, "CNY"),
        24,
        Money(6_000_000, "CNY"),
        esg=esg,
    )
    outcome = bank.origination.apply(officer, application)
    if outcome.price is not None:
        green = outcome.price.reasons[-1]
        story.add(
            "relationship manager",
            "priced a green loan for a tea cooperative",
            f"{outcome.price.annual_rate} p.a.; {green.code} {green.bps} bps ({green.detail})",
        )
