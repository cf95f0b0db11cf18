"""The demo's second act: open banking over the real HTTP API, in-process.

A customer signs up and enrols a passkey, a budgeting app (TPP) gets the
customer's consent to read one account, a shop's payment app initiates a
payment the customer approves with the passkey, the customer revokes the
read consent, and the next read is refused. The audit log and the ledger are
verified at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator

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
        http, payer, alice, token_url, debtor_account_id=account,
        payment=ob.initiation("42.50", "GBP", shop.ibans[0], reference="groceries"),
    )  # fmt: skip
    story.add("Checkout app", "paid GBP 42.50 after a passkey approval", payment["Data"]["Status"])
    shop_balance = http.get("/v1/me/accounts", headers=ob.bearer(shop.session)).json()[0]["booked"]
    story.add("shop", "sees the money arrive", f"{shop_balance['currency']} {shop_balance['amount']}")
    http.post(f"/v1/me/consents/{consent_id}/revoke", headers=ob.bearer(alice.session))
    story.add("customer", "revoked the Budget app's consent", "CANC")
    refused = http.get(f"{OB}/aisp/accounts/{account}/balances", headers=ob.bearer(token))
    story.add("Budget app", "tried to read again", f"{refused.status_code} {refused.json()['code']}")
