"""``netfin risk`` as a fraud team scripts it: simulate, evaluate, backtest, train, monitor; JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from netfin.cli.risk import risk_app
from netfin.risk.model import Scorer, load

runner = CliRunner()
app = typer.Typer()
app.add_typer(risk_app, name="risk")
PAYSIM = Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud" / "paysim_params"


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["risk", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk") / "bank.parquet"
    code, body = _run("simulate", "--out", str(path), "--customers", "3000", "--days", "14",
                      "--calibration", str(PAYSIM), "--json")  # fmt: skip
    assert code == 0, body
    assert body["events"] > 20_000 and set(body["frauds"]) >= {"card_testing", "account_takeover"}
    return path


def test_evaluate_reports_model_rules_and_their_overlap(history: Path) -> None:
    code, body = _run("evaluate", "--data", str(history), "--unseen-typologies", "--json")
    assert code == 0, body
    model, rules = body["model"], body["rules_score"]
    assert model["frauds"] > 0 and 0 <= model["auprc"] <= 1 and model["money_stopped"]["alert_rate"] == 0.005
    assert rules["events"] == model["events"]
    overlap = body["overlap_at_alert_rate"]
    assert overlap["either"]["frauds"] >= max(overlap["model"]["frauds"], overlap["rules"]["frauds"])
    assert body["split"]["test"][1] == body["rows"]
    unseen = body["unseen_typologies"]
    assert set(unseen) >= {"card_testing", "account_takeover"}
    for name, o in unseen.items():  # one typology's frauds only, split into who caught them
        assert o["frauds"] == model["scenarios"].get(name, {}).get("frauds", 0), name
        assert o["either"]["frauds"] == o["model"]["frauds"] + o["rules_only"]["frauds"] <= o["frauds"]
        assert o["rules"]["frauds"] == o["either"]["frauds"] - o["model_only"]["frauds"]
        assert o["rules_only"]["fraud_minor"] <= o["fraud_minor"]


def test_unseen_typologies_need_fraud_types(history: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from netfin.core.errors import InvalidInput
    from netfin.risk.evaluation import unseen_typologies
    from netfin.risk.rules import load_default_ruleset

    events = pq.read_table(history)
    untyped = events.set_column(
        events.schema.get_field_index("scenario"), "scenario", pa.array([""] * events.num_rows)
    )
    with pytest.raises(InvalidInput) as refused:
        unseen_typologies(untyped, ruleset=load_default_ruleset())
    assert refused.value.code == "risk_no_typologies"


def test_train_writes_an_artefact_that_loads_and_scores(history: Path, tmp_path: Path) -> None:
    code, body = _run("train", "--data", str(history), "--out", str(tmp_path / "model"), "--json")
    assert code == 0, body
    model = load(body["path"])
    assert model.version == body["version"]
    text = ("kind", "payee_kind", "channel", "segment", "mcc")
    row = {name: ("p2p" if name == "kind" else "") if name in text else 0 for name in model.feature_names}
    assert 0.0 <= Scorer(model).score(row) <= 1.0


def test_backtest_lists_every_rule_and_the_union(history: Path) -> None:
    code, body = _run("backtest", "--data", str(history), "--json")
    assert code == 0, body
    codes = [r["code"] for r in body["rules"]]
    assert "card_testing_burst" in codes and body["union"]["code"] == "any_rule"


def test_bad_input_is_refused_with_a_code(tmp_path: Path) -> None:
    code, body = _run("evaluate", "--data", str(tmp_path / "missing.csv"), "--json")
    assert code == 2 and "missing.csv" in body["message"]
    not_events = tmp_path / "x.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1]}), not_events)
    code, body = _run("backtest", "--data", str(not_events), "--json")
    assert code == 2 and "mapping" in body["message"]


def test_monitor_without_decisions_says_so(tmp_path: Path) -> None:
    from netfin.storage import open_engine

    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_engine(url).dispose()
    code, body = _run("monitor", "--db", url, "--json")
    assert code == 0 and body == {
        "baseline_scores": 0,
        "current_scores": 0,
        "psi": None,
        "verdict": "no data",
    }
