"""PaySim calibration: what is read from the tables, the documented mapping, and the fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shared_data import skip_unless

from netfin.core.errors import ConfigurationError
from netfin.risk.events import EventKind
from netfin.sim.bank import KIND_ACTION, KIND_SCALE, PaySimAction, default_calibration, load_calibration

PAYSIM = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fraud" / "paysim_params"
needs_paysim = skip_unless(
    PAYSIM.is_dir(), f"PaySim parameters not found at {PAYSIM} (licensed; not in the repository)"
)


@needs_paysim
def test_paysim_tables_give_hour_profiles_amount_scales_and_bands() -> None:
    calibration = load_calibration(PAYSIM)
    assert calibration.source == f"paysim:{PAYSIM}"
    payment = calibration.actions[PaySimAction.PAYMENT]
    assert payment.mean_minor == 12_807  # PaySim's pooled mean PAYMENT, one unit read as one fen
    assert calibration.mean_minor(EventKind.P2P) == round(
        calibration.actions[PaySimAction.TRANSFER].mean_minor * 0.05
    )
    assert calibration.actions[PaySimAction.TRANSFER].spread_cv == pytest.approx(2.42, abs=0.01)
    for profile in calibration.actions.values():
        assert profile.hour_share.shape == (24,) and profile.hour_share.sum() == pytest.approx(1)
        assert profile.hour_share[3:6].sum() < 0.01  # PaySim's logs are nearly silent before dawn
        assert np.argmax(profile.hour_share) in (18, 19, 20)
        assert profile.band_share.sum() == pytest.approx(1)
        assert np.all(profile.band_count_low <= profile.band_count_high)
        assert np.sum(profile.band_share * profile.band_level) == pytest.approx(1)
        assert 0.1 <= profile.event_sigma <= np.sqrt(np.log1p(profile.spread_cv**2)) + 1e-9
    cash_in = calibration.actions[PaySimAction.CASH_IN]
    assert (5, 9) in zip(cash_in.band_count_low.tolist(), cash_in.band_count_high.tolist(), strict=True)


def test_absent_directory_falls_back_to_the_documented_defaults(tmp_path: Path) -> None:
    for directory in (None, tmp_path / "nowhere"):
        calibration = load_calibration(directory)
        assert calibration.source == "defaults"
        assert calibration.actions.keys() == set(PaySimAction)
    assert default_calibration().actions[PaySimAction.PAYMENT].mean_minor == 10_000


def test_a_directory_without_the_tables_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_calibration(tmp_path)
    (tmp_path / "paysim_aggregatedTransactions.csv").write_text("action,hour\nPAYMENT,1\n")
    (tmp_path / "paysim_clientsProfiles.csv").write_text("action,freq\nPAYMENT,1\n")
    with pytest.raises(ConfigurationError) as caught:
        load_calibration(tmp_path)
    assert "lacks columns" in caught.value.message


def test_every_kind_but_salary_and_rent_maps_onto_a_paysim_action() -> None:
    assert set(KIND_ACTION) == set(EventKind) - {EventKind.SALARY, EventKind.RENT}
    assert set(KIND_SCALE) == set(KIND_ACTION)
    assert KIND_ACTION[EventKind.PURCHASE] is PaySimAction.PAYMENT
    assert KIND_ACTION[EventKind.TOP_UP] is PaySimAction.CASH_IN
    assert KIND_ACTION[EventKind.CASH_OUT] is PaySimAction.CASH_OUT
    assert KIND_ACTION[EventKind.BNPL_REPAYMENT] is PaySimAction.DEBIT
    assert KIND_ACTION[EventKind.CROSS_BORDER] is PaySimAction.TRANSFER
