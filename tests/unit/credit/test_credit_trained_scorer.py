"""A scorecard trained on the bank's own applications replaces the starter card in origination."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests_credit_book import applications_frame

from netfin.core.errors import ConfigurationError
from netfin.credit.config import load_profile
from netfin.credit.origination import StarterScorer, TrainedScorer, scorer_from_env
from netfin.credit.scorecard import ScorecardSpec, save_scorecard, train_scorecard


def _trained(tmp_path: Path, frame: pd.DataFrame) -> Path:
    model = train_scorecard(frame, ScorecardSpec(target="default"), seed=3)
    return save_scorecard(model, tmp_path / "card")


def test_a_card_on_origination_inputs_scores_and_gives_reasons(tmp_path: Path) -> None:
    directory = _trained(tmp_path, applications_frame())
    scorer = scorer_from_env({"NETFIN_CREDIT_SCORECARD": str(directory)}, load_profile())
    assert isinstance(scorer, TrainedScorer) and scorer.name.startswith("scorecard:")
    safe = {
        "kyc_level": 4,
        "account_age_days": 900,
        "monthly_income_minor": 3_000_000,
        "existing_payments_minor": 0,
        "debt_to_income_bps": 500,
        "delinquencies_12m": 0,
    }
    risky = {**safe, "debt_to_income_bps": 7_000, "delinquencies_12m": 3}
    assert scorer.assess(safe).points > scorer.assess(risky).points
    assert scorer.assess(risky).reasons  # the features that cost points, worst first


def test_a_card_on_other_features_is_refused(tmp_path: Path) -> None:
    frame = applications_frame().rename(columns={"kyc_level": "utilisation"})
    with pytest.raises(ConfigurationError, match="utilisation"):
        scorer_from_env({"NETFIN_CREDIT_SCORECARD": str(_trained(tmp_path, frame))}, load_profile())
    assert isinstance(scorer_from_env({}, load_profile()), StarterScorer)


def test_the_frame_is_what_origination_would_record() -> None:
    frame = applications_frame(rows=200)
    assert set(frame.columns) - {"default"} <= {
        "kyc_level",
        "account_age_days",
        "monthly_income_minor",
        "existing_payments_minor",
        "debt_to_income_bps",
        "delinquencies_12m",
    }
    assert frame["default"].isin([0, 1]).all() and np.issubdtype(frame["kyc_level"].dtype, np.integer)
