"""The boosting loop shared by the guest and the plaintext reference.

Logistic loss; the first score of every row is the log-odds of the training
labels (as LightGBM's ``boost_from_average``); each tree adds its leaf
weights (already scaled by the learning rate) to the scores of its rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from netfin.core.errors import InvalidInput
from netfin.privacy.secureboost.histogram import FloatArray, IntArray, gradients, quantize
from netfin.privacy.secureboost.model import BoostParams, Tree
from netfin.privacy.secureboost.tree import SplitOwner, grow_tree

StartTree = Callable[[int, IntArray, IntArray], None]
TreeDone = Callable[[int, Tree], None]


def base_score(labels: FloatArray) -> float:
    rate = float(labels.mean())
    if not 0 < rate < 1:
        raise InvalidInput("the training labels hold a single class")
    return math.log(rate / (1 - rate))


def boost(
    owners: Sequence[SplitOwner],
    labels: FloatArray,
    params: BoostParams,
    *,
    start_tree: StartTree,
    tree_done: TreeDone | None = None,
) -> tuple[list[Tree], float, FloatArray]:
    """Grow ``params.trees`` trees; ``start_tree(t, g, h)`` gives the owners each tree's gradients."""
    base = base_score(labels)
    scores = np.full(labels.size, base, dtype=np.float64)
    trees: list[Tree] = []
    for t in range(params.trees):
        g_int, h_int = quantize(*gradients(scores, labels))
        start_tree(t, g_int, h_int)
        tree, weights = grow_tree(owners, g_int, h_int, params)
        scores += weights
        trees.append(tree)
        if tree_done is not None:
            tree_done(t, tree)
    return trees, base, scores


def auc(labels: FloatArray, scores: FloatArray) -> float:
    from sklearn.metrics import roc_auc_score  # only the guest and the baselines need it

    return float(roc_auc_score(labels, scores))
