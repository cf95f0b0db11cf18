"""Horizontal federated learning on Flower with SecAgg+: real processes, the audit, the launcher's errors.

The Flower runs need the separate Flower environment (``make flower`` builds
``.venv-flower``; ``NETFIN_FLOWER_VENV`` may point elsewhere). Where it is
absent these tests skip with that reason, and fail under ``CI=true``, like the
tests that need ../shared/data.
"""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from shared_data import IN_CI, missing, skip_unless
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from netfin.core.errors import InvalidInput
from netfin.privacy.audit import read_audit
from netfin.privacy.horizontal import (
    FederatedRunTimeout,
    FlowerEnvironmentMissing,
    envelope,
    find_flower_venv,
    run_horizontal,
)
from netfin.privacy.horizontal.model import (
    BankData,
    TrainingSettings,
    initial_parameters,
    load_bank,
    roc_auc,
    train_local,
)

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fate_vfl"
BANK_FILES = [DATA / f"default_credit_homo_{n}.csv" for n in ("guest", "host_1", "host_2")]
TEST_FILE = DATA / "default_credit_homo_test.csv"
HAVE_DATA = all(p.is_file() for p in [*BANK_FILES, TEST_FILE])
needs_data = skip_unless(HAVE_DATA, f"the FATE default-credit files are not under {DATA}")
# The AUC's standard error on the 6,000 test rows (1,309 defaults) is about 0.0085 by
# Hanley-McNeil, so a gap under 0.01 cannot be told apart on this test set.
AUC_TOLERANCE = 0.01
CLIPPING_RANGE = 8.0
QUANTIZATION_RANGE = 1 << 22
MODULUS_RANGE = 1 << 32


def _flower_venv() -> Path:
    try:
        return find_flower_venv()
    except FlowerEnvironmentMissing as exc:
        if IN_CI:
            pytest.fail(f"CI=true but {exc}")
        pytest.skip(str(exc))


def _synthetic(tmp_path: Path, banks: int = 3, rows: int = 200, features: int = 4) -> tuple[list[Path], Path]:
    rng = np.random.default_rng(7)
    header = ",".join(["id", "y", *(f"x{i}" for i in range(features))])

    def write(name: str, offset: int) -> Path:
        x = rng.normal(size=(rows, features))
        y = (x[:, 0] + rng.normal(size=rows) > 0).astype(int)
        lines = [header] + [
            ",".join([str(offset + i), str(y[i]), *(f"{v:.6f}" for v in x[i])]) for i in range(rows)
        ]
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n")
        return path

    return [write(f"b{i}", i * rows) for i in range(banks)], write("test", banks * rows)


def _marked_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


# --- the model and the audit form, no Flower needed ------------------------------------------


def test_roc_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500).astype(np.float64)
    scores = np.round(rng.normal(size=500) + y, 1)  # rounding makes ties
    assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    with pytest.raises(InvalidInput):
        roc_auc(np.zeros(3), np.arange(3.0))


def test_local_training_learns_and_stays_inside_the_clipping_box() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 3))
    y = (x @ np.array([4.0, -2.0, 0.0]) + rng.normal(size=2000) > 0).astype(np.float64)
    data = BankData(x=x, y=y)
    settings = TrainingSettings(local_epochs=5, learning_rate=0.5, clipping_range=1.0)
    weights, intercept = train_local(initial_parameters(3), data, settings, seed=0)
    assert np.abs(weights).max() <= 1.0 and abs(intercept[0]) <= 1.0
    assert weights[0] == pytest.approx(1.0) and weights[1] < -0.5
    with pytest.raises(InvalidInput):
        train_local([np.zeros(2), np.zeros(1)], data, settings, seed=0)
    with pytest.raises(InvalidInput):
        TrainingSettings(local_epochs=0).check()


def test_load_bank_checks_columns_labels_and_values(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("id,y,x0,x1\n1,0,0.5,1.5\n2,1,-0.5,2.0\n")
    data = load_bank(good)
    assert data.rows == 2 and data.x.tolist() == [[0.5, 1.5], [-0.5, 2.0]] and data.y.tolist() == [0, 1]
    for text in ("id,y,a,b\n1,0,1,2\n", "id,y,x0\n1,2,0.5\n", "id,y,x0\n1,1,nan\n", "id,y,x0\n1,1,abc\n"):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(InvalidInput):
            load_bank(bad)
    with pytest.raises(InvalidInput) as missing_file:
        load_bank(tmp_path / "absent.csv")
    assert missing_file.value.code == "data_file_missing"


def test_envelope_round_trips_arrays_and_bytes_and_refuses_objects() -> None:
    message = {"a": np.arange(4, dtype=np.int64), "b": [b"\x00\xff", 3, "s"], "c": {"d": 1.5, "e": None}}
    back = envelope.decode(envelope.encode(message))
    assert back["a"].tolist() == [0, 1, 2, 3] and back["a"].dtype == np.int64
    assert back["b"] == [b"\x00\xff", 3, "s"] and back["c"] == {"d": 1.5, "e": None}
    assert len(envelope.leaves(back)) == 6
    with pytest.raises(InvalidInput):
        envelope.encode({"o": np.array([object()], dtype=object)})
    with pytest.raises(InvalidInput):
        envelope.decode(b"[1, 2]")


# --- the launcher's errors --------------------------------------------------------------------


def test_launcher_refuses_a_missing_flower_environment(tmp_path: Path) -> None:
    banks, test = _synthetic(tmp_path)
    with pytest.raises(FlowerEnvironmentMissing) as caught:
        run_horizontal(banks, test, rounds=1, audit_dir=tmp_path / "audit", flower_venv=tmp_path / "absent")
    assert "make flower" in str(caught.value) and caught.value.code == "flower_environment_missing"


def test_launcher_refuses_bad_input_before_starting_anything(tmp_path: Path) -> None:
    banks, test = _synthetic(tmp_path)
    audit = tmp_path / "audit"
    with pytest.raises(InvalidInput) as absent:
        run_horizontal([*banks[:2], tmp_path / "absent.csv"], test, audit_dir=audit)
    assert absent.value.code == "data_file_missing"
    with pytest.raises(InvalidInput, match="reveal the other"):
        run_horizontal(banks[:2], test, audit_dir=audit)
    with pytest.raises(InvalidInput, match="rounds"):
        run_horizontal(banks, test, rounds=0, audit_dir=audit)
    with pytest.raises(InvalidInput, match="bank names"):
        run_horizontal(banks, test, audit_dir=audit, bank_names=["a", "a", "b"])
    with pytest.raises(InvalidInput, match="threshold"):
        run_horizontal(banks, test, audit_dir=audit, reconstruction_threshold=3)
    (tmp_path / "wide").mkdir()
    wide, _ = _synthetic(tmp_path / "wide", features=5)
    with pytest.raises(InvalidInput, match="same columns"):
        run_horizontal([*banks[:2], wide[0]], test, audit_dir=audit)
    with pytest.raises(InvalidInput, match="timeout"):
        run_horizontal(banks, test, audit_dir=audit, timeout_s=0)
    assert not audit.exists()


def test_the_flower_apps_import_only_light_netfin_modules_in_the_flower_venv() -> None:
    venv = _flower_venv()
    probe = (
        "import sys, json\n"
        "import netfin.privacy.horizontal.client_app, netfin.privacy.horizontal.server_app\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('netfin'))))\n"
    )
    src = Path(__file__).resolve().parents[3] / "src"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(src)}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, env=env, check=True
    )
    loaded = set(orjson.loads(done.stdout.splitlines()[-1]))
    allowed = {"netfin", "netfin.privacy", "netfin.privacy.audit"}
    assert {m for m in loaded if not m.startswith(("netfin.core", "netfin.privacy.horizontal"))} == allowed


def test_a_timeout_stops_every_flower_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = _flower_venv()
    marker = f"NETFIN_TEST_MARK={uuid.uuid4().hex}"
    monkeypatch.setenv("NETFIN_TEST_MARK", marker.split("=", 1)[1])
    banks, test = _synthetic(tmp_path)
    with pytest.raises(FederatedRunTimeout, match="time limit"):
        run_horizontal(banks, test, rounds=50, audit_dir=tmp_path / "audit", timeout_s=12.0, flower_venv=venv)
    assert _marked_processes(marker) == []
    logs = tmp_path / "audit" / "logs"
    assert {"superlink.log", "bank1.supernode.log", "bank3.supernode.log"} <= {p.name for p in logs.iterdir()}


# --- real runs: one SuperLink, three SuperNodes, SecAgg+ ------------------------------------------


SECAGG_ROUNDS = 2  # two rounds show the sum and the masking; each costs Flower's polling (~25 s here)


@pytest.fixture(scope="module")
def secagg_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not HAVE_DATA:
        missing(f"the FATE default-credit files are not under {DATA}")
    venv = _flower_venv()
    audit = tmp_path_factory.mktemp("secagg")
    mark = uuid.uuid4().hex
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETFIN_TEST_MARK", mark)
        summary = run_horizontal(
            BANK_FILES,
            TEST_FILE,
            rounds=SECAGG_ROUNDS,
            audit_dir=audit,
            timeout_s=540.0,
            keep_updates=True,
            bank_names=["guest", "host1", "host2"],
            flower_venv=venv,
        )
    left = _marked_processes(f"NETFIN_TEST_MARK={mark}")
    return {"summary": summary, "audit": audit, "left": left}


def _updates(audit: Path, bank: str) -> dict[int, dict[str, Any]]:
    lines = (audit / f"{bank}.updates.jsonl").read_bytes().splitlines()
    return {entry["round"]: entry for entry in map(orjson.loads, lines)}


def _raw_leaves(payload: bytes) -> list[Any]:
    """Every value in an audited message; bytes that hold a .npy array are opened as well."""
    found = []
    for leaf in envelope.leaves(envelope.decode(payload)):
        found.append(leaf)
        if isinstance(leaf, bytes) and leaf.startswith(b"\x93NUMPY"):
            found.append(np.load(io.BytesIO(leaf), allow_pickle=False))
    return found


@needs_data
@pytest.mark.slow
def test_federated_auc_is_close_to_centralised_logistic_regression(secagg_run: dict[str, Any]) -> None:
    summary = secagg_run["summary"]
    banks = [load_bank(p) for p in BANK_FILES]
    test = load_bank(TEST_FILE)
    pooled = LogisticRegression(max_iter=1000).fit(
        np.vstack([b.x for b in banks]), np.concatenate([b.y for b in banks])
    )
    centralised = roc_auc_score(test.y, pooled.decision_function(test.x))
    print(f"federated AUC {summary['auc_test']:.4f}, centralised AUC {centralised:.4f}")
    assert summary["protocol"] == "fedavg+secagg+" and summary["rounds"] == SECAGG_ROUNDS
    assert [r["clients"] for r in summary["per_round"]] == [3] * SECAGG_ROUNDS
    assert [r["failures"] for r in summary["per_round"]] == [0] * SECAGG_ROUNDS
    assert abs(summary["auc_test"] - centralised) <= AUC_TOLERANCE
    assert summary["secagg"]["num_shares"] == 3 and summary["secagg"]["reconstruction_threshold"] == 2
    orjson.dumps(summary)  # the summary is JSON-able as it is


@needs_data
@pytest.mark.slow
def test_no_bank_audit_holds_a_training_row_or_label(secagg_run: dict[str, Any]) -> None:
    banks = [load_bank(p) for p in BANK_FILES]
    rows = np.vstack([b.x for b in banks])
    cells = [
        cell
        for path in BANK_FILES
        for line in path.read_text().splitlines()[1:40]
        for cell in line.split(",")[2:]
        if len(cell) >= 8
    ]
    for bank in ("guest", "host1", "host2"):
        messages = list(read_audit(secagg_run["audit"] / f"{bank}.jsonl"))
        kinds = {(m.direction, m.kind) for m in messages}
        stages = ("setup", "share_keys", "collect_masked_vectors", "unmask")
        assert kinds == {(d, f"train.{s}") for d in ("received", "sent") for s in stages}
        assert len(messages) == SECAGG_ROUNDS * 4 * 2  # per round: four SecAgg+ stages, in and out
        leaves = [leaf for m in messages for leaf in _raw_leaves(m.payload or b"")]
        arrays = [leaf for leaf in leaves if isinstance(leaf, np.ndarray)]
        assert all(a.size < 1000 for a in arrays), "no column or label vector crosses the boundary"
        blob = b"".join(
            leaf.tobytes() if isinstance(leaf, np.ndarray) else leaf
            for leaf in leaves
            if isinstance(leaf, bytes | np.ndarray)
        )
        assert not any(row.tobytes() in blob for row in rows)
        for data in banks:
            for dtype in (np.float64, np.int64, np.uint8, np.bool_):
                assert data.y[:64].astype(dtype).tobytes() not in blob
        text = b"".join(m.payload or b"" for m in messages)
        assert not any(cell.encode() in text for cell in cells)


@needs_data
@pytest.mark.slow
def test_banks_send_masked_updates_and_the_server_gets_only_their_sum(secagg_run: dict[str, Any]) -> None:
    audit, summary = secagg_run["audit"], secagg_run["summary"]
    max_weight = summary["secagg"]["max_weight"]
    step = 2 * CLIPPING_RANGE / QUANTIZATION_RANGE
    updates = {bank: _updates(audit, bank) for bank in ("guest", "host1", "host2")}
    for bank, by_round in updates.items():
        sent = [
            m
            for m in read_audit(audit / f"{bank}.jsonl")
            if m.kind == "train.collect_masked_vectors" and m.direction == "sent"
        ]
        assert len(sent) == SECAGG_ROUNDS
        for message, server_round in zip(sent, range(1, SECAGG_ROUNDS + 1), strict=True):
            plain = np.concatenate([np.asarray(p) for p in by_round[server_round]["parameters"]])
            ratio = (
                round(by_round[server_round]["rows"] / max_weight * QUANTIZATION_RANGE) / QUANTIZATION_RANGE
            )
            quantised = np.floor(
                (np.clip(plain * ratio, -CLIPPING_RANGE, CLIPPING_RANGE) + CLIPPING_RANGE) / step
            )
            decoded = envelope.decode(message.payload or b"")
            masked_bytes = decoded["config_records"]["secaggplus_configs"]["masked_params"]
            masked = np.concatenate([np.load(io.BytesIO(b), allow_pickle=False) for b in masked_bytes[1:]])
            assert masked.shape == quantised.shape and masked.max() < MODULUS_RANGE
            assert np.mean(np.abs(masked - quantised) > 1) > 0.9, "the update left unmasked"
            assert plain.tobytes() not in (message.payload or b"")
            assert decoded["array_records"]["fitres.parameters"] == {}
    for entry in summary["per_round"]:
        r = entry["round"]
        rows = np.array([updates[b][r]["rows"] for b in updates], dtype=np.float64)
        plain = np.array(
            [np.concatenate([np.asarray(p) for p in updates[b][r]["parameters"]]) for b in updates]
        )
        expected = rows @ plain / rows.sum()
        aggregate = np.array([*entry["model"]["weights"], entry["model"]["intercept"]])
        assert np.max(np.abs(aggregate - expected)) <= len(rows) * step
        assert all(np.max(np.abs(aggregate - p)) > 100 * step for p in plain)


@needs_data
@pytest.mark.slow
def test_the_run_leaves_no_process_behind(secagg_run: dict[str, Any]) -> None:
    assert secagg_run["left"] == []
    logs = secagg_run["audit"] / "logs"
    assert sorted(p.name for p in logs.iterdir()) == [
        "guest.supernode.log",
        "host1.supernode.log",
        "host2.supernode.log",
        "superlink.log",
    ]


@needs_data
@pytest.mark.slow
def test_without_secagg_the_plain_update_crosses_the_boundary(tmp_path: Path) -> None:
    """The contrast that shows the audit check can fail: plain FedAvg sends the update as it is."""
    venv = _flower_venv()
    summary = run_horizontal(
        BANK_FILES,
        TEST_FILE,
        rounds=1,
        audit_dir=tmp_path,
        timeout_s=300.0,
        secagg=False,
        keep_updates=True,
        flower_venv=venv,
    )
    assert summary["protocol"] == "fedavg" and summary["secagg"] is None
    plain = np.asarray(_updates(tmp_path, "bank1")[1]["parameters"][0])
    sent = [m for m in read_audit(tmp_path / "bank1.jsonl") if m.direction == "sent"]
    assert [m.kind for m in sent] == ["train"]
    arrays = [leaf for leaf in _raw_leaves(sent[0].payload or b"") if isinstance(leaf, np.ndarray)]
    assert any(a.shape == plain.shape and np.array_equal(a, plain) for a in arrays)
