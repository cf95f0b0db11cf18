"""Unit tests: wallet tier profiles (loading, validation codes, ordering rules, content hash)."""

from __future__ import annotations

import datetime
import hashlib
import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest

from netfin.core.errors import ConfigurationError, Forbidden, InvalidInput, NetfinError
from netfin.identity.model import KycLevel
from netfin.payments.wallets.model import UNLIMITED
from netfin.payments.wallets.tiers import (
    PROFILE_SIZE_MAX,
    TIER_SUB_WALLETS_MAX,
    Tier,
    TierProfile,
    bundled_profiles,
    load_profile,
    parse_profile,
)

# The hash of the shipped pboc-ecny profile, version 1. If this test fails the
# profile's values changed: give the file a new version, then update both here.
PBOC_ECNY_V1_HASH = "b8cfafce048b8c85054502a0a559926a43cb4d0bfbb9ec361005b6995daf3459"
YUAN = 100  # fen per yuan


def profile_dict() -> dict[str, Any]:
    """A valid profile in the shape of the TOML file, to change one thing at a time."""
    limits = {
        1: ("unlimited", "unlimited", "unlimited", "unlimited"),
        2: (500_000 * YUAN, 50_000 * YUAN, 100_000 * YUAN, "unlimited"),
        3: (20_000 * YUAN, 5_000 * YUAN, 10_000 * YUAN, "unlimited"),
        4: (10_000 * YUAN, 2_000 * YUAN, 5_000 * YUAN, 50_000 * YUAN),
    }
    return {
        "profile": "test-profile",
        "version": 1,
        "effective_from": datetime.date(2024, 1, 1),
        "currency": "CNY",
        "tier": [
            {
                "class": class_no,
                "kyc_level": 5 - class_no,
                "anonymous": class_no == 4,
                "balance_limit": balance,
                "per_payment_limit": per_payment,
                "daily_limit": daily,
                "annual_limit": annual,
                "sub_wallets_max": 4 - class_no,
            }
            for class_no, (balance, per_payment, daily, annual) in limits.items()
        ],
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, datetime.date)):
        return str(value) if not isinstance(value, datetime.datetime) else value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(value)


def to_toml(profile: dict[str, Any]) -> str:
    """Write the test's dict as TOML: top-level keys, then [[tier]] tables."""
    lines = [f"{key} = {_toml_value(value)}" for key, value in profile.items() if key != "tier"]
    tiers = profile.get("tier", [])
    if not isinstance(tiers, list) or not all(isinstance(entry, dict) for entry in tiers):
        lines.append(f"tier = {_toml_value(tiers)}")
        return "\n".join(lines) + "\n"
    for entry in tiers:
        lines.append("\n[[tier]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
    return "\n".join(lines) + "\n"


def rejected(profile: dict[str, Any] | str, code: str) -> ConfigurationError:
    text = profile if isinstance(profile, str) else to_toml(profile)
    with pytest.raises(ConfigurationError) as caught:
        parse_profile(text)
    assert caught.value.code == code, caught.value
    return caught.value


def tier_of(profile: dict[str, Any], class_no: int) -> dict[str, Any]:
    entry: dict[str, Any] = next(entry for entry in profile["tier"] if entry["class"] == class_no)
    return entry


# -- the shipped profiles -----------------------------------------------------------


def test_bundled_profiles() -> None:
    assert bundled_profiles() == ("bank-example", "pboc-ecny")


def test_pboc_ecny_profile() -> None:
    profile = load_profile("pboc-ecny")
    assert (profile.name, profile.version, profile.currency) == ("pboc-ecny", 1, "CNY")
    assert profile.effective_from == datetime.date(2022, 1, 4)
    assert [tier.class_no for tier in profile.tiers] == [1, 2, 3, 4]
    anonymous = profile.tier(4)
    assert anonymous.anonymous and anonymous.kyc_level is KycLevel.PHONE_ONLY
    assert anonymous.limits() == {
        "per_payment_limit": 2_000 * YUAN,
        "daily_limit": 5_000 * YUAN,
        "annual_limit": 50_000 * YUAN,
        "balance_limit": 10_000 * YUAN,
    }
    assert anonymous.sub_wallets_max == 0
    assert (
        profile.tier(3).balance_limit,
        profile.tier(3).per_payment_limit,
        profile.tier(3).daily_limit,
    ) == (
        20_000 * YUAN,
        5_000 * YUAN,
        10_000 * YUAN,
    )
    assert (
        profile.tier(2).balance_limit,
        profile.tier(2).per_payment_limit,
        profile.tier(2).daily_limit,
    ) == (
        500_000 * YUAN,
        50_000 * YUAN,
        100_000 * YUAN,
    )
    assert set(profile.tier(1).limits().values()) == {None}
    assert [tier.anonymous for tier in profile.tiers] == [False, False, False, True]
    assert [int(tier.kyc_level) for tier in profile.tiers] == [4, 3, 2, 1]


def test_bank_example_profile() -> None:
    profile = load_profile("bank-example")
    assert (profile.name, profile.version, profile.currency) == ("bank-example", 1, "CNY")
    assert profile.tier(4).balance_limit == 5_000 * YUAN
    assert profile.tier(1).per_payment_limit == 1_000_000 * YUAN
    assert profile.tier(1).balance_limit is None
    assert profile.content_hash != load_profile("pboc-ecny").content_hash


def test_load_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(to_toml(profile_dict()))
    by_path, by_text = load_profile(path), load_profile(str(path))
    assert by_path == by_text and by_path.name == "test-profile"


@pytest.mark.parametrize(
    ("argument", "code"),
    [
        ("no-such-profile", "tier_profile_not_found"),
        ("/nonexistent/profile.toml", "tier_profile_not_found"),
        ("PBOC-ECNY", "tier_profile_name_invalid"),
        ("pboc ecny", "tier_profile_name_invalid"),
        ("..", "tier_profile_name_invalid"),
        ("x" * 41, "tier_profile_name_invalid"),
    ],
)
def test_load_refusals(argument: str, code: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_profile(argument)
    assert caught.value.code == code


def test_bundled_file_must_declare_its_own_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "other.toml").write_text(to_toml(profile_dict()))
    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        load_profile("other")
    assert caught.value.code == "tier_profile_name_mismatch"


def test_oversized_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    large = tmp_path / "large.toml"
    large.write_text(to_toml(profile_dict()) + "#" * PROFILE_SIZE_MAX)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'profile = "\xff"\n')
    for path, code in ((large, "tier_profile_too_large"), (binary, "tier_profile_unreadable")):
        with pytest.raises(ConfigurationError) as caught:
            load_profile(path)
        assert caught.value.code == code


# -- validation, one code at a time --------------------------------------------------


def test_valid_dict_loads() -> None:
    profile = parse_profile(to_toml(profile_dict()))
    assert profile.tier(2).annual_limit is None and profile.tier(4).annual_limit == 50_000 * YUAN


def test_syntax_error() -> None:
    rejected("profile = \n", "tier_profile_unreadable")


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("profile", "PBOC", "tier_profile_name_invalid"),
        ("profile", "", "tier_profile_name_invalid"),
        ("profile", 7, "tier_profile_name_invalid"),
        ("version", 0, "tier_profile_version_invalid"),
        ("version", True, "tier_profile_version_invalid"),
        ("version", "2", "tier_profile_version_invalid"),
        ("effective_from", "2024-01-01", "tier_profile_date_invalid"),
        ("effective_from", datetime.datetime(2024, 1, 1, 9, 30), "tier_profile_date_invalid"),
        ("currency", "ZZZ", "tier_profile_currency_invalid"),
        ("currency", "XAU", "tier_profile_currency_invalid"),
        ("currency", "cny", "tier_profile_currency_invalid"),
        ("tier", 5, "tier_classes_invalid"),
        ("tier", [1, 2], "tier_classes_invalid"),
    ],
)
def test_profile_fields(key: str, value: Any, code: str) -> None:
    profile = profile_dict()
    profile[key] = value
    rejected(profile, code)


@pytest.mark.parametrize("key", ["profile", "version", "effective_from", "currency", "tier"])
def test_profile_key_missing(key: str) -> None:
    profile = profile_dict()
    del profile[key]
    rejected(profile, "tier_profile_key_missing")


def test_profile_key_unknown() -> None:
    profile = profile_dict()
    profile["descripton"] = "a typo"
    rejected(profile, "tier_profile_key_unknown")


@pytest.mark.parametrize(
    "key",
    ["class", "kyc_level", "anonymous", "balance_limit", "per_payment_limit", "daily_limit", "annual_limit",
     "sub_wallets_max"],
)  # fmt: skip
def test_tier_key_missing(key: str) -> None:
    profile = profile_dict()
    del tier_of(profile, 3)[key]
    rejected(profile, "tier_profile_key_missing")


def test_tier_key_unknown() -> None:
    profile = profile_dict()
    tier_of(profile, 3)["monthly_limit"] = 1
    rejected(profile, "tier_profile_key_unknown")


def test_every_class_once() -> None:
    missing = profile_dict()
    missing["tier"] = missing["tier"][:3]
    rejected(missing, "tier_classes_invalid")
    duplicate = profile_dict()
    duplicate["tier"].append(dict(tier_of(duplicate, 4)))
    rejected(duplicate, "tier_classes_invalid")
    for bad in (5, 0, True, "1"):
        unknown = profile_dict()
        tier_of(unknown, 4)["class"] = bad
        rejected(unknown, "tier_classes_invalid")


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("kyc_level", 0, "tier_kyc_level_invalid"),
        ("kyc_level", 5, "tier_kyc_level_invalid"),
        ("kyc_level", True, "tier_kyc_level_invalid"),
        ("kyc_level", "1", "tier_kyc_level_invalid"),
        ("anonymous", "yes", "tier_value_invalid"),
        ("anonymous", 1, "tier_value_invalid"),
        ("sub_wallets_max", -1, "tier_value_invalid"),
        ("sub_wallets_max", TIER_SUB_WALLETS_MAX + 1, "tier_value_invalid"),
        ("sub_wallets_max", True, "tier_value_invalid"),
        ("balance_limit", -1, "tier_limit_invalid"),
        ("balance_limit", UNLIMITED + 1, "tier_limit_invalid"),
        ("balance_limit", "none", "tier_limit_invalid"),
        ("balance_limit", "Unlimited", "tier_limit_invalid"),
        ("balance_limit", True, "tier_limit_invalid"),
        ("balance_limit", [1], "tier_limit_invalid"),
        ("annual_limit", -5, "tier_limit_invalid"),
    ],
)
def test_tier_fields(key: str, value: Any, code: str) -> None:
    profile = profile_dict()
    tier_of(profile, 4)[key] = value
    rejected(profile, code)


def test_float_limit_is_refused() -> None:
    text = to_toml(profile_dict()).replace("balance_limit = 1000000\n", "balance_limit = 10000.0\n", 1)
    assert "10000.0" in text
    rejected(text, "tier_limit_invalid")


def test_zero_is_a_limit_not_unlimited() -> None:
    profile = profile_dict()
    tier_of(profile, 4).update(per_payment_limit=0)
    assert parse_profile(to_toml(profile)).tier(4).per_payment_limit == 0


@pytest.mark.parametrize(
    "limits",
    [
        {"per_payment_limit": 6_000 * YUAN},  # above daily (5,000)
        {"daily_limit": 60_000 * YUAN},  # above annual (50,000)
        {"per_payment_limit": "unlimited"},  # unlimited above a daily limit
        {"daily_limit": "unlimited"},  # unlimited above an annual limit
    ],
)
def test_per_payment_daily_annual_order(limits: dict[str, Any]) -> None:
    profile = profile_dict()
    tier_of(profile, 4).update(limits)
    rejected(profile, "tier_limits_out_of_order")


@pytest.mark.parametrize(
    ("class_no", "limits"),
    [
        (3, {"balance_limit": 9_000 * YUAN}),  # class 3 holds less than class 4
        (3, {"per_payment_limit": 1_000 * YUAN}),
        (3, {"daily_limit": 4_000 * YUAN, "per_payment_limit": 2_000 * YUAN}),
        (3, {"annual_limit": 40_000 * YUAN}),
        (2, {"annual_limit": 200_000 * YUAN}),  # class 3 is unlimited
        (1, {"balance_limit": 100 * YUAN}),
        (1, {"sub_wallets_max": 0}),
    ],
)
def test_stronger_class_never_gets_tighter_limits(class_no: int, limits: dict[str, Any]) -> None:
    profile = profile_dict()
    tier_of(profile, class_no).update(limits)
    error = rejected(profile, "tier_limits_not_monotonic")
    assert f"class {class_no}" in error.message


def test_stronger_class_never_needs_less_kyc() -> None:
    profile = profile_dict()
    tier_of(profile, 2)["kyc_level"] = 1
    rejected(profile, "tier_kyc_not_monotonic")


def test_equal_limits_and_kyc_are_allowed() -> None:
    profile = profile_dict()
    tier_of(profile, 3).update(tier_of(profile, 4) | {"class": 3, "anonymous": False})
    loaded = parse_profile(to_toml(profile))
    assert loaded.tier(3).limits() == loaded.tier(4).limits()
    assert loaded.tier_for_kyc(KycLevel.PHONE_ONLY).class_no == 3  # the stronger of two equal classes


def test_tiers_are_ordered_whatever_the_file_order() -> None:
    profile = profile_dict()
    profile["tier"].reverse()
    assert [tier.class_no for tier in parse_profile(to_toml(profile)).tiers] == [1, 2, 3, 4]


def test_profile_built_in_code_is_validated_too() -> None:
    good = load_profile("pboc-ecny")
    with pytest.raises(ConfigurationError) as caught:
        TierProfile("x", 1, datetime.date(2024, 1, 1), "CNY", good.tiers[:3])
    assert caught.value.code == "tier_classes_invalid"
    with pytest.raises(ConfigurationError) as caught:
        Tier(4, KycLevel.PHONE_ONLY, True, 100, 300, 200, None, 0)
    assert caught.value.code == "tier_limits_out_of_order"


# -- lookups and upgrades ---------------------------------------------------------------


@pytest.mark.parametrize(("level", "class_no"), [(1, 4), (2, 3), (3, 2), (4, 1)])
def test_tier_for_kyc(level: int, class_no: int) -> None:
    profile = load_profile("pboc-ecny")
    assert profile.tier_for_kyc(level).class_no == class_no
    assert profile.tier_for_kyc(KycLevel(level)).class_no == class_no


@pytest.mark.parametrize("level", [0, 5, -1, True, "2", 2.0])
def test_tier_for_kyc_refuses_bad_levels(level: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_profile("pboc-ecny").tier_for_kyc(level)
    assert caught.value.code == "kyc_level_invalid"


def test_tier_for_kyc_when_no_class_is_open() -> None:
    profile = profile_dict()
    tier_of(profile, 4)["kyc_level"] = 2
    loaded = parse_profile(to_toml(profile))
    with pytest.raises(Forbidden) as caught:
        loaded.tier_for_kyc(1)
    assert caught.value.code == "kyc_level_too_low"


@pytest.mark.parametrize("class_no", [0, 5, True, "1", None])
def test_unknown_class(class_no: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_profile("pboc-ecny").tier(class_no)
    assert caught.value.code == "wallet_class_unknown"


@pytest.mark.parametrize(
    ("source", "target", "level", "allowed"),
    [
        (4, 3, 2, True),
        (4, 1, 4, True),  # several steps at once
        (3, 2, 3, True),
        (2, 1, 4, True),
        (4, 3, 1, False),  # KYC too low for class 3
        (3, 1, 3, False),
        (3, 3, 4, False),  # not an upgrade
        (1, 4, 4, False),  # a downgrade
        (4, 5, 4, False),  # no such class
    ],
)
def test_may_upgrade(source: int, target: int, level: int, allowed: bool) -> None:
    assert load_profile("pboc-ecny").may_upgrade(source, target, level) is allowed


@pytest.mark.parametrize(
    ("source", "target", "level", "kind", "code"),
    [
        (4, 3, 1, Forbidden, "kyc_level_too_low"),
        (3, 3, 4, InvalidInput, "wallet_upgrade_not_higher"),
        (1, 2, 4, InvalidInput, "wallet_upgrade_not_higher"),
        (4, 0, 4, InvalidInput, "wallet_class_unknown"),
        (4, 3, 9, InvalidInput, "kyc_level_invalid"),
    ],
)
def test_check_upgrade_names_the_rule(
    source: int, target: int, level: int, kind: type[NetfinError], code: str
) -> None:
    with pytest.raises(kind) as caught:
        load_profile("pboc-ecny").check_upgrade(source, target, level)
    assert caught.value.code == code


def test_check_upgrade_returns_the_target() -> None:
    assert load_profile("pboc-ecny").check_upgrade(4, 2, 3).class_no == 2


# -- the content hash -------------------------------------------------------------------


def test_hash_of_shipped_profile_is_pinned() -> None:
    profile = load_profile("pboc-ecny")
    assert (profile.version, profile.content_hash) == (1, PBOC_ECNY_V1_HASH)


def test_hash_is_sha256_of_canonical_json() -> None:
    profile = load_profile("pboc-ecny")
    canonical = profile.canonical_json()
    assert profile.content_hash == hashlib.sha256(canonical.encode("ascii")).hexdigest()
    assert " " not in canonical and canonical.isascii()
    decoded = json.loads(canonical)
    assert decoded["profile"] == "pboc-ecny" and decoded["effective_from"] == "2022-01-04"
    assert decoded["tiers"][3] == {
        "class": 4,
        "kyc_level": 1,
        "anonymous": True,
        "sub_wallets_max": 0,
        "balance_limit": 1_000_000,
        "per_payment_limit": 200_000,
        "daily_limit": 500_000,
        "annual_limit": 5_000_000,
    }
    assert decoded["tiers"][0]["balance_limit"] is None


def test_hash_ignores_layout_comments_and_order() -> None:
    profile = profile_dict()
    base = parse_profile(to_toml(profile)).content_hash
    reordered = profile_dict()
    reordered["tier"].reverse()
    for entry in reordered["tier"]:
        entry_items = list(entry.items())
        entry.clear()
        entry.update(reversed(entry_items))
    text = "# a comment\n\n" + to_toml(reordered).replace(" = ", "   =   ")
    assert parse_profile(text).content_hash == base
    assert parse_profile(to_toml(profile)).content_hash == base  # and repeatable


@pytest.mark.parametrize(
    "change",
    [
        {"version": 2},
        {"profile": "other-name"},
        {"effective_from": datetime.date(2024, 1, 2)},
        {"currency": "HKD"},
        {"class4": ("balance_limit", 10_000 * YUAN - 1)},
        {"class4": ("annual_limit", "unlimited")},
        {"class4": ("anonymous", False)},
        {"class4": ("sub_wallets_max", 1)},
        {"class1": ("per_payment_limit", UNLIMITED)},
    ],
)
def test_hash_changes_with_any_value(change: dict[str, Any]) -> None:
    base = parse_profile(to_toml(profile_dict())).content_hash
    profile = profile_dict()
    for key, value in change.items():
        if key.startswith("class"):
            tier_of(profile, int(key[-1]))[value[0]] = value[1]
        else:
            profile[key] = value
    changed = parse_profile(to_toml(profile)).content_hash
    assert changed != base
    assert len(changed) == 64 and int(changed, 16) >= 0
