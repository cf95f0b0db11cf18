"""A synthetic loan book whose default risk is known by construction, for the scorecard tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SPECIAL_CODE = -999.0
REGION_LOGIT = {"north": -0.6, "south": 0.0, "east": 0.4, "west": 0.9}


def synthetic_frame(rows: int = 3000, seed: int = 0) -> Any:
    """Default risk rises with ``utilisation`` and falls with ``income``; ``region`` shifts it.

    ``noise`` is noise. ``utilisation`` is missing on about 5% of rows and ``income`` carries the
    special value -999 (not verified) on about 3%; ``month`` orders the rows
    for a time split.
    """
    rng = np.random.default_rng(seed)
    utilisation = rng.uniform(0, 100, rows)
    income = rng.normal(0, 1, rows)
    region = rng.choice(list(REGION_LOGIT), rows)
    logit = -1.4 + 0.035 * (utilisation - 50) - 0.9 * income + np.vectorize(REGION_LOGIT.get)(region)
    default = (rng.uniform(0, 1, rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    utilisation[rng.uniform(0, 1, rows) < 0.05] = np.nan
    income[rng.uniform(0, 1, rows) < 0.03] = SPECIAL_CODE
    return pd.DataFrame(
        {
            "loan_id": np.arange(1, rows + 1),
            "utilisation": utilisation,
            "income": income,
            "region": region,
            "noise": rng.normal(0, 1, rows),
            "month": np.sort(rng.integers(1, 13, rows)),
            "default": default,
        }
    )
