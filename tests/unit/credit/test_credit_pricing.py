"""Loan pricing: base, risk premium, the green band; and the credit profile's validation."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netfin.core.errors import ConfigurationError, InvalidInput
from netfin.credit.config import DEFAULT_PROFILE, load_profile
from netfin.credit.pricing import EsgEvidence, GreenBand, PricingPolicy, green_adjustment

BAND = GreenBand(discount_bps_max=50, surcharge_bps_max=30)
POLICY = PricingPolicy(D("0.0385"), {"A": 0, "B": 100}, D("0.03"), D("0.18"), green=BAND)


def test_price_is_base_plus_premium_and_says_why() -> None:
    price = POLICY.price("B")
    assert price.annual_rate == D("0.0485")
    assert [(r.code, r.bps) for r in price.reasons] == [
        ("base_rate", 385),
        ("risk_premium", 100),
        ("green_no_evidence", 0),
    ]


def test_the_greenest_borrower_gets_the_whole_discount_and_the_reason_shows_it() -> None:
    esg = EsgEvidence(score=D(100), carbon_intensity=D(10), sector_benchmark=D(100), source="carbon account")
    price = POLICY.price("A", esg)
    assert price.annual_rate == D("0.0335")
    green = price.reasons[-1]
    assert green.code == "green_discount" and green.bps == -50 and "carbon account" in green.detail


def test_a_heavy_emitter_pays_the_surcharge_capped_by_the_band() -> None:
    esg = EsgEvidence(carbon_intensity=D(500), sector_benchmark=D(100))
    assert green_adjustment(esg, BAND).bps == 30
    assert green_adjustment(EsgEvidence(score=D(25)), BAND).bps == 15  # half-way below neutral


@given(
    score=st.one_of(st.none(), st.decimals(0, 100, places=1)),
    ratio=st.one_of(st.none(), st.decimals(0, 5, places=2)),
)
def test_the_green_move_never_leaves_the_band(score: D | None, ratio: D | None) -> None:
    esg = EsgEvidence(
        score=score,
        carbon_intensity=None if ratio is None else ratio * 100,
        sector_benchmark=None if ratio is None else D(100),
    )
    move = green_adjustment(esg, BAND).bps
    assert -BAND.discount_bps_max <= move <= BAND.surcharge_bps_max
    rate = POLICY.price("B", esg).annual_rate
    assert POLICY.rate_floor <= rate <= POLICY.rate_ceiling


def test_bad_evidence_and_unknown_grades_are_refused() -> None:
    with pytest.raises(InvalidInput):
        EsgEvidence(score=D(101))
    with pytest.raises(InvalidInput):
        EsgEvidence(carbon_intensity=D(1))
    with pytest.raises(InvalidInput):
        POLICY.price("Z")


def test_the_packaged_profile_loads_and_grades_points() -> None:
    profile = load_profile()
    assert profile.grade(700) == "A" and profile.grade(10) == "E"
    assert profile.product("checkout_bnpl").kind == "bnpl"
    assert profile.product("personal_instalment").amount_max(3) == 5_000_000


def test_a_bad_profile_is_refused_with_where(tmp_path: Path) -> None:
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace('penalty_rate: "0.18"', 'penalty_rate: "1.8"'), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"personal_instalment\.penalty_rate"):
        load_profile(bad)
    bad.write_text(text.replace("decisions: {A: approve", "decisions: {A: maybe"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="decisions"):
        load_profile(bad)


def test_the_allocation_order_is_configured_per_product(tmp_path: Path) -> None:
    product = load_profile().product("personal_instalment")
    assert product.allocation_order == ("fee", "penalty", "interest", "principal")
    assert product.allocation_strategy == "vertical"
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace(
            "allocation_order: [fee, penalty, interest, principal]",
            "allocation_order: [fee, interest, principal]",
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="allocation_order"):
        load_profile(bad)
    good = tmp_path / "good.yaml"
    good.write_text(
        text.replace(
            "allocation_order: [fee, penalty, interest, principal]",
            "allocation_order: [principal, interest, penalty, fee]",
        ).replace("allocation_strategy: vertical", "allocation_strategy: horizontal"),
        encoding="utf-8",
    )
    changed = load_profile(good).product("personal_instalment")
    assert changed.allocation_order[0] == "principal" and changed.allocation_strategy == "horizontal"
