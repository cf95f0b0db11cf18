"""Horizontal federated learning: banks with the same features, different customers.

Each bank trains a shared logistic-regression credit model on its own rows;
Flower's FedAvg combines the updates inside Flower's SecAgg+ workflow, so the
aggregator sees only the (weighted) sum of the updates, never one bank's.
Flower runs in its own virtual environment (``.venv-flower``) as separate
processes: a SuperLink for the aggregator and one SuperNode per bank;
``run_horizontal`` starts them from netfin's main environment, waits, scores
the global model on a held-out file and stops them all.

Invariants: a bank's process reads only its own file; every message that
crosses a bank's boundary is in that bank's ``MessageAudit``; with SecAgg+ the
update a bank sends is quantised and masked; no Flower process outlives a run.

Public names: run_horizontal, find_flower_venv, FlowerEnvironmentMissing,
FederatedRunFailed, FederatedRunTimeout. The Flower apps are
``netfin.privacy.horizontal.server_app:app`` and ``...client_app:app``; the
audit form of a message is ``netfin.privacy.horizontal.envelope``.
"""

from netfin.privacy.horizontal.errors import (
    FederatedRunFailed,
    FederatedRunTimeout,
    FlowerEnvironmentMissing,
)
from netfin.privacy.horizontal.launcher import run_horizontal
from netfin.privacy.horizontal.runtime import find_flower_venv

__all__ = [
    "FederatedRunFailed",
    "FederatedRunTimeout",
    "FlowerEnvironmentMissing",
    "find_flower_venv",
    "run_horizontal",
]
