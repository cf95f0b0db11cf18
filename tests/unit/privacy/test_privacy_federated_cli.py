"""``netfin federated psi`` and ``netfin federated fedavg``: thin commands over the protocols."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from netfin.cli.federated import federated_app


def _ids(path: Path, ids: list[str]) -> Path:
    path.write_text("id,other\n" + "".join(f"{i},x\n" for i in ids), encoding="utf-8")
    return path


def test_psi_reports_sizes_and_writes_the_intersection(tmp_path: Path) -> None:
    bank = _ids(tmp_path / "bank.csv", [f"c{k}" for k in range(50)])
    shop = _ids(tmp_path / "shop.csv", [f"c{k}" for k in range(30, 90)])
    args = [
        "psi",
        "--party",
        f"bank={bank}",
        "--party",
        f"shop={shop}",
        "--id",
        "id",
        "--leader",
        "bank",
        "--out",
        str(tmp_path / "out"),
        "--audit-dir",
        str(tmp_path / "audit"),
        "--json",
    ]
    result = CliRunner().invoke(federated_app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["intersection"] == 20 and "c30" not in result.stdout
    written = (tmp_path / "out" / "shop.csv").read_text(encoding="utf-8").split()
    assert sorted(written[1:]) == sorted(f"c{k}" for k in range(30, 50))


def test_bad_parties_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(federated_app, ["psi", "--party", "bank", "--id", "id", "--leader", "bank", "--json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"] == "party_invalid"
    absent = runner.invoke(
        federated_app,
        ["psi", "--party", "a=x.csv", "--party", "b=y.csv", "--id", "id", "--leader", "c", "--json"],
    )
    assert absent.exit_code == 2 and "leader" in json.loads(absent.stdout)["message"]


def test_fedavg_refuses_a_missing_file(tmp_path: Path) -> None:
    args = [
        "fedavg",
        "--bank",
        str(tmp_path / "a.csv"),
        "--bank",
        str(tmp_path / "b.csv"),
        "--bank",
        str(tmp_path / "c.csv"),
        "--test",
        str(tmp_path / "t.csv"),
        "--audit-dir",
        str(tmp_path / "audit"),
        "--json",
    ]
    result = CliRunner().invoke(federated_app, args)
    assert result.exit_code == 2 and json.loads(result.stdout)["error"] in {
        "data_file_missing",
        "flower_environment_missing",
    }
