"""From the booster's raw margin to a probability of fraud that means what it says.

The booster is trained on reweighted data (negatives subsampled, positives
up-weighted), so its own probabilities are inflated by a roughly constant
factor on the odds. A calibrator fitted on the calibration period (later in
time than the training period, never seen by the trees) maps the raw margin
to an honest probability.

Platt scaling is the default: ``p = 1 / (1 + exp(-(a * margin + b)))``. It
suits this model because reweighting shifts the log-odds by a constant
(``b`` undoes it) and boosting tends to over- or under-state confidence
uniformly (``a`` undoes that); it needs only a few hundred frauds, which a
bank's own history may barely have; and being strictly increasing it keeps
every distinct score distinct, so alert-rate thresholds stay sharp.
Isotonic regression is available for large, rich calibration periods: it
fits any monotone distortion but turns the score into steps (many events
share a value at the top, where alerts are decided) and overfits when frauds
are few.

Both are stored as plain JSON numbers (no pickle): JSON's shortest
round-trip float repr makes a loaded calibrator give bit-identical output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from netfin.core.errors import InvalidInput

CalibrationMethod = Literal["platt", "isotonic"]
# Nearly no regularisation: two parameters on many rows need none, and a
# strong prior would pull the intercept away from the true base rate.
PLATT_C = 1e6


@dataclass(frozen=True, slots=True)
class PlattCalibrator:
    """``p = sigmoid(slope * margin + intercept)``."""

    slope: float
    intercept: float

    def apply(self, margin: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        z = self.slope * margin + self.intercept
        result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return result

    def apply_one(self, margin: float) -> float:
        """One value with ``math`` only: no array is built on the decision path."""
        z = self.slope * margin + self.intercept
        if z < 0:  # the two forms keep exp() from overflowing at either end
            e = math.exp(z)
            return e / (1.0 + e)
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, Any]:
        return {"method": "platt", "slope": self.slope, "intercept": self.intercept}


@dataclass(frozen=True, slots=True)
class IsotonicCalibrator:
    """A non-decreasing step function, interpolated linearly between its knots and flat outside them."""

    knots_margin: tuple[float, ...]
    knots_probability: tuple[float, ...]

    def apply(self, margin: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        result: npt.NDArray[np.float64] = np.interp(
            margin, np.asarray(self.knots_margin), np.asarray(self.knots_probability)
        )
        return result

    def apply_one(self, margin: float) -> float:
        probability: float = self.apply(np.asarray([margin], dtype=np.float64))[0].item()
        return probability

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "isotonic",
            "knots_margin": list(self.knots_margin),
            "knots_probability": list(self.knots_probability),
        }


Calibrator = PlattCalibrator | IsotonicCalibrator


def fit_calibrator(
    method: CalibrationMethod, margin: npt.NDArray[np.float64], labels: npt.NDArray[np.int8]
) -> Calibrator:
    """Fit on the calibration period's raw margins and labels (both classes needed)."""
    positives = int(labels.sum())
    if positives == 0 or positives == labels.size:
        raise InvalidInput(
            "the calibration period needs both fraud and legitimate events; "
            "give it a larger share of the history",
            code="calibration_one_class",
        )
    if method == "platt":
        from sklearn.linear_model import LogisticRegression  # fitting only: kept off the Bank's import

        regression = LogisticRegression(C=PLATT_C, solver="lbfgs", max_iter=1000)
        regression.fit(margin.reshape(-1, 1), labels)
        return PlattCalibrator(regression.coef_[0, 0].item(), regression.intercept_[0].item())
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        isotonic.fit(margin, labels)
        return IsotonicCalibrator(
            tuple(isotonic.X_thresholds_.tolist()), tuple(isotonic.y_thresholds_.tolist())
        )
    raise InvalidInput(f"unknown calibration method {method!r}", code="calibration_method_unknown")


def calibrator_from_json(data: dict[str, Any]) -> Calibrator:
    """Rebuild a calibrator from its stored JSON form."""
    method = data.get("method")
    if method == "platt":
        return PlattCalibrator(data["slope"], data["intercept"])
    if method == "isotonic":
        return IsotonicCalibrator(tuple(data["knots_margin"]), tuple(data["knots_probability"]))
    raise InvalidInput(f"unknown calibration method {method!r}", code="calibration_method_unknown")
