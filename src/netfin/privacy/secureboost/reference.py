"""What a single owner of all the data would get: the same algorithm in plaintext, and LightGBM.

``train_reference`` runs SecureBoost's own algorithm on every party's
features in one process, with the same per-party bins, the same fixed-point
gradients, the same order of parties and the same tie-breaking, so its trees
must equal the federated ones split for split. ``lightgbm_auc`` trains
LightGBM with the same hyperparameters (leaf-wise growth capped at the same
depth and ``2**depth`` leaves, its own binning) as an outside yardstick.

In production the parties never pool their data; these baselines exist to
measure what the federated protocol costs in accuracy, which should be nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netfin.privacy.secureboost.binning import bin_features
from netfin.privacy.secureboost.boosting import auc, boost
from netfin.privacy.secureboost.histogram import FloatArray, IntArray
from netfin.privacy.secureboost.model import BoostParams, SplitRecord, Tree
from netfin.privacy.secureboost.tree import LocalOwner, SplitOwner, predict


@dataclass(frozen=True)
class FeatureBlock:
    """One party's features on the rows of the intersection (in intersection order)."""

    party: str
    names: list[str]
    values: FloatArray


@dataclass(frozen=True)
class ReferenceResult:
    trees: list[Tree]
    records: dict[str, list[SplitRecord]]
    base_score: float
    train_scores: FloatArray
    test_scores: FloatArray
    auc_train: float
    auc_test: float


def train_reference(
    blocks: Sequence[FeatureBlock], labels: FloatArray, train: IntArray, test: IntArray, params: BoostParams
) -> ReferenceResult:
    """Blocks in the federated order: the guest first, then the hosts by name."""
    owners = [
        LocalOwner(
            b.party, bin_features(b.names, b.values[train], params.max_bin), scoring_values=b.values[test]
        )
        for b in blocks
    ]

    def start_tree(_t: int, g_int: IntArray, h_int: IntArray) -> None:
        for owner in owners:
            owner.set_gradients(g_int, h_int)

    as_owners: list[SplitOwner] = list(owners)
    trees, base, train_scores = boost(as_owners, labels[train], params, start_tree=start_tree)
    test_scores = predict(trees, {o.name: o for o in owners}, test.size, base, params.depth)
    return ReferenceResult(
        trees=trees,
        records={o.name: o.records for o in owners},
        base_score=base,
        train_scores=train_scores,
        test_scores=test_scores,
        auc_train=auc(labels[train], train_scores),
        auc_test=auc(labels[test], test_scores),
    )


def lightgbm_params(params: BoostParams, seed: int) -> dict[str, Any]:
    """LightGBM's names for the same hyperparameters; no bagging, one thread, deterministic."""
    return {
        "objective": "binary",
        "num_leaves": 2**params.depth,
        "max_depth": params.depth,
        "learning_rate": params.learning_rate,
        "lambda_l2": params.reg_lambda,
        "min_gain_to_split": 2 * params.gamma,  # LightGBM's gain has no factor 1/2
        "min_sum_hessian_in_leaf": params.min_child_weight,
        "min_data_in_leaf": params.min_data_in_leaf,
        "max_bin": params.max_bin,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
        "feature_fraction": 1.0,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "seed": seed,
        "verbose": -1,
    }


def lightgbm_auc(
    values: FloatArray, labels: FloatArray, train: IntArray, test: IntArray, params: BoostParams, seed: int
) -> tuple[float, float]:
    """(train AUC, test AUC) of LightGBM on the pooled features."""
    import lightgbm

    data = lightgbm.Dataset(
        values[train], label=labels[train], params={"max_bin": params.max_bin, "verbose": -1}
    )
    booster = lightgbm.train(lightgbm_params(params, seed), data, num_boost_round=params.trees)
    train_scores = np.asarray(booster.predict(values[train], raw_score=True), dtype=np.float64)
    test_scores = np.asarray(booster.predict(values[test], raw_score=True), dtype=np.float64)
    return auc(labels[train], train_scores), auc(labels[test], test_scores)
