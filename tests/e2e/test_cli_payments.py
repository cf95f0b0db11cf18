"""``netfin payments`` as an operator's script uses it: JSON out, exit 1 on a refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from netfin.api.v1.payments import NETFIN_QR_GUID
from netfin.bank import Bank, BankSettings
from netfin.cli.payments import payments_app
from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind
from netfin.payments.qr import MerchantQr, Template, generate_payload

runner = CliRunner()
# The command as ``netfin`` mounts it, without depending on the rest of the ``netfin`` tree.
app = typer.Typer()
app.add_typer(payments_app, name="payments")
OPERATOR = Actor.system("test")


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["payments", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, str]]:
    """A bank with one customer holding a funded CNY account, and a second customer."""
    monkeypatch.delenv("NETFIN_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'payments.db'}"
    with Bank(BankSettings(database_url=url)) as bank:
        people = {}
        for name, phone in (("An Ming", "+8613800000001"), ("Bai Lu", "+8613800000002")):
            party = bank.identity.register_party(
                OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone
            )
            account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
            people[name] = (format_id(party.party_id), account.account_id)
        bank.identity.deposit_cash(OPERATOR, people["An Ming"][1], 100_00)
    return url, {
        "party": people["An Ming"][0],
        "account": people["An Ming"][1],
        "other_account": people["Bai Lu"][1],
    }


def test_open_a_wallet_top_it_up_and_show_the_order(db: tuple[str, dict[str, str]]) -> None:
    url, ids = db
    code, wallet = _run("wallet-open", ids["party"], "--nickname", "daily", "--db", url, "--json")
    assert code == 0, wallet
    assert (wallet["class_no"], wallet["currency"], wallet["nickname"]) == (4, "CNY", "daily")
    wallet_id = wallet["wallet_id"]

    code, order = _run(
        "pay", "--from", ids["account"], "--to", wallet_id, "--amount", "40.50", "--currency", "CNY",
        "--db", url, "--json",
    )  # fmt: skip
    assert code == 0, order
    assert (order["status"], order["kind"], order["amount"]["amount"]) == ("settled", "a2a", "40.50")
    code, shown = _run("wallet-show", wallet_id, "--db", url, "--json")
    assert code == 0 and shown["balance"] == {"amount": "40.50", "currency": "CNY"}
    assert shown["party_id"] == ids["party"]
    code, again = _run("order-show", order["order_id"], "--db", url, "--json")
    assert code == 0 and again["events"][-1]["to_status"] == "settled"

    # Too little money: the order is rejected with its reason and the command exits 1.
    code, poor = _run(
        "pay", "--from", ids["account"], "--to", wallet_id, "--amount", "60.00", "--currency", "CNY",
        "--db", url, "--json",
    )  # fmt: skip
    assert code == 1 and (poor["status"], poor["status_reason"]) == ("rejected", "insufficient_funds")
    # A new payee waits for the payer's passkey.
    code, waiting = _run(
        "pay", "--from", ids["account"], "--to", ids["other_account"], "--amount", "1.00", "--currency",
        "CNY", "--db", url, "--json",
    )  # fmt: skip
    assert code == 0 and waiting["status"] == "step_up"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("wallet-show", "w-" + "0" * 32), "wallet_not_found"),
        (("order-show", "po-nothing"), "order_not_found"),
        (("wallet-open", "not-a-party"), "party_id_invalid"),
        (
            ("pay", "--from", "w-x", "--to", "w-y", "--amount", "1.001", "--currency", "CNY"),
            "amount_precision_invalid",
        ),
    ],
)
def test_refusals_exit_1_with_their_code(
    db: tuple[str, dict[str, str]], args: tuple[str, ...], code: str
) -> None:
    url, _ = db
    exit_code, body = _run(*args, "--db", url, "--json")
    assert exit_code == 1 and body["code"] == code, body


def test_qr_parse_names_the_netfin_payee_and_refuses_a_bad_crc() -> None:
    qr = MerchantQr(
        merchant_accounts=(Template("26", NETFIN_QR_GUID, (("01", "w-" + "a" * 32),)),),
        merchant_category_code="5812", currency="CNY", country_code="CN", merchant_name="Noodle Bar",
        merchant_city="Beijing", amount_minor=2_350,
    )  # fmt: skip
    payload = generate_payload(qr)
    code, body = _run("qr-parse", payload, "--json")
    assert code == 0, body
    assert (body["amount"], body["currency"]) == ("23.50", "CNY")
    assert body["netfin_payee"] == {"kind": "wallet", "id": "w-" + "a" * 32}
    broken = payload[:-1] + ("0" if payload[-1] != "0" else "1")
    code, body = _run("qr-parse", broken, "--json")
    assert code == 1 and body["code"] == "qr_crc_mismatch"


def test_fx_quote_on_a_rates_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("Date,USD,GBP,CNY,\n2026-04-13,1.1684,0.87058,7.9827,\n")
    code, quote = _run(
        "fx-quote", "GBP", "USD", "100.00", "--on", "2026-04-14", "--rates", str(rates), "--json"
    )
    assert code == 0, quote
    assert quote["source"] == {"amount": "100.00", "currency": "GBP"} and quote["target"]["currency"] == "USD"
    assert quote["rates_date"] == "2026-04-13"
    monkeypatch.setenv("NETFIN_FX_RATES", str(tmp_path / "missing.csv"))
    code, refused = _run("fx-quote", "GBP", "USD", "100.00", "--json")
    assert code == 1 and refused["code"] == "fx_rates_unavailable"
    code, refused = _run(
        "fx-quote", "GBP", "USD", "1.001", "--rates", str(rates), "--on", "2026-04-14", "--json"
    )
    assert code == 1 and refused["code"] == "amount_precision_invalid"
