"""Corridor profiles: the packaged one loads; every malformed setting is refused with a code."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.payments.fx import (
    CorridorTerms,
    ReferenceRates,
    load_packaged_profile,
    load_profile,
    parse_profile,
)

BASE = """
[routing]
hubs = ["EUR", "USD"]
legs_max = 4
quote_ttl_seconds = 30
rates_age_days_max = 5

[default]
spread_bps = "40"
fee_minor = 0

[[corridors]]
source = "GBP"
target = "INR"
spread_bps = "20"
fee_minor = 199

[[corridors]]
source = "EUR"
target = "USD"
spread_bps = 8
"""

RATES = ReferenceRates(
    {
        date(2026, 4, 13): {
            "USD": Decimal("1.1684"),
            "GBP": Decimal("0.87058"),
            "INR": Decimal("109.047"),
            "JPY": Decimal("186.75"),
        }
    }
)


def test_packaged_default_profile_loads() -> None:
    profile = load_packaged_profile()
    assert profile.name == "default"
    assert profile.hubs == ("EUR", "USD")
    assert profile.legs_max == 4
    assert profile.default_terms == CorridorTerms(Decimal(40), 0)
    assert profile.corridor_terms[("GBP", "INR")] == CorridorTerms(Decimal(20), 199)


def test_profile_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BASE)
    profile = load_profile(path)
    assert profile.name == "mine"
    assert profile.quote_ttl_seconds == 30


def test_corridors_of_a_day_are_hubs_plus_listed_ones() -> None:
    profile = parse_profile(BASE, name="t")
    corridors = {
        (c.source_currency, c.target_currency): c
        for c in profile.corridors(RATES.rates_on(date(2026, 4, 13)))
    }
    spokes = {"GBP", "INR", "JPY"}
    expected = {(hub, spoke) for hub in ("EUR", "USD") for spoke in spokes}
    expected |= {(spoke, hub) for hub, spoke in list(expected)}
    expected |= {("EUR", "USD"), ("USD", "EUR"), ("GBP", "INR")}
    assert set(corridors) == expected
    assert corridors[("EUR", "USD")].spread_bps == Decimal(8)  # listed: re-priced
    assert corridors[("EUR", "USD")].fee_minor == 0  # not listed: the default fills in
    assert corridors[("USD", "EUR")].spread_bps == Decimal(40)
    assert corridors[("GBP", "INR")].fee_minor == 199
    assert corridors[("EUR", "JPY")].mid_rate == Decimal("186.75")


def test_a_listed_corridor_is_absent_on_a_day_without_its_rates() -> None:
    profile = parse_profile(BASE, name="t")
    rates = ReferenceRates({date(2026, 4, 13): {"USD": Decimal("1.1684"), "GBP": Decimal("0.87058")}})
    pairs = {
        (c.source_currency, c.target_currency) for c in profile.corridors(rates.rates_on(date(2026, 4, 13)))
    }
    assert ("GBP", "INR") not in pairs
    assert ("GBP", "EUR") in pairs


def test_offered_currencies_restrict_the_corridors() -> None:
    text = BASE.replace(
        "rates_age_days_max = 5", 'rates_age_days_max = 5\ncurrencies = ["EUR", "USD", "GBP", "INR"]'
    )
    profile = parse_profile(text, name="t")
    codes = {
        code
        for c in profile.corridors(RATES.rates_on(date(2026, 4, 13)))
        for code in (c.source_currency, c.target_currency)
    }
    assert codes == {"EUR", "USD", "GBP", "INR"}


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ('spread_bps = "40"', "spread_bps = 40.0", "fx_spread_invalid"),
        ('spread_bps = "40"', 'spread_bps = "4.005"', "fx_spread_invalid"),
        ('spread_bps = "40"', 'spread_bps = "abc"', "fx_spread_invalid"),
        ('spread_bps = "40"', 'spread_bps = "6000"', "fx_spread_invalid"),
        ('spread_bps = "40"', 'spread_bps = "-501"', "fx_spread_invalid"),
        ("fee_minor = 199", "fee_minor = -1", "fx_fee_invalid"),
        ("fee_minor = 199", "fee_minor = true", "fx_fee_invalid"),
        ("fee_minor = 199", 'fee_minor = "199"', "fx_fee_invalid"),
        ("fee_minor = 199", "fee_minor = 199\nextra = 1", "fx_profile_key_unknown"),
        ("legs_max = 4", "legs_max = 7", "fx_profile_legs_invalid"),
        ("legs_max = 4", "legs_max = 0", "fx_profile_legs_invalid"),
        ("legs_max = 4", "", "fx_profile_legs_invalid"),
        ("quote_ttl_seconds = 30", "quote_ttl_seconds = 0", "fx_profile_ttl_invalid"),
        ("quote_ttl_seconds = 30", "quote_ttl_seconds = 3601", "fx_profile_ttl_invalid"),
        ("rates_age_days_max = 5", "rates_age_days_max = -1", "fx_profile_rates_age_invalid"),
        ("legs_max = 4", "legs_max = 4\nleg_max = 3", "fx_profile_key_unknown"),
        ('hubs = ["EUR", "USD"]', 'hubs = ["EUR", "CYP"]', "fx_profile_currency_unknown"),
        ('hubs = ["EUR", "USD"]', 'hubs = ["EUR", "EUR"]', "fx_profile_hub_invalid"),
        ('hubs = ["EUR", "USD"]', 'hubs = "EUR"', "fx_profile_hub_invalid"),
        ('hubs = ["EUR", "USD"]', 'hubs = ["EUR"]\ncurrencies = ["USD", "GBP"]', "fx_profile_hub_invalid"),
        ('target = "INR"', 'target = "GBP"', "fx_corridor_invalid"),
        ('target = "INR"', 'target = "usd"', "fx_profile_currency_unknown"),
        ('source = "EUR"\ntarget = "USD"', 'source = "GBP"\ntarget = "INR"', "fx_profile_corridor_duplicate"),
        ("[default]", "[defaults]", "fx_profile_key_unknown"),
        ("[routing]", "[routing", "fx_profile_malformed"),
        ('spread_bps = "40"\nfee_minor = 0', 'spread_bps = "40"', "fx_profile_malformed"),
    ],
)
def test_malformed_profiles_are_refused_with_a_code(old: str, new: str, code: str) -> None:
    assert old in BASE
    with pytest.raises(InvalidInput) as refused:
        parse_profile(BASE.replace(old, new, 1), name="t")
    assert refused.value.code == code


def test_a_fee_of_the_largest_64_bit_amount_is_allowed() -> None:
    profile = parse_profile(BASE.replace("fee_minor = 199", "fee_minor = 9223372036854775807"), name="t")
    assert profile.corridor_terms[("GBP", "INR")].fee_minor == 2**63 - 1


def test_unknown_or_unsafe_packaged_profile_names_are_refused() -> None:
    for name in ("../../pyproject", "nope", ""):
        with pytest.raises(InvalidInput) as refused:
            load_packaged_profile(name)
        assert refused.value.code == "fx_profile_unknown"


def test_oversized_profile_is_refused() -> None:
    with pytest.raises(LimitExceeded) as refused:
        parse_profile(BASE + "#" * (1024 * 1024), name="t")
    assert refused.value.code == "fx_profile_too_large"


def test_non_utf8_profile_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_profile(b"\xff\xfe", name="t")
    assert refused.value.code == "fx_profile_malformed"
