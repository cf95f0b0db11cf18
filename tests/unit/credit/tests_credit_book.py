"""Synthetic applications with origination's inputs, default risk known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd


def applications_frame(rows: int = 4000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kyc = rng.integers(1, 5, rows)
    age = rng.integers(0, 1500, rows)
    income = rng.integers(200_000, 4_000_000, rows)
    dti = rng.integers(0, 8000, rows)
    late = rng.poisson(0.3, rows)
    logit = -2.0 - 0.3 * (kyc - 2) - age / 1000 + dti / 3000 + 0.8 * late - income / 4_000_000
    default = (rng.uniform(0, 1, rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            "kyc_level": kyc,
            "account_age_days": age,
            "monthly_income_minor": income,
            "debt_to_income_bps": dti,
            "delinquencies_12m": late,
            "default": default,
        }
    )
