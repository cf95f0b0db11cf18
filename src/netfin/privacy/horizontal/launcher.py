"""Run one federated training from netfin's main environment: plan, start Flower, wait, score, stop.

``run_horizontal`` checks everything it can before a process starts (the
files, their columns and row counts, the settings), then in a
``FlowerSession``

- starts one SuperLink (the aggregator; Flower's SuperExec under it runs the
  ServerApp in a process of its own) on a free loopback port,
- starts one SuperNode per bank, configured with that bank's file, audit and
  seed only (each runs the bank's ClientApp in processes of its own),
- submits the app with ``flwr run`` (the app's ``pyproject.toml`` is written
  for the run: its components are netfin's ServerApp and ClientApp, its
  configuration the run's settings),
- waits for the ServerApp's result file, and stops every process.

It then scores each round's global model on the held-out test file, which no
Flower process ever reads, and returns a JSON-able summary.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

import netfin
from netfin.core.errors import InvalidInput
from netfin.privacy.horizontal.errors import FederatedRunFailed
from netfin.privacy.horizontal.model import (
    BankData,
    TrainingSettings,
    count_rows,
    load_bank,
    read_header,
    roc_auc,
    score,
)
from netfin.privacy.horizontal.runtime import (
    FlowerSession,
    find_flower_venv,
    flower_version,
    free_port,
    toml_table,
)

BANKS_MIN = 2
SECAGG_BANKS_MIN = 3
BANKS_MAX = 16
ROUNDS_MAX = 200
TIMEOUT_S_MAX = 24 * 3600.0
# SecAgg+ quantises each value into [0, 2**22) and masks it modulo 2**32, so the sum of up to
# 2**10 banks cannot wrap around (Flower's defaults).
QUANTIZATION_RANGE = 1 << 22
MODULUS_RANGE = 1 << 32
BANK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
CONNECTION = "netfin"


@dataclass(frozen=True, slots=True)
class Bank:
    name: str
    file: Path
    rows: int
    audit: Path


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run needs, checked before any process starts."""

    banks: tuple[Bank, ...]
    features: int
    rounds: int
    settings: TrainingSettings
    secagg: dict[str, Any] | None
    payloads: Literal["full", "digest"]
    keep_updates: bool
    seed: int


def run_horizontal(
    files: Sequence[Path],
    test_file: Path,
    *,
    rounds: int = 5,
    audit_dir: Path,
    timeout_s: float = 600.0,
    secagg: bool = True,
    local_epochs: int = 3,
    learning_rate: float = 0.05,
    batch_size: int = 64,
    l2: float = 1e-4,
    clipping_range: float = 8.0,
    reconstruction_threshold: int | None = None,
    stage_timeout_s: float = 120.0,
    bank_names: Sequence[str] | None = None,
    payloads: Literal["full", "digest"] = "full",
    keep_updates: bool = False,
    seed: int = 0,
    flower_venv: Path | None = None,
) -> dict[str, Any]:
    """Train a logistic credit model by FedAvg, under SecAgg+ unless ``secagg=False``.

    ``files`` holds one CSV per bank (``id, y, x0..``); ``audit_dir`` receives
    ``<bank>.jsonl`` (every message across the bank's boundary), ``logs/`` and,
    with ``keep_updates``, ``<bank>.updates.jsonl`` (the bank's plain updates,
    the bank's own record, for audits). Returns a JSON-able summary.
    """
    for name, value in (("timeout", timeout_s), ("stage timeout", stage_timeout_s)):
        if not 0 < value <= TIMEOUT_S_MAX:
            raise InvalidInput(f"the {name} must be in (0, {TIMEOUT_S_MAX}] seconds, not {value}")
    if payloads not in ("full", "digest"):
        raise InvalidInput(f"payloads must be 'full' or 'digest', not {payloads!r}")
    settings = TrainingSettings(
        local_epochs=local_epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        l2=l2,
        clipping_range=clipping_range,
    )
    settings.check()
    banks, features = _banks(files, bank_names, audit_dir, secagg)
    if not 1 <= rounds <= ROUNDS_MAX:
        raise InvalidInput(f"rounds must be 1 to {ROUNDS_MAX}, not {rounds}")
    secagg_config = _secagg_config(banks, reconstruction_threshold, stage_timeout_s) if secagg else None
    plan = Plan(banks, features, rounds, settings, secagg_config, payloads, keep_updates, seed)
    if read_header(test_file)[2:] != [f"x{i}" for i in range(features)]:
        raise InvalidInput(f"{test_file}: the test file's features differ from the banks'")
    venv = find_flower_venv(flower_venv)
    test = load_bank(test_file)
    started = time.monotonic()
    with FlowerSession(venv, audit_dir / "logs", timeout_s) as session:
        result = _run(session, plan)
    summary = summarise(plan, result, test, test_file=test_file, audit_dir=audit_dir)
    return {**summary, "flower_version": flower_version(venv), "wall_s": round(time.monotonic() - started, 3)}


def _banks(
    files: Sequence[Path], bank_names: Sequence[str] | None, audit_dir: Path, secagg: bool
) -> tuple[tuple[Bank, ...], int]:
    banks_min = SECAGG_BANKS_MIN if secagg else BANKS_MIN
    if not banks_min <= len(files) <= BANKS_MAX:
        reason = " (with two, the sum and one's own update reveal the other's)" if secagg else ""
        raise InvalidInput(f"a federation needs {banks_min} to {BANKS_MAX} banks, not {len(files)}{reason}")
    names = list(bank_names) if bank_names is not None else [f"bank{i + 1}" for i in range(len(files))]
    distinct = len(names) == len(files) and len(set(names)) == len(names)
    if not distinct or not all(BANK_NAME.match(n) for n in names):
        raise InvalidInput(
            f"bank names must be distinct, one per file, matching {BANK_NAME.pattern}: {names}"
        )
    headers = [read_header(Path(f)) for f in files]
    if any(h != headers[0] for h in headers):
        raise InvalidInput("every bank's file must have the same columns")
    audit_dir = audit_dir.resolve()
    banks = tuple(
        Bank(name=n, file=Path(f).resolve(), rows=count_rows(Path(f)), audit=audit_dir / f"{n}.jsonl")
        for n, f in zip(names, files, strict=True)
    )
    return banks, len(headers[0]) - 2


def _secagg_config(
    banks: tuple[Bank, ...], reconstruction_threshold: int | None, stage_timeout_s: float
) -> dict[str, Any]:
    """Every bank is every bank's neighbour; a majority of shares rebuilds a dropped bank's key.

    ``max-weight`` is the largest bank's row count, so every bank's weight is
    at most 1 and its scaled update never leaves the clipping range.
    """
    threshold = reconstruction_threshold if reconstruction_threshold is not None else len(banks) // 2 + 1
    if not 2 <= threshold < len(banks):
        raise InvalidInput(f"the reconstruction threshold must be 2 to {len(banks) - 1}, not {threshold}")
    return {
        "num-shares": len(banks),
        "reconstruction-threshold": threshold,
        "max-weight": float(max(b.rows for b in banks)),
        "quantization-range": QUANTIZATION_RANGE,
        "modulus-range": MODULUS_RANGE,
        "stage-timeout-s": float(stage_timeout_s),
    }


def _run(session: FlowerSession, plan: Plan) -> dict[str, Any]:
    port = free_port()
    link = ["--insecure", "--host", "127.0.0.1", "--port", str(port), "--isolation", "subprocess"]
    session.spawn("superlink", "flower-superlink", [*link, "--disable-runtime-dependency-installation"])
    session.wait_for_port(port, "superlink")
    for index, bank in enumerate(plan.banks):
        node_config = session.workdir / f"{bank.name}.node.toml"
        node_config.write_text(toml_table(_node_config(bank, plan, index)), encoding="utf-8")
        node = ["--insecure", "--superlink", f"127.0.0.1:{port}", "--host", "127.0.0.1", "--port"]
        session.spawn(
            f"{bank.name}.supernode",
            "flower-supernode",
            [*node, str(free_port()), "--node-config", str(node_config)],
        )
    home = session.workdir / "flwr-home"
    home.mkdir(exist_ok=True)
    connection = toml_table({"address": f"127.0.0.1:{port}", "insecure": True})
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n[superlink.{CONNECTION}]\n{connection}', encoding="utf-8"
    )
    result_path = session.workdir / "result.json"
    app = session.workdir / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text(_app_pyproject(plan, result_path), encoding="utf-8")
    status, output = session.call("flwr", ["run", str(app), CONNECTION, "--format", "json"])
    if status != 0 or '"success": true' not in output.replace('"success":true', '"success": true'):
        raise FederatedRunFailed(f"`flwr run` did not start the run (exit {status}):\n{output[-3000:]}")
    result: dict[str, Any] = orjson.loads(session.wait_for_file(result_path, "the federated run"))
    if "error" in result:
        error = result["error"]
        raise FederatedRunFailed(
            f"the ServerApp failed: {error['type']}: {error['message']}" + session.tails()
        )
    return result


def _node_config(bank: Bank, plan: Plan, index: int) -> dict[str, Any]:
    updates = str(bank.audit.with_name(f"{bank.name}.updates.jsonl")) if plan.keep_updates else ""
    return {
        "bank": bank.name,
        "data-file": str(bank.file),
        "audit-path": str(bank.audit),
        "audit-payloads": plan.payloads,
        "updates-path": updates,
        "seed": plan.seed * 1000 + index,
    }


def _run_config(plan: Plan, result_path: Path) -> dict[str, Any]:
    settings = plan.settings
    unused = {  # the ServerApp reads these only under SecAgg+
        "num-shares": 0,
        "reconstruction-threshold": 0,
        "max-weight": 1.0,
        "quantization-range": QUANTIZATION_RANGE,
        "modulus-range": MODULUS_RANGE,
        "stage-timeout-s": 1.0,
    }
    return {
        "rounds": plan.rounds,
        "banks": len(plan.banks),
        "features": plan.features,
        "secagg": plan.secagg is not None,
        "local-epochs": settings.local_epochs,
        "learning-rate": float(settings.learning_rate),
        "batch-size": settings.batch_size,
        "l2": float(settings.l2),
        "clipping-range": float(settings.clipping_range),
        **(plan.secagg if plan.secagg is not None else unused),
        "result-path": str(result_path),
    }


def _app_pyproject(plan: Plan, result_path: Path) -> str:
    tables: dict[str, dict[str, Any]] = {
        "project": {
            "name": "netfin-horizontal",
            "version": netfin.__version__,
            "description": "netfin horizontal federated logistic regression",
            "license": "Apache-2.0",
            "dependencies": [],
        },
        "tool.flwr.app": {"publisher": "netfin"},
        "tool.flwr.app.components": {
            "serverapp": "netfin.privacy.horizontal.server_app:app",
            "clientapp": "netfin.privacy.horizontal.client_app:app",
        },
        "tool.flwr.app.config": _run_config(plan, result_path),
    }
    return "\n".join(f"[{name}]\n{toml_table(values)}" for name, values in tables.items())


def summarise(
    plan: Plan, result: dict[str, Any], test: BankData, *, test_file: Path, audit_dir: Path
) -> dict[str, Any]:
    """Per-round AUC on the test file, the final model and the settings, as JSON-able values."""
    per_round = []
    for entry in result["rounds"]:
        weights, intercept = entry["parameters"]
        auc = roc_auc(test.y, score([np.asarray(weights), np.asarray(intercept)], test.x))
        fields = {k: v for k, v in entry.items() if k != "parameters"}
        model = {"weights": weights, "intercept": intercept[0]}
        per_round.append({**fields, "auc_test": round(auc, 6), "model": model})
    if len(per_round) != plan.rounds:
        raise FederatedRunFailed(f"the ServerApp reported {len(per_round)} of {plan.rounds} rounds")
    settings = plan.settings
    secagg = {k.replace("-", "_"): v for k, v in plan.secagg.items()} if plan.secagg is not None else None
    return {
        "protocol": "fedavg+secagg+" if plan.secagg is not None else "fedavg",
        "run_id": result.get("run_id"),
        "banks": [
            {"name": b.name, "file": str(b.file), "rows": b.rows, "audit": str(b.audit)} for b in plan.banks
        ],
        "test": {"file": str(test_file), "rows": test.rows},
        "rounds": plan.rounds,
        "training": {
            "local_epochs": settings.local_epochs,
            "learning_rate": settings.learning_rate,
            "batch_size": settings.batch_size,
            "l2": settings.l2,
            "clipping_range": settings.clipping_range,
        },
        "secagg": secagg,
        "per_round": per_round,
        "model": per_round[-1]["model"],
        "auc_test": per_round[-1]["auc_test"],
        "audit_dir": str(audit_dir.resolve()),
    }
