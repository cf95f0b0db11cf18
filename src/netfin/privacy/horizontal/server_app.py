"""The aggregator's side: a Flower ServerApp running FedAvg inside the SecAgg+ workflow.

Runs in the separate Flower environment, started by the SuperLink. Each round
the SecAgg+ workflow collects every bank's masked, quantised update
(``[n_i, n_i * w_i]`` with ``n_i`` the bank's rows), removes the masks from
their sum only, and hands the weighted average to FedAvg. The server never
holds the test set: it writes the global model after every round to
``result-path`` (JSON), and the launcher scores it. A failure writes
``{"error": ...}`` there instead, so the launcher stops waiting at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from flwr.app import Context
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid, ServerApp

from netfin.privacy.horizontal.model import initial_parameters


class RecordingFedAvg(FedAvg):  # type: ignore[misc]
    """FedAvg that keeps the global model and the participation of every round."""

    def __init__(self, *, banks: int, features: int) -> None:
        super().__init__(
            fraction_fit=1.0,
            fraction_evaluate=0.0,
            min_fit_clients=banks,
            min_evaluate_clients=banks,
            min_available_clients=banks,
            initial_parameters=ndarrays_to_parameters(initial_parameters(features)),
            on_fit_config_fn=lambda server_round: {"round": server_round},
            accept_failures=True,
        )
        self.started = time.monotonic()
        self.rounds: list[dict[str, Any]] = []

    def aggregate_fit(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
        parameters, metrics = super().aggregate_fit(server_round, results, failures)
        weights: list[list[float]] = []
        if parameters is not None:
            weights = [
                np.asarray(a, dtype=np.float64).ravel().tolist() for a in parameters_to_ndarrays(parameters)
            ]
        self.rounds.append(
            {
                "round": server_round,
                "clients": len(results),
                "failures": len(failures),
                "rows": sum(int(fit_res.num_examples) for _, fit_res in results),
                "parameters": weights,
                "elapsed_s": round(time.monotonic() - self.started, 3),
            }
        )
        return parameters, metrics


def fit_workflow(run: dict[str, Any]) -> SecAggPlusWorkflow | None:
    if not bool(run["secagg"]):
        return None
    return SecAggPlusWorkflow(
        num_shares=int(run["num-shares"]),
        reconstruction_threshold=int(run["reconstruction-threshold"]),
        max_weight=float(run["max-weight"]),
        clipping_range=float(run["clipping-range"]),
        quantization_range=int(run["quantization-range"]),
        modulus_range=int(run["modulus-range"]),
        timeout=float(run["stage-timeout-s"]),
    )


def main(grid: Grid, context: Context) -> None:
    run = dict(context.run_config)
    result_path = Path(str(run["result-path"]))
    try:
        strategy = RecordingFedAvg(banks=int(run["banks"]), features=int(run["features"]))
        legacy = LegacyContext(
            context=context, config=ServerConfig(num_rounds=int(run["rounds"])), strategy=strategy
        )
        DefaultWorkflow(fit_workflow=fit_workflow(run))(grid, legacy)
        _write(result_path, {"run_id": int(context.run_id), "rounds": strategy.rounds})
    except Exception as exc:
        _write(result_path, {"error": {"type": type(exc).__name__, "message": str(exc)}})
        raise


def _write(path: Path, value: dict[str, Any]) -> None:
    """Write whole or not at all: the launcher polls for the file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(orjson.dumps(value))
    os.replace(partial, path)


app = ServerApp()
app.main()(main)
