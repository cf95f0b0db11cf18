"""Test helpers for SecureBoost: short-key party functions (found through PYTHONPATH) and data.

Production (``guest_party``/``host_party``) refuses keys under 2048 bits; the
unit tests run the same protocol through ``run_guest``/``run_host`` with
1024-bit keys (``TEST_KEY_BITS``) so a session takes seconds.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from netfin.privacy.secureboost import (
    BoostParams,
    FeatureBlock,
    GuestConfig,
    HostConfig,
    ReferenceResult,
    read_party_csv,
    run_guest,
    run_host,
    stratified_split,
    train_reference,
)
from netfin.privacy.transport import Party

TEST_KEY_BITS = 1024


def guest(party: Party, *, data: str, out_dir: str, params: dict[str, Any], scheme: str) -> dict[str, Any]:
    config = GuestConfig(
        data=Path(data),
        id_column="id",
        target="y",
        out_dir=Path(out_dir),
        params=BoostParams.from_json(params),
        scheme=scheme,
        key_bits=TEST_KEY_BITS,
    )
    return run_guest(party, config, key_bits_min=TEST_KEY_BITS)


def host(party: Party, *, data: str, out_dir: str, guest: str = "guest") -> dict[str, Any]:
    config = HostConfig(Path(data), "id", guest, Path(out_dir))
    return run_host(party, config, key_bits_min=TEST_KEY_BITS)


# ---------------------------------------------------------------- synthetic vertical data

GUEST_ROWS = range(0, 450)
HOST_ROWS = {"host-a": [*range(0, 400), *range(520, 560)], "host-b": range(30, 560)}


def write_synthetic(folder: Path, *, seed: int = 3) -> dict[str, Path]:
    """A guest (3 features + label) and two hosts (3 and 2 features) with partly different customers.

    Ids look like ``c00042``; the intersection is ``c00030``..``c00399``. Some
    values are missing. The label depends on features of all three parties.
    """
    rng = np.random.default_rng(seed)
    rows = 560
    x = rng.normal(size=(rows, 8)).round(6)
    x[rng.random((rows, 8)) < 0.06] = np.nan
    z = np.nan_to_num(x)
    logit = 1.5 * z[:, 0] - 1.2 * z[:, 3] + 1.0 * z[:, 6] + 0.6 * z[:, 4] * z[:, 1]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    ids = [f"c{i:05d}" for i in range(rows)]
    columns = {"guest": [0, 1, 2], "host-a": [3, 4, 5], "host-b": [6, 7]}
    members = {"guest": GUEST_ROWS, **HOST_ROWS}
    paths = {}
    for name, cols in columns.items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", *(["y"] if name == "guest" else []), *[f"{name[0]}{c}" for c in cols]])
            for i in members[name]:
                label = [y[i]] if name == "guest" else []
                writer.writerow(
                    [ids[i], *label, *["" if np.isnan(x[i, c]) else f"{x[i, c]:.6f}" for c in cols]]
                )
        paths[name] = path
    return paths


def reference_for(paths: dict[str, Path], params: BoostParams) -> ReferenceResult:
    """The plaintext reference on the pooled files: the guest first, then the hosts by name."""
    tables = {
        name: read_party_csv(p, id_column="id", target="y" if name == "guest" else None)
        for name, p in paths.items()
    }
    ids = sorted(set.intersection(*(set(t.ids) for t in tables.values())))
    order = ["guest", *sorted(n for n in tables if n != "guest")]
    blocks = [FeatureBlock(n, tables[n].features, tables[n].values[tables[n].rows_of(ids)]) for n in order]
    labels = tables["guest"].labels
    assert labels is not None
    labels = labels[tables["guest"].rows_of(ids)]
    train, test = stratified_split(labels, 0.3, 7)
    return train_reference(blocks, labels, train, test, params)


# ---------------------------------------------------------------- trees in one comparable form


def federated_trees(out_dir: Path, model_id: str) -> list[dict[int, tuple[Any, ...]]]:
    """Every tree as node -> (owner, feature, bin, missing_left, threshold) or ("leaf", weight)."""
    name = f"secureboost-{model_id}.json"
    guest_doc = json.loads((out_dir / "guest" / name).read_text())
    records = {"guest": guest_doc["records"]}
    for host_name in guest_doc["hosts"]:
        host_doc = json.loads((out_dir / host_name / name).read_text())
        assert host_doc["model_id"] == model_id and "trees" not in host_doc
        records[host_name] = host_doc["records"]
    trees = []
    for tree in guest_doc["trees"]:
        nodes: dict[int, tuple[Any, ...]] = {}
        for node in tree:
            if "weight" in node:
                nodes[node["id"]] = ("leaf", node["weight"])
            else:
                r = records[node["owner"]][node["record"]]
                nodes[node["id"]] = (node["owner"], r["feature"], r["bin"], r["missing_left"], r["threshold"])
        trees.append(nodes)
    return trees


def reference_trees(result: ReferenceResult) -> list[dict[int, tuple[Any, ...]]]:
    trees = []
    for tree in result.trees:
        nodes: dict[int, tuple[Any, ...]] = {}
        for node_id, node in tree.nodes.items():
            if node.is_leaf:
                nodes[node_id] = ("leaf", node.weight)
            else:
                r = result.records[str(node.owner)][int(node.record or 0)]
                nodes[node_id] = (node.owner, r.feature, r.bin, r.missing_left, r.threshold)
        trees.append(nodes)
    return trees
