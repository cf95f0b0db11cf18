"""``netfin federated secureboost``: one process per party, the centralised baseline beside it, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from secureboost_parties import write_synthetic
from typer.testing import CliRunner

from netfin.cli.federated import federated_app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sbcli")
    paths = write_synthetic(folder)
    (folder / "text.csv").write_text("id,y,a\nc00001,0,low\nc00002,1,high\n")
    (folder / "three.csv").write_text("id,y,a\nc00001,0,1.0\nc00002,2,2.0\n")
    return {**paths, "text": folder / "text.csv", "three": folder / "three.csv", "dir": folder}


def _args(files: dict[str, Path], **changes: str) -> list[str]:
    options = {"--guest": str(files["guest"]), "--id": "id", "--target": "y", "--trees": "2", "--depth": "2"}
    options.update(changes)
    args = ["secureboost", "--host", str(files["host-a"])]
    for name, value in options.items():
        args += [name, value]
    return [*args, "--json"]


def test_secureboost_reports_federated_and_centralised_auc(files: dict[str, Path], tmp_path: Path) -> None:
    args = [
        *_args(files, **{"--out": str(tmp_path)}),
        "--host",
        str(files["host-b"]),
        "--audit-payloads",
        "digest",
    ]
    result = runner.invoke(federated_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    federated, central = report["federated"], report["centralised"]
    assert federated["auc_test"] == pytest.approx(central["secureboost_plaintext"]["auc_test"], abs=1e-12)
    assert 0.5 < central["lightgbm"]["auc_test"] <= 1.0 and "never pool" in central["note"]
    assert federated["key_bits"] >= 2048 and set(report["hosts"]) == {"host-1", "host-2"}
    model = f"secureboost-{federated['model_id']}.json"
    assert all((tmp_path / party / model).is_file() for party in ("guest", "host-1", "host-2"))
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == [
        "guest.jsonl",
        "host-1.jsonl",
        "host-2.jsonl",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"--guest": "absent.csv"}, "no such file"),
        ({"--id": "customer"}, "no id column"),
        ({"--target": "label"}, "no target column"),
        ({"--guest": "three"}, "only 0 and 1"),
        ({"--guest": "text"}, "non-numeric"),
        ({"--trees": "1000"}, "trees must be"),
        ({"--depth": "12"}, "depth must be"),
        ({"--bins": "500"}, "bins must be"),
        ({"--key-bits": "1024"}, "too short"),
        ({"--scheme": "rsa"}, "--scheme must be"),
        ({"--test-size": "0.99"}, "--test-size"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    files: dict[str, Path], changes: dict[str, str], message: str
) -> None:
    resolved = {k: str(files[v]) if v in files else v for k, v in changes.items()}
    result = runner.invoke(federated_app, _args(files, **resolved))
    assert result.exit_code == 2, result.output
    assert message in json.loads(result.stdout)["message"]
