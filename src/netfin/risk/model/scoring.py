"""Scoring one payment in-process, and saying why a score is high.

``score`` is on the synchronous decision path, so it does the least work
per call: the row goes straight into a fresh ``(1, n)`` float32 array (no
dict or list in between), one LightGBM prediction of the raw margin on one
thread, and the calibrator in ``math``. It builds no other array.

``reasons`` gives the features that pushed this event's score up the most.
Two ways, measured (``benchmarks/risk_train.py --latency``):

* ``exact=True``: LightGBM's ``pred_contrib``, i.e. TreeSHAP over every
  tree. Consistent attributions, but milliseconds per row for a few
  hundred trees: too slow to run on every payment.
* default: path attribution (Saabas; the "treeinterpreter" method). For
  each tree, the change of the node value at each split on the event's path
  is credited to the split's feature; summed over trees the credits plus
  the trees' root values give exactly the raw margin. Since the credit
  depends only on the leaf reached, it is precomputed once per leaf when
  the scorer is built, and at run time one ``pred_leaf`` prediction plus a
  sum of ``trees`` precomputed rows gives all contributions: about the cost
  of a prediction. Its attributions agree with SHAP on which features
  dominate a clear signal (tested), less so on fine ordering among weak ones.

Contributions are in log-odds (the margin), the scale on which the trees
add up; the calibrator is increasing, so a positive contribution pushes the
probability of fraud up as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from netfin.core.errors import InvalidInput
from netfin.risk.model.features import RowValue, encode_row_into, vocabulary_codes
from netfin.risk.model.training import TrainedModel

FloatArray = npt.NDArray[np.float64]
REASONS_TOP_MAX = 20


def _path_credits(node: Mapping[str, Any], credits: list[float], out: dict[int, list[float]]) -> None:
    """Walk one dumped tree, giving each leaf the per-feature credits along its path."""
    if "leaf_index" in node:
        out[int(node["leaf_index"])] = credits
        return
    value = node["internal_value"]
    feature = int(node["split_feature"])
    for child in (node["left_child"], node["right_child"]):
        child_value = child["leaf_value"] if "leaf_index" in child else child["internal_value"]
        path = list(credits)
        path[feature] += child_value - value
        _path_credits(child, path, out)


def path_attribution_table(model: TrainedModel) -> tuple[FloatArray, npt.NDArray[np.int64], float]:
    """Per leaf of every tree, its path credits; the first row index of each tree; the sum of root values.

    Row ``offsets[t] + leaf`` holds tree ``t``'s credits for an event that
    reaches ``leaf``.
    """
    n_features = len(model.features)
    trees = model.booster.dump_model()["tree_info"]
    offsets = np.zeros(len(trees), dtype=np.int64)
    rows: list[list[float]] = []
    bias = 0.0
    for t, tree in enumerate(trees):
        offsets[t] = len(rows)
        root = tree["tree_structure"]
        leaves: dict[int, list[float]] = {}
        if "leaf_index" in root or "split_feature" not in root:  # a tree of one leaf
            bias += root.get("leaf_value", 0.0)
            leaves[0] = [0.0] * n_features
        else:
            bias += root["internal_value"]
            _path_credits(root, [0.0] * n_features, leaves)
        rows.extend(leaves[i] for i in range(len(leaves)))
    return np.asarray(rows, dtype=np.float64).reshape(-1, n_features), offsets, bias


class Scorer:
    """A loaded model ready to score single events and batches (see the module docstring).

    Safe to share between threads: every call builds its own input array.
    """

    def __init__(self, model: TrainedModel) -> None:
        self.model = model
        self.features = model.features
        self.names = model.feature_names
        self._codes = vocabulary_codes(model.features)
        self._width = len(model.features)
        self._booster = model.booster
        self._calibrate_one = model.calibrator.apply_one
        self._credits, self._offsets, self.bias = path_attribution_table(model)

    @property
    def version(self) -> str:
        return self.model.version

    def encode(self, row: Mapping[str, RowValue]) -> npt.NDArray[np.float32]:
        """One event's features as the ``(1, n)`` array the booster reads.

        float32, as in training and ``score_batch``: a float64 value that sits
        between a float32 and a split threshold would otherwise take the other
        branch than the same event scored in a batch.
        """
        out = np.empty((1, self._width), dtype=np.float32)
        encode_row_into(row, self.features, self._codes, out)
        return out

    def margin(self, row: Mapping[str, RowValue]) -> float:
        """The raw log-odds of one event (before calibration)."""
        raw: float = self._booster.predict(self.encode(row), raw_score=True, num_threads=1)[0].item()
        return raw

    def score(self, row: Mapping[str, RowValue]) -> float:
        """Calibrated probability that this event is fraud."""
        return self._calibrate_one(self.margin(row))

    def score_batch(self, data: pa.Table | npt.NDArray[Any]) -> FloatArray:
        """Calibrated probabilities for a table of events or an already encoded matrix."""
        return self.model.predict_proba(data)

    def contributions(self, row: Mapping[str, RowValue], *, exact: bool = False) -> FloatArray:
        """Per-feature contributions to the margin (path attribution, or TreeSHAP when ``exact``)."""
        matrix = self.encode(row)
        if exact:
            shap = np.asarray(
                self._booster.predict(matrix, pred_contrib=True, num_threads=1), dtype=np.float64
            )
            return shap[0, : self._width]
        leaves = np.asarray(self._booster.predict(matrix, pred_leaf=True, num_threads=1), dtype=np.int64)
        summed: FloatArray = self._credits[self._offsets + leaves[0]].sum(axis=0)
        return summed

    def reasons(
        self, row: Mapping[str, RowValue], top: int = 3, *, exact: bool = False
    ) -> list[tuple[str, float]]:
        """The ``top`` features pushing this event towards fraud, largest first (only positive pushes)."""
        if not 0 < top <= REASONS_TOP_MAX:
            raise InvalidInput(f"top must be 1 to {REASONS_TOP_MAX}", code="reasons_top_invalid")
        contributions = self.contributions(row, exact=exact)
        order = np.argsort(-contributions, kind="stable")[:top]
        return [(self.names[j], contributions[j].item()) for j in order if contributions[j] > 0]

    def explain_check(self, row: Mapping[str, RowValue]) -> float:
        """How far bias plus path credits miss the margin (0 up to rounding); for tests and audits."""
        return math.fabs(self.bias + self.contributions(row).sum().item() - self.margin(row))
