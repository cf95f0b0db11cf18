"""``netfin credit scorecard``: a run on the lender's own file, and each refusal with its code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from credit_synthetic import synthetic_frame
from shared_data import skip_unless
from typer.testing import CliRunner

from netfin.cli.credit import credit_app
from netfin.credit import scorecard as sc
from netfin.credit.scorecard import load_scorecard

CREDIT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "credit"
GERMAN = CREDIT_DATA / "statlog_german.data"
runner = CliRunner()
BASE = ["--target", "default", "--id", "loan_id", "--exclude", "month", "--categorical", "region"]


@pytest.fixture(scope="module")
def loans_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("loans") / "loans.csv"
    synthetic_frame(rows=2000).to_csv(path, index=False)
    return path


def _run(*args: str) -> Any:
    return runner.invoke(credit_app, ["scorecard", *args])


def _refused(*args: str) -> dict[str, Any]:
    result = _run(*args, "--json")
    assert result.exit_code == 2, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_human_run_prints_the_report_and_the_points(loans_csv: Path) -> None:
    result = _run("--data", str(loans_csv), *BASE, "--points")
    assert result.exit_code == 0, result.output
    for part in ("features kept", "AUC", "Hosmer", "calibration by decile", "points table", "utilisation"):
        assert part in result.stdout


def test_json_run_saves_a_loadable_artefact(loans_csv: Path, tmp_path: Path) -> None:
    result = _run(
        "--data",
        str(loans_csv),
        *BASE,
        "--pdo",
        "40",
        "--base-score",
        "500",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["scale"] == {"pdo": 40.0, "base_score": 500.0, "base_odds": 50.0}
    assert body["evaluation"]["test"]["rows"] == 600 and body["evaluation"]["test"]["auc"] > 0.7
    assert {"utilisation", "income", "region"} <= set(body["features"])
    loaded = load_scorecard(body["path"])
    assert loaded.version == body["version"] and loaded.pdo == 40.0


def test_parquet_and_comma_separated_options(loans_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "loans.parquet"
    pq.write_table(pa.Table.from_pandas(synthetic_frame(rows=2000), preserve_index=False), path)
    result = _run("--data", str(path), "--target", "default", "--exclude", "loan_id,month", "--categorical",
                  "region", "--test-size", "0.5", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["split"]["test_rows"] == 1000


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    assert (
        _refused("--data", str(tmp_path / "nope.csv"), "--target", "d")["error"] == "scorecard_data_missing"
    )
    assert (
        _refused("--data", str(tmp_path), "--target", "d", "--format", "xlsx")["error"]
        == "scorecard_data_format"
    )


def test_target_must_exist_and_be_binary(loans_csv: Path, tmp_path: Path) -> None:
    body = _refused("--data", str(loans_csv), "--target", "dflt")
    assert body["error"] == "scorecard_unknown_target" and "default" in body["message"]
    assert _refused("--data", str(loans_csv), "--target", "month")["error"] == "scorecard_target_not_binary"
    human = _run("--data", str(loans_csv), "--target", "month")
    assert human.exit_code == 2 and "must be binary" in human.stderr


def test_too_few_rows(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    synthetic_frame(rows=60).to_csv(small, index=False)
    assert _refused("--data", str(small), *BASE)["error"] == "scorecard_too_few_rows"


def test_limits_on_rows_and_columns_say_which(loans_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "ROWS_MAX", 1000)
    body = _refused("--data", str(loans_csv), *BASE)
    assert body["error"] == "scorecard_rows_max" and "rows" in body["message"]
    monkeypatch.setattr(sc, "ROWS_MAX", 10_000)
    monkeypatch.setattr(sc, "COLUMNS_MAX", 3)
    body = _refused("--data", str(loans_csv), *BASE)
    assert body["error"] == "scorecard_columns_max" and "columns" in body["message"]


def test_text_column_not_marked_categorical(loans_csv: Path) -> None:
    body = _refused("--data", str(loans_csv), "--target", "default", "--id", "loan_id")
    assert body["error"] == "scorecard_column_not_numeric" and "region" in body["message"]


@skip_unless(GERMAN.is_file(), f"{GERMAN} is absent")
def test_statlog_german_format_maps_the_label_and_its_categories() -> None:
    result = _run("--data", str(GERMAN), "--format", "statlog-german", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    test = body["evaluation"]["test"]
    assert (test["rows"], test["defaults"]) == (300, 90)  # label 2 (bad) became 1
    kinds = {c["name"]: c["dtype"] for c in body["candidates"]}
    assert kinds["A1"] == "categorical" and kinds["A2"] == "numerical"
