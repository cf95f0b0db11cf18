"""``netfin sanctions`` as compliance scripts it: screen a name or a file, list, evaluate; JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from shared_data import skip_unless
from typer.testing import CliRunner

from netfin.cli.sanctions import sanctions_app

runner = CliRunner()
app = typer.Typer()
app.add_typer(sanctions_app, name="sanctions")
LISTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "sanctions"
pytestmark = skip_unless(
    (LISTS / "ofac_sdn_2024-05-03.csv").is_file(), f"sanctions lists absent under {LISTS}"
)


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["sanctions", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


def test_screen_a_name_ranks_candidates_with_evidence() -> None:
    code, body = _run(
        "screen", "Hasan Mortezavi", "--dob", "1964-08-23", "--country", "IR", "--lists", str(LISTS), "--json"
    )
    assert code == 0, body
    (result,) = body["results"]
    assert result["decision"] == "hit" and result["query"]["dob"] == "1964-08-23"
    top = result["candidates"][0]
    assert (top["list_id"], top["entry_id"], top["score"]) == ("ofac_sdn", "12113", 1.0)
    codes = {e["code"] for e in top["evidence"]}
    assert {"name_similarity", "birth_date_exact", "country_match"} <= codes
    assert set(body["list_versions"]) == {"ofac_sdn", "un_sc"}


def test_screen_a_file_of_names(tmp_path: Path) -> None:
    names = tmp_path / "names.csv"
    names.write_text("name,dob,country\nВладимир Путин,1952-10-07,RU\nGabriel Okonkwo,,\n", encoding="utf-8")
    code, body = _run("screen", "--file", str(names), "--lists", str(LISTS), "--limit", "2", "--json")
    assert code == 0, body
    putin, stranger = body["results"]
    assert putin["decision"] != "clear" and putin["candidates"][0]["name"] == "PUTIN, Vladimir Vladimirovich"
    assert len(putin["candidates"]) <= 2
    assert stranger["decision"] == "clear"


def test_screen_prints_a_table_without_json() -> None:
    code, text = _run("screen", "Banco Nacional de Cuba", "--lists", str(LISTS))
    assert (
        code == 0
        and "Banco Nacional de Cuba: hit" in text
        and "ofac_sdn:306" in text
        and "name_similarity" in text
    )


def test_bad_input_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, body = _run("screen", "Ali", "--dob", "1970-13-40", "--lists", str(LISTS), "--json")
    assert code == 2 and body["error"] == "birth_date_invalid"
    code, body = _run("screen", "--lists", str(LISTS), "--json")
    assert code == 2 and body["error"] == "screen_input_invalid"
    monkeypatch.chdir(tmp_path)
    code, body = _run("lists", "--json")
    assert code == 2 and body["error"] == "sanctions_lists_missing"
    monkeypatch.setenv("NETFIN_SANCTIONS_DIR", str(LISTS))
    code, body = _run("lists", "--json")
    assert code == 0 and [item["entries"] for item in body["lists"]] == [14965, 1093]


def test_evaluate_reports_precision_and_recall_per_kind() -> None:
    code, body = _run("evaluate", "--lists", str(LISTS), "--per-kind", "20", "--non-matches", "100", "--json")
    assert code == 0, body
    assert body["non_matches"] == 100 and set(body["per_kind"]) >= {"exact", "typo", "swapped", "cyrillic"}
    assert body["per_kind"]["exact"]["recall"] == 1.0
    assert 0.0 <= body["overall"]["precision"] <= 1.0 and len(body["sweep"]) == 15
