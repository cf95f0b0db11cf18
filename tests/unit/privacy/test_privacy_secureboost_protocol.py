"""SecureBoost between separate processes: the same trees as the plaintext reference, nothing leaked.

Sessions use 1024-bit keys (``secureboost_parties.TEST_KEY_BITS``, tests only)
except the slow default-credit run, which goes through the production
protocol functions with 2048-bit OU.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from secureboost_parties import (
    federated_trees,
    reference_for,
    reference_trees,
    write_synthetic,
)
from shared_data import skip_unless

from netfin.privacy import codec
from netfin.privacy.audit import read_audit
from netfin.privacy.runner import PartyFailed, PartySpec, run_parties
from netfin.privacy.secureboost import BoostParams, lightgbm_auc, read_party_csv, stratified_split
from netfin.privacy.secureboost.histogram import SCALE, gradients

HERE = Path(__file__).parent
ENV = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
DATA = HERE.parents[2].parent / "shared" / "data" / "fate_vfl"
PARAMS = {"trees": 4, "depth": 3, "min_data_in_leaf": 10, "learning_rate": 0.3}
WEIGHT_TOLERANCE = 1.0 / SCALE


def _session(paths: dict[str, Path], out: Path, params: dict[str, Any], scheme: str = "ou") -> dict[str, Any]:
    guest = {"data": str(paths["guest"]), "out_dir": str(out / "guest"), "params": params, "scheme": scheme}
    specs = [PartySpec("guest", "secureboost_parties:guest", guest)]
    specs += [
        PartySpec(name, "secureboost_parties:host", {"data": str(p), "out_dir": str(out / name)})
        for name, p in paths.items()
        if name != "guest"
    ]
    return run_parties(specs, audit_dir=out / "audit", timeout_s=300, env=ENV)


def _assert_same_trees(
    federated: list[dict[int, tuple[Any, ...]]], reference: list[dict[int, tuple[Any, ...]]]
) -> None:
    assert len(federated) == len(reference)
    for fed, ref in zip(federated, reference, strict=True):
        assert sorted(fed) == sorted(ref)
        for node in fed:
            if fed[node][0] == "leaf":
                assert ref[node][0] == "leaf" and fed[node][1] == pytest.approx(
                    ref[node][1], abs=WEIGHT_TOLERANCE
                )
            else:
                assert fed[node] == ref[node]


@pytest.fixture(scope="module")
def three_parties(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sb3")
    paths = write_synthetic(folder)
    results = _session(paths, folder / "out", PARAMS)
    return {"paths": paths, "out": folder / "out", "results": results}


def test_three_parties_grow_the_reference_trees(three_parties: dict[str, Any]) -> None:
    summary = three_parties["results"]["guest"]
    reference = reference_for(three_parties["paths"], BoostParams.from_json(PARAMS))
    federated = federated_trees(three_parties["out"], summary["model_id"])
    _assert_same_trees(federated, reference_trees(reference))
    assert {n[0] for t in federated for n in t.values()} >= {"guest", "host-a", "host-b", "leaf"}
    assert summary["auc_test"] == pytest.approx(reference.auc_test, abs=1e-12)
    assert summary["auc_train"] == pytest.approx(reference.auc_train, abs=1e-12)
    assert summary["rows"] == {"intersection": 370, "train": 259, "test": 111}


def test_each_party_returns_only_a_summary(three_parties: dict[str, Any]) -> None:
    results = three_parties["results"]
    assert set(results) == {"guest", "host-a", "host-b"}
    assert set(results["host-a"]) == {"model_id", "model_path", "records", "rows", "seconds", "timings"}
    assert results["host-a"]["model_id"] == results["guest"]["model_id"]


def _payloads(audit_dir: Path) -> list[tuple[bytes, dict[str, Any]]]:
    out = []
    for path in sorted(audit_dir.glob("*.jsonl")):
        for message in read_audit(path):
            assert message.payload is not None
            out.append((message.payload, codec.loads(message.payload)))
    return out


def _plain_parts(message: dict[str, Any]) -> list[bytes]:
    """Everything in a message except ciphertexts and keys (random-looking blobs)."""
    parts = []
    for name, value in message.items():
        if isinstance(value, np.ndarray):
            parts.append(value.tobytes())
        elif not isinstance(value, (bytes, codec.BigInts)):
            parts.append(repr((name, value)).encode())
    return parts


def test_the_audit_holds_no_feature_value(three_parties: dict[str, Any]) -> None:
    tables = {n: read_party_csv(p, id_column="id", target="y" if n == "guest" else None)
              for n, p in three_parties["paths"].items()}  # fmt: skip
    values = np.concatenate([t.values.ravel() for t in tables.values()])
    values = values[~np.isnan(values)]
    texts = {f"{v:.6f}".encode() for v in values}
    doubles = {struct.pack("<d", v) for v in values}
    singles = {struct.pack("<f", v) for v in values}
    for payload, message in _payloads(three_parties["out"] / "audit"):
        assert not any(t in payload for t in texts)
        assert not any(d in payload for d in doubles)
        plain = b"".join(_plain_parts(message))
        assert not any(s in plain for s in singles)


def _first_tree_secrets(guest_csv: Path) -> tuple[set[bytes], list[np.ndarray[Any, Any]]]:
    """The first tree's g and h (float64 and fixed point) and the label vectors, as the guest has them."""
    guest = read_party_csv(guest_csv, id_column="id", target="y")
    assert guest.labels is not None
    ids = [f"c{i:05d}" for i in range(30, 400)]
    labels = guest.labels[guest.rows_of(ids)]
    train, test = stratified_split(labels, 0.3, 7)
    rate = labels[train].mean()
    g, h = gradients(np.full(2, np.log(rate / (1 - rate))), np.array([0.0, 1.0]))
    values = [*g.tolist(), float(h[0])]
    secrets = {struct.pack("<d", v) for v in values} | {struct.pack("<q", round(v * SCALE)) for v in values}
    return secrets, [labels, labels[train], labels[test], guest.labels]


def test_the_audit_holds_no_label_gradient_or_foreign_id(three_parties: dict[str, Any]) -> None:
    secrets, label_vectors = _first_tree_secrets(three_parties["paths"]["guest"])
    outside = {f"c{i:05d}".encode() for i in range(560) if not 30 <= i < 400}
    for payload, message in _payloads(three_parties["out"] / "audit"):
        assert not any(s in payload for s in secrets)
        assert not any(i in payload for i in outside)
        arrays = [v for v in message.values() if isinstance(v, np.ndarray)]
        assert not any(
            a.size == y.size and np.array_equal(a.astype(np.float64), y)
            for a in arrays
            for y in label_vectors
        )


def test_paillier_and_phe_give_the_same_trees(tmp_path: Path) -> None:
    paths = write_synthetic(tmp_path, seed=5)
    two = {"guest": paths["guest"], "host-a": paths["host-a"]}
    params = {**PARAMS, "trees": 2}
    reference = reference_trees(reference_for(two, BoostParams.from_json(params)))
    for scheme in ("paillier", "phe"):
        results = _session(two, tmp_path / scheme, params, scheme=scheme)
        _assert_same_trees(federated_trees(tmp_path / scheme, results["guest"]["model_id"]), reference)


def test_a_host_that_refuses_a_short_key_fails_the_session(tmp_path: Path) -> None:
    paths = write_synthetic(tmp_path)
    guest = {"data": str(paths["guest"]), "out_dir": str(tmp_path / "g"), "params": PARAMS, "scheme": "ou"}
    host = {"data": str(paths["host-a"]), "id_column": "id", "guest": "guest", "out_dir": str(tmp_path / "h")}
    specs = [
        PartySpec("guest", "secureboost_parties:guest", guest),
        PartySpec("host-a", "netfin.privacy.secureboost:host_party", host),
    ]
    with pytest.raises(PartyFailed, match="too short"):
        run_parties(specs, audit_dir=tmp_path / "audit", timeout_s=120, env=ENV)


BREAST = skip_unless((DATA / "breast_hetero_guest.csv").is_file(), "../shared/data/fate_vfl is absent")
CREDIT = skip_unless(
    (DATA / "default_credit_hetero_guest.csv").is_file(), "../shared/data/fate_vfl is absent"
)


@BREAST
def test_breast_data_federated_equals_the_reference(tmp_path: Path) -> None:
    paths = {"guest": DATA / "breast_hetero_guest.csv", "host-1": DATA / "breast_hetero_host.csv"}
    params = {"trees": 5, "depth": 4}
    results = _session(paths, tmp_path, params)
    reference = reference_for(paths, BoostParams.from_json(params))
    _assert_same_trees(federated_trees(tmp_path, results["guest"]["model_id"]), reference_trees(reference))
    assert results["guest"]["auc_test"] == pytest.approx(reference.auc_test, abs=1e-12)


@pytest.mark.slow
@CREDIT
def test_default_credit_auc_is_within_0_002_of_lightgbm(tmp_path: Path) -> None:
    """The acceptance run: 30,000 rows, 2048-bit OU, 10 trees of depth 4, production protocol functions."""
    guest_csv, host_csv = DATA / "default_credit_hetero_guest.csv", DATA / "default_credit_hetero_host.csv"
    common = {"id_column": "id", "out_dir": str(tmp_path / "out")}
    guest = {**common, "data": str(guest_csv), "target": "y"}
    host = {**common, "data": str(host_csv), "guest": "guest"}
    specs = [
        PartySpec("guest", "netfin.privacy.secureboost:guest_party", guest),
        PartySpec("host-1", "netfin.privacy.secureboost:host_party", host),
    ]
    summary = run_parties(specs, audit_dir=tmp_path / "audit", timeout_s=900, payloads="digest")["guest"]
    g = read_party_csv(guest_csv, id_column="id", target="y")
    h = read_party_csv(host_csv, id_column="id")
    ids = sorted(set(g.ids) & set(h.ids))
    assert g.labels is not None
    labels = g.labels[g.rows_of(ids)]
    train, test = stratified_split(labels, 0.3, 7)
    pooled = np.hstack([g.values[g.rows_of(ids)], h.values[h.rows_of(ids)]])
    _, lightgbm_test = lightgbm_auc(pooled, labels, train, test, BoostParams(), 7)
    assert summary["rows"]["intersection"] == 30_000
    assert abs(summary["auc_test"] - lightgbm_test) <= 0.002
