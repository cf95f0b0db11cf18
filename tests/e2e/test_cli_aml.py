"""``netfin aml``: evaluate a mapped history with labels, the simulated bank, scan into cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import skip_unless
from typer.testing import CliRunner

from netfin.cli.main import app

AMLSIM = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "aml" / "amlsim_20K_fanin200cycle200"
)
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

MAPPING = """\
format: csv
time: {column: day, step_hours: 24, start: "2026-03-02T00:00:00Z"}
payer: from
payee: to
payee_kind: {constant: person}
kind: {constant: p2p}
amount: {column: yuan, currency: CNY}
"""


def history(tmp_path: Path) -> tuple[Path, Path, Path]:
    rows = ["from,to,yuan,day"]
    rows += [f"feeder{i},collector,3000.00,1" for i in range(12)]  # fan-in: 12 payers, CNY 36,000
    rows += ["a,b,50000.00,1", "b,c,49500.00,2", "c,a,49000.00,3"]  # a round trip
    rows += [f"x{i},y{i},10.00,1" for i in range(20)]
    (data := tmp_path / "tx.csv").write_text("\n".join(rows) + "\n")
    (mapping := tmp_path / "map.yaml").write_text(MAPPING)
    (labels := tmp_path / "labels.csv").write_text(
        "account,typology\ncollector,fan_in\na,round_trip\nb,round_trip\nc,round_trip\n"
    )
    return data, mapping, labels


def test_evaluate_a_mapped_history_with_labels(tmp_path: Path) -> None:
    data, mapping, labels = history(tmp_path)
    args = [
        "aml",
        "evaluate",
        "--data",
        str(data),
        "--mapping",
        str(mapping),
        "--labels",
        str(labels),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 35
    by = {t["typology"]: t for t in report["evaluation"]["typologies"]}
    assert by["fan_in"]["recall"] == 1.0 and by["round_trip"]["recall"] == 1.0
    assert report["evaluation"]["overall"]["precision"] == 1.0
    table = runner.invoke(app, args[:-1])
    assert table.exit_code == 0 and "round_trip" in table.stdout


def test_bad_input_is_refused_with_a_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["aml", "evaluate", "--data", str(tmp_path / "nope.csv"), "--json"])
    assert result.exit_code == 2
    assert "error" in json.loads(result.stdout)
    both = runner.invoke(app, ["aml", "evaluate", "--simulate", "--data", "x.csv", "--json"])
    assert both.exit_code == 2


def test_evaluate_on_the_simulated_bank() -> None:
    result = runner.invoke(
        app, ["aml", "evaluate", "--simulate", "--customers", "400", "--days", "12", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    schemes = {p["typology"]: p for p in report["evaluation"]["patterns"]}
    assert set(schemes) >= {"structuring", "round_trip", "fan_in", "pass_through"}
    assert all(p["patterns"] >= 1 for p in schemes.values())


def test_scan_puts_alerts_on_cases(tmp_path: Path) -> None:
    data, mapping, _ = history(tmp_path)
    db = f"sqlite:///{tmp_path / 'aml.db'}"
    first = runner.invoke(
        app, ["aml", "scan", "--data", str(data), "--mapping", str(mapping), "--db", db, "--json"]
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["cases_opened"] >= 2
    again = runner.invoke(
        app, ["aml", "scan", "--data", str(data), "--mapping", str(mapping), "--db", db, "--json"]
    )
    assert json.loads(again.stdout)["alerts_new"] == 0
    listed = runner.invoke(app, ["aml", "cases", "--db", db, "--json"])
    assert listed.exit_code == 0
    assert {c["party"] for c in json.loads(listed.stdout)["cases"]} >= {"collector", "a"}


@pytest.mark.slow
@skip_unless(AMLSIM.is_dir(), "AMLSim sample not in ../shared/data/aml")
def test_amlsim_with_its_profile(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    nodes = (AMLSIM / "nodes.csv").read_text().splitlines()[1:]
    labels.write_text(
        "account,typology\n" + "".join(f"{n.split(',')[0]},\n" for n in nodes if n.split(",")[1] == "1")
    )
    result = runner.invoke(app, [
        "aml", "evaluate", "--data", str(AMLSIM / "transactions.csv"), "--mapping",
        str(REPO / "src/netfin/aml/mappings/amlsim.yaml"), "--labels", str(labels),
        "--profile", str(REPO / "benchmarks/profiles/amlsim.yaml"), "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 120_558
    overall = report["evaluation"]["overall"]
    assert overall["labelled"] == 1804
    assert overall["precision"] > 0.2 and overall["recall"] > 0.1  # far above the 9 % base rate
