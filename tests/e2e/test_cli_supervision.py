"""``netfin supervision`` as a compliance team scripts it: load a register, ask for owners; JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from netfin.cli.supervision import supervision_app

runner = CliRunner()
app = typer.Typer()
app.add_typer(supervision_app, name="supervision")

EDGES = """owner,owned,share
A,B,0.6
B,C,0.5
P,C,0.5
X,Y,1
Y,X,0.5
Q,X,0.5
M,F,0.51
F,G,0.51
"""


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["supervision", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'register.db'}"
    edges = tmp_path / "edges.csv"
    edges.write_text(EDGES)
    code, body = _run(
        "load-ownership", "--file", str(edges), "--valid-from", "2024-01-01", "--db", url, "--json"
    )
    assert code == 0, body
    assert body == {"file": str(edges), "edges": 8, "enterprises": 6}
    return url


def test_ubo_through_a_chain_as_json(db: str) -> None:
    code, body = _run("ubo", "C", "--db", db, "--as-of", "2025-01-01", "--json")
    assert code == 0, body
    assert [(o["person_id"], o["effective_share"]) for o in body["owners"]] == [
        ("P", "0.50000000"),
        ("A", "0.30000000"),
    ]
    assert body["owners"][1]["paths"] == [{"holders": ["A", "B", "C"], "product": "0.30000000"}]
    assert body["threshold"] == "0.25" and body["method"] == "exact"


def test_ubo_through_a_loop_and_a_majority_chain(db: str) -> None:
    # X: 100% Y; Y: 50% X, 50% Q. Q is the only person, so Q ends up with all of X.
    code, body = _run("ubo", "X", "--db", db, "--as-of", "2025-01-01", "--json", "--actor", "regulator:rg-1")
    assert code == 0, body
    assert [(o["person_id"], o["effective_share"], o["majority_control"]) for o in body["owners"]] == [
        ("Q", "1.00000000", False),
    ]
    code, body = _run("ubo", "G", "--threshold", "0.3", "--db", db, "--as-of", "2025-01-01", "--json")
    assert body["control_chain"] == ["M", "F", "G"]
    assert [(o["person_id"], o["above_threshold"], o["majority_control"]) for o in body["owners"]] == [
        ("M", False, True),
    ]


def test_a_regulator_may_not_load(db: str, tmp_path: Path) -> None:
    more = tmp_path / "more.csv"
    more.write_text("owner,owned,share\nZ,C,0.1\n")
    code, body = _run(
        "load-ownership", "--file", str(more), "--db", db, "--actor", "regulator:rg-1", "--json"
    )
    assert code == 2 and body["error"] == "ownership_role_required"


def test_bad_input_is_refused_with_its_code(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("owner,owned,share\nZ,C,0.6\n")
    code, body = _run("load-ownership", "--file", str(bad), "--db", db, "--json")
    assert code == 2 and body["error"] == "ownership_shares_exceed_one"
    bad.write_text("owner,owned,share\nZ,C,lots\n")
    code, body = _run("load-ownership", "--file", str(bad), "--db", db, "--json")
    assert code == 2 and body["error"] == "ownership_share_malformed" and "line 2" in body["message"]
    code, body = _run("ubo", "C", "--threshold", "1.5", "--db", db, "--json")
    assert code == 2 and body["error"] == "ownership_share_out_of_range"
    code, body = _run("ubo", "NOBODY", "--db", db, "--json")
    assert code == 2 and body["error"] == "ownership_entity_unknown"


def test_chain_and_the_table_view(db: str) -> None:
    code, body = _run("chain", "C", "--db", db, "--as-of", "2025-01-01", "--json")
    assert code == 0
    assert sorted((e["owner"], e["owned"], e["share"]) for e in body["edges"]) == [
        ("A", "B", "0.6"),
        ("B", "C", "0.5"),
        ("P", "C", "0.5"),
    ]
    result = runner.invoke(app, ["supervision", "ubo", "C", "--db", db, "--as-of", "2025-01-01"])
    assert result.exit_code == 0 and "A → B → C" in result.stdout
