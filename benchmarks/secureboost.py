"""SecureBoost end to end: a guest and a host as separate processes on FATE's default-credit data.

30,000 shared ids (guest: label + 13 features, host: 10 features), a seeded
stratified 70/30 split, 10 trees of depth 4 by default. Measures the session's
wall time, the guest's wall time per tree, where the time goes (each party's
own clocks: encryption, the host's bucket sums and packing, decryption,
sending), and the AUC of the federated model beside the same algorithm on the
pooled data and LightGBM with the same hyperparameters.

Throughput is ``training rows x features / (seconds per tree x cores)``,
with every feature of every party counted and the cores of every machine the
parties ran on (here both parties share one 2-core machine). FATE 2.0 reports
for Hetero-SecureBoost (doc/2.0/fate/performance/performance_multi_engines.md,
standalone engine, two 16-core hosts, guest 100,000 x 30 and host
100,000 x 300 features): 1 min 54 s per tree with Paillier and 1 min 17 s in
plaintext ("mock") mode, that is 100,000 x 330 / (114 s x 32 cores) = 9,046
and 13,393 row-features per core-second.

Run from the repository root (the shared data must be at ../shared/data)::

    .venv/bin/python benchmarks/secureboost.py
    .venv/bin/python benchmarks/secureboost.py --scheme paillier --json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from netfin.privacy.runner import PartySpec, run_parties
from netfin.privacy.secureboost import (
    BoostParams,
    FeatureBlock,
    lightgbm_auc,
    read_party_csv,
    stratified_split,
    train_reference,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fate_vfl"
FATE_ROW_FEATURES = 100_000 * 330
FATE_CORES = 32
FATE_SECONDS_PER_TREE = {"paillier": 114.0, "plaintext": 77.0}


def session(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], float]:
    params = BoostParams(trees=args.trees, depth=args.depth)
    guest = {"data": str(args.guest), "id_column": "id", "target": "y", "out_dir": str(work / "guest"),
             "params": params.to_json(), "scheme": args.scheme, "key_bits": args.key_bits,
             "threads": args.threads}  # fmt: skip
    host = {"data": str(args.host), "id_column": "id", "guest": "guest", "out_dir": str(work / "host"),
            "threads": args.threads}  # fmt: skip
    specs = [
        PartySpec("guest", "netfin.privacy.secureboost:guest_party", guest),
        PartySpec("host", "netfin.privacy.secureboost:host_party", host),
    ]
    start = time.perf_counter()
    results = run_parties(specs, audit_dir=work / "audit", timeout_s=3600, payloads="digest")
    return results, time.perf_counter() - start


def centralised(args: argparse.Namespace) -> dict[str, float]:
    params = BoostParams(trees=args.trees, depth=args.depth)
    g = read_party_csv(args.guest, id_column="id", target="y")
    h = read_party_csv(args.host, id_column="id")
    ids = sorted(set(g.ids) & set(h.ids))
    assert g.labels is not None
    labels = g.labels[g.rows_of(ids)]
    train, test = stratified_split(labels, 0.3, 7)
    blocks = [FeatureBlock("guest", g.features, g.values[g.rows_of(ids)]),
              FeatureBlock("host", h.features, h.values[h.rows_of(ids)])]  # fmt: skip
    reference = train_reference(blocks, labels, train, test, params)
    lgb_train, lgb_test = lightgbm_auc(np.hstack([b.values for b in blocks]), labels, train, test, params, 7)
    return {"plaintext_auc_test": reference.auc_test, "plaintext_auc_train": reference.auc_train,
            "lightgbm_auc_test": lgb_test, "lightgbm_auc_train": lgb_train}  # fmt: skip


def profile(guest: dict[str, Any], host: dict[str, Any]) -> dict[str, float]:
    """Seconds per activity over all trees, from both parties' clocks.

    The parties mostly take turns, but the guest sums its own histograms while
    the hosts sum theirs, so the parts can add up to a little more than the wall time.
    """
    g, h = guest["timings"], host["timings"]
    training = sum(guest["tree_seconds"])
    busy = {
        "encrypt gradients (guest)": g.get("encrypt", 0.0),
        "bucket sums (host)": h.get("bucket_sums", 0.0),
        "pack + re-randomise (host)": h.get("pack", 0.0),
        "decrypt + unpack (guest)": g.get("decrypt", 0.0) + g.get("unpack", 0.0),
        "send: encode + HTTP + audit (both)": g.get("send", 0.0) + h.get("send", 0.0),
        "load ciphertexts (host)": h.get("load_gradients", 0.0),
    }
    busy["other: plaintext histograms, gains, splits, waits"] = max(0.0, training - sum(busy.values()))
    busy["training total (guest wall, all trees)"] = training
    return {k: round(v, 2) for k, v in busy.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--guest", type=Path, default=DATA / "default_credit_hetero_guest.csv")
    parser.add_argument("--host", type=Path, default=DATA / "default_credit_hetero_host.csv")
    parser.add_argument("--scheme", default="ou", choices=["ou", "paillier", "phe"])
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores the parties share")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="secureboost-bench-") as work:
        results, wall = session(args, Path(work))
    load_after = os.getloadavg()
    guest, host = results["guest"], results["host"]
    per_tree = float(np.mean(guest["tree_seconds"]))
    features = sum(guest["features"].values())
    throughput = guest["rows"]["train"] * features / (per_tree * args.cores)
    fate = {k: FATE_ROW_FEATURES / (s * FATE_CORES) for k, s in FATE_SECONDS_PER_TREE.items()}
    report = {
        "scheme": guest["scheme"], "key_bits": guest["key_bits"], "rows": guest["rows"], "features": features,
        "trees": args.trees, "depth": args.depth, "session_wall_s": round(wall, 2),
        "guest_seconds": guest["seconds"], "tree_seconds": guest["tree_seconds"],
        "mean_tree_s": round(per_tree, 3),
        "cores": args.cores, "throughput_row_features_per_core_s": round(throughput),
        "fate_throughput": {k: round(v) for k, v in fate.items()},
        "vs_fate_paillier": round(throughput / fate["paillier"], 1),
        "auc_test": guest["auc_test"], "auc_train": guest["auc_train"], **centralised(args),
        "profile_s": profile(guest, host), "guest_timings": guest["timings"], "host_timings": host["timings"],
        "slots_per_ciphertext": guest["slots_per_ciphertext"],
        "load_before": load_before, "load_after": load_after,
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
