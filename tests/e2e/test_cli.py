"""The ``netfin`` command as a script would use it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from netfin.cli.main import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_demo_then_verify_then_prove(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out = _run("demo", "--db", db, "--events", "400", "--customers", "20", "--json")
    assert code == 0, out
    demo = json.loads(out)
    assert demo["verify"]["ok"] is True
    assert demo["results"]["ok"] > 300
    totals = demo["verify"]["currencies"]["CNY"]
    assert totals["debits"] == totals["credits"]

    code, out = _run("ledger", "verify", "--db", db, "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    code, out = _run("ledger", "transfers", "--db", db, "--json", "--limit", "5")
    page = json.loads(out)
    assert code == 0 and len(page["transfers"]) == 5 and page["next_cursor"]
    code, out = _run(
        "ledger", "transfers", "--db", db, "--json", "--limit", "5", "--cursor", page["next_cursor"]
    )
    second = json.loads(out)["transfers"]
    assert {t["id"] for t in second}.isdisjoint({t["id"] for t in page["transfers"]})

    transfer_id = page["transfers"][2]["id"]
    bundle_file = tmp_path / "proof.json"
    code, out = _run("ledger", "prove", transfer_id, "--db", db, "--out", str(bundle_file))
    assert code == 0, out
    public_key = json.loads(bundle_file.read_text())["checkpoint"]["public_key"]
    code, out = _run("ledger", "verify-proof", str(bundle_file), "--public-key", public_key, "--json")
    assert code == 0 and json.loads(out) == {"ok": True}

    bundle = json.loads(bundle_file.read_text())
    bundle["transfer"]["amount"] += 1
    bundle_file.write_text(json.dumps(bundle))
    code, out = _run("ledger", "verify-proof", str(bundle_file), "--public-key", public_key, "--json")
    assert code == 1 and json.loads(out) == {"ok": False}


def test_verify_exits_nonzero_naming_the_first_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    db = f"sqlite:///{path}"
    assert _run("demo", "--db", db, "--events", "200", "--customers", "10", "--json")[0] == 0
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE transfers SET amount = amount + 1 WHERE timestamp = "
            "(SELECT timestamp FROM transfers ORDER BY timestamp LIMIT 1 OFFSET 7)"
        )
        seq = conn.execute(
            "SELECT j.seq FROM journal j JOIN transfers t ON t.id = j.ref_id "
            "ORDER BY t.timestamp LIMIT 1 OFFSET 7"
        ).fetchone()[0]
    code, out = _run("ledger", "verify", "--db", db, "--json")
    assert code == 1
    error = json.loads(out)["first_error"]
    assert error["table"] == "transfers" and error["seq"] == seq


def test_accounts_listing_and_bad_database_url(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    assert _run("demo", "--db", db, "--events", "50", "--customers", "5", "--json")[0] == 0
    code, out = _run("ledger", "accounts", "--db", db, "--limit", "500", "--json")
    accounts = json.loads(out)["accounts"]
    day = [a for a in accounts if a["currency"] == "CNY"]
    story = [a for a in accounts if a["currency"] == "GBP"]
    # The simulated day: settlement, 5 customers, 20 merchants, 5 billers; the open-banking
    # story: two customer accounts and the bank's GBP funding account; the payments story
    # (CNY): a customer account, the bank's funding and limits accounts, and two wallets
    # of four ledger accounts each (balance, headroom, daily, annual); the AML story: the
    # collector's account and ten payers' accounts; the credit story: two loans' receivables,
    # the bank's fee income account (the BNPL merchant fee) and the tea shop's account.
    assert code == 0 and len(day) == 1 + 5 + 20 + 5 + (1 + 2 + 2 * 4) + (1 + 10) + (2 + 1 + 1)
    assert len(story) == 3
    code, out = _run("ledger", "verify", "--db", "mysql://nowhere/x")
    assert code == 2 and "database_url_invalid" in out


def test_schema_head_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from netfin.ledger.store import MIGRATIONS_DIR, SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_platform_schema_head_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from netfin.storage.engine import MIGRATIONS_DIR, SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_demo_tells_the_open_banking_story(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    code, out = _run("demo", "--db", db, "--events", "20", "--customers", "3", "--json")
    story = json.loads(out)["open_banking"]
    results = [step["result"] for step in story["steps"]]
    assert code == 0 and story["audit"]["ok"] and story["ledger_ok"]
    assert "ACSC" in results and "GBP 42.50" in results and "403 consent_revoked" in results
    # The payments act: a QR payment confirmed with a passkey, then the daily limit refuses.
    assert "step_up (amount_above_threshold, new_payee)" in results
    assert "settled, settled, settled, wallet_daily_limit_exceeded" in results
    assert "Li Hua 李华" in results  # the regulator's lookup of the pseudonym
    # The risk act: a card-testing burst of tiny QR payments is declined, an analyst labels it.
    assert any(r.endswith("risk_rejected, risk_rejected") for r in results)
    assert any(r.startswith("card_testing_burst") for r in results) and "confirmed_fraud" in results
    # The AML act: ten payers into one new account open a case; two officers file a report.
    assert any(r.endswith("payments, 1 alert(s), 1 case(s)") for r in results)
    assert any(r.startswith("suspicious report filed") for r in results)
    assert "cases {'filed': 1}" in results
    # The credit act: a loan, BNPL at a partner's checkout (the shop paid less its fee), a green rate.
    assert any(r.startswith("approve at ") for r in results) and "CNY 1170.00" in results
    assert "green_discount" in results[-1]
    code, out = _run("audit", "verify", "--db", db, "--json")
    assert code == 0 and json.loads(out)["entries"] == story["audit"]["entries"]
