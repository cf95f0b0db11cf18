"""Wallet tiers as versioned configuration: what each wallet class may hold and spend.

After the e-CNY design of the People's Bank of China, wallets come in four
classes by how well the holder is known: class 4 is anonymous (a phone number
only) with the tightest limits, class 1 is verified in person with none. A
*profile* is one published table of those limits: a name, a version, the
date it takes effect, a currency and the four tiers. Profiles ship as TOML
files under ``profiles/`` and are read with ``load_profile``.

Each tier states the KYC level it needs (netfin levels 1-4, 4 strongest;
the e-CNY mapping is class 4 -> 1, 3 -> 2, 2 -> 3, 1 -> 4), its balance,
per-payment, daily and annual limits in integer minor units of the profile's
currency (None, written "unlimited" in TOML, for no limit), whether the
wallet is anonymous (shown to merchants and staff under a pseudonym), and
how many sub-wallets it may have.

Invariants (checked when a profile is built; a breach raises
``ConfigurationError`` with a ``tier_*`` code):
- every class 1-4 is present exactly once;
- limits are non-negative integers no larger than the wallets' ``UNLIMITED``;
- within a tier, per-payment <= daily <= annual, "unlimited" counting as
  larger than any number;
- a stronger class never needs less KYC and never gets a tighter limit or
  fewer sub-wallets than a weaker one;
- ``content_hash`` is the SHA-256 of the profile's canonical JSON (sorted
  keys, no spaces, ASCII), so comments and layout of the file do not change
  it but any value does. A wallet row records name, version and hash, which
  pins the exact table that applied to it.

Refusals at run time: ``wallet_class_unknown`` and ``kyc_level_invalid``
(``InvalidInput``), ``kyc_level_too_low`` (``Forbidden``) and
``wallet_upgrade_not_higher`` (``InvalidInput``).

Public names: ``Tier``, ``TierProfile``, ``load_profile``, ``parse_profile``,
``bundled_profiles``, ``WALLET_CLASSES``, ``TIER_SUB_WALLETS_MAX``,
``PROFILE_SIZE_MAX``.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from netfin.core.errors import ConfigurationError, Forbidden, InvalidInput
from netfin.core.money import is_currency
from netfin.identity.model import KycLevel
from netfin.payments.wallets.model import UNLIMITED

WALLET_CLASSES = (1, 2, 3, 4)  # strongest first
TIER_SUB_WALLETS_MAX = 32  # the most sub-wallets any tier may allow
PROFILE_SIZE_MAX = 64 * 1024  # bytes of TOML
PROFILE_NAME_LENGTH_MAX = 40  # the wallets table's ``profile`` column
UNLIMITED_TEXT = "unlimited"

_PACKAGE = "netfin.payments.wallets"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")  # lower-case letters, digits and "-"
_LIMITS = ("per_payment_limit", "daily_limit", "annual_limit", "balance_limit")
_PROFILE_KEYS = frozenset({"profile", "version", "effective_from", "currency", "tier"})
_TIER_KEYS = frozenset({"class", "kyc_level", "anonymous", "sub_wallets_max", *_LIMITS})


def _invalid(message: str, code: str) -> ConfigurationError:
    return ConfigurationError(message, code=code)


def _at_least(limit: int | None, other: int | None) -> bool:
    """``limit >= other`` where None is unlimited, larger than any number."""
    return limit is None or (other is not None and limit >= other)


@dataclass(frozen=True, slots=True)
class Tier:
    """One wallet class of a profile. Limits are minor units; None means unlimited."""

    class_no: int
    kyc_level: KycLevel
    anonymous: bool
    balance_limit: int | None
    per_payment_limit: int | None
    daily_limit: int | None
    annual_limit: int | None
    sub_wallets_max: int

    def __post_init__(self) -> None:
        if type(self.class_no) is not int or self.class_no not in WALLET_CLASSES:
            raise _invalid(
                f"wallet class {self.class_no!r} is not one of {WALLET_CLASSES}", "tier_classes_invalid"
            )
        where = f"class {self.class_no}"
        if type(self.kyc_level) is not int and not isinstance(self.kyc_level, KycLevel):
            raise _invalid(f"{where}: kyc_level must be an integer 1-4", "tier_kyc_level_invalid")
        try:
            object.__setattr__(self, "kyc_level", KycLevel(self.kyc_level))
        except ValueError:
            raise _invalid(
                f"{where}: kyc_level {self.kyc_level} is not 1-4", "tier_kyc_level_invalid"
            ) from None
        if type(self.anonymous) is not bool:
            raise _invalid(f"{where}: anonymous must be true or false", "tier_value_invalid")
        count = self.sub_wallets_max
        if type(count) is not int or not 0 <= count <= TIER_SUB_WALLETS_MAX:
            raise _invalid(f"{where}: sub_wallets_max must be 0-{TIER_SUB_WALLETS_MAX}", "tier_value_invalid")
        for name in _LIMITS:
            limit = getattr(self, name)
            if limit is not None and (type(limit) is not int or not 0 <= limit <= UNLIMITED):
                raise _invalid(
                    f"{where}: {name} must be minor units from 0 to {UNLIMITED}, or unlimited",
                    "tier_limit_invalid",
                )
        if not (
            _at_least(self.daily_limit, self.per_payment_limit)
            and _at_least(self.annual_limit, self.daily_limit)
        ):
            raise _invalid(
                f"{where}: limits must keep per-payment <= daily <= annual", "tier_limits_out_of_order"
            )

    def limits(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in _LIMITS}

    def to_json(self) -> dict[str, object]:
        return {
            "class": self.class_no,
            "kyc_level": int(self.kyc_level),
            "anonymous": self.anonymous,
            "sub_wallets_max": self.sub_wallets_max,
            **self.limits(),
        }


@dataclass(frozen=True, slots=True)
class TierProfile:
    """One versioned table of wallet tiers; ``tiers`` is ordered class 1 (strongest) to 4."""

    name: str
    version: int
    effective_from: datetime.date
    currency: str
    tiers: tuple[Tier, ...]
    content_hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _valid_name(self.name):
            raise _invalid(f"profile name {self.name!r} is not a valid name", "tier_profile_name_invalid")
        if type(self.version) is not int or self.version < 1:
            raise _invalid(
                f"profile version {self.version!r} must be an integer >= 1", "tier_profile_version_invalid"
            )
        if type(self.effective_from) is not datetime.date:
            raise _invalid(
                "effective_from must be a date (YYYY-MM-DD), not a time", "tier_profile_date_invalid"
            )
        if not isinstance(self.currency, str) or not is_currency(self.currency):
            raise _invalid(f"currency {self.currency!r} is not ISO 4217", "tier_profile_currency_invalid")
        if not isinstance(self.tiers, tuple) or not all(isinstance(tier, Tier) for tier in self.tiers):
            raise _invalid("tiers must be a tuple of Tier", "tier_classes_invalid")
        classes = sorted(tier.class_no for tier in self.tiers)
        if classes != list(WALLET_CLASSES):
            raise _invalid(
                f"a profile has each class {WALLET_CLASSES} once; found {classes}", "tier_classes_invalid"
            )
        ordered = tuple(sorted(self.tiers, key=lambda tier: tier.class_no))
        object.__setattr__(self, "tiers", ordered)
        _check_ordering(ordered)
        digest = hashlib.sha256(self.canonical_json().encode("ascii")).hexdigest()
        object.__setattr__(self, "content_hash", digest)

    def canonical_json(self) -> str:
        """The hashed form: every value, sorted keys, no whitespace, ASCII."""
        content = {
            "profile": self.name,
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "currency": self.currency,
            "tiers": [tier.to_json() for tier in self.tiers],
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def tier(self, class_no: int) -> Tier:
        for tier in self.tiers:
            if type(class_no) is int and tier.class_no == class_no:
                return tier
        raise InvalidInput(f"there is no wallet class {class_no!r}", code="wallet_class_unknown")

    def tier_for_kyc(self, kyc_level: int) -> Tier:
        """The strongest class a holder at this KYC level may have."""
        level = _kyc_level(kyc_level)
        for tier in self.tiers:  # strongest first
            if tier.kyc_level <= level:
                return tier
        raise Forbidden(f"no wallet class is open to KYC level {int(level)}", code="kyc_level_too_low")

    def check_upgrade(self, from_class: int, to_class: int, kyc_level: int) -> Tier:
        """The target tier, if a wallet may move from ``from_class`` up to ``to_class``.

        An upgrade goes to a stronger class (a lower number), any number of
        steps at once, and the holder must already have the KYC level the
        target class needs.
        """
        source, target, level = self.tier(from_class), self.tier(to_class), _kyc_level(kyc_level)
        if target.class_no >= source.class_no:
            raise InvalidInput(
                f"class {target.class_no} is not above class {source.class_no}",
                code="wallet_upgrade_not_higher",
            )
        if level < target.kyc_level:
            raise Forbidden(
                f"a class {target.class_no} wallet needs KYC level {int(target.kyc_level)}; "
                f"the holder has {int(level)}",
                code="kyc_level_too_low",
            )
        return target

    def may_upgrade(self, from_class: int, to_class: int, kyc_level: int) -> bool:
        try:
            self.check_upgrade(from_class, to_class, kyc_level)
        except (InvalidInput, Forbidden):
            return False
        return True


def _valid_name(name: str) -> bool:
    return len(name) <= PROFILE_NAME_LENGTH_MAX and _NAME.fullmatch(name) is not None


def _kyc_level(value: int) -> KycLevel:
    try:
        if type(value) is not int and not isinstance(value, KycLevel):
            raise ValueError(value)
        return KycLevel(value)
    except ValueError:
        raise InvalidInput(f"KYC level {value!r} is not 1-4", code="kyc_level_invalid") from None


def _check_ordering(tiers: tuple[Tier, ...]) -> None:
    """Walking from the strongest class down, nothing may get looser."""
    for stronger, weaker in itertools.pairwise(tiers):
        pair = f"class {stronger.class_no} against class {weaker.class_no}"
        if stronger.kyc_level < weaker.kyc_level:
            raise _invalid(f"{pair}: a stronger class needs less KYC", "tier_kyc_not_monotonic")
        for name in _LIMITS:
            if not _at_least(getattr(stronger, name), getattr(weaker, name)):
                raise _invalid(
                    f"{pair}: the stronger class has the tighter {name}", "tier_limits_not_monotonic"
                )
        if stronger.sub_wallets_max < weaker.sub_wallets_max:
            raise _invalid(f"{pair}: the stronger class has fewer sub-wallets", "tier_limits_not_monotonic")


# Loading ---------------------------------------------------------------------


def bundled_profiles() -> tuple[str, ...]:
    """Names of the profiles that ship with netfin."""
    folder = resources.files(_PACKAGE).joinpath("profiles")
    names = (item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml"))
    return tuple(sorted(names))


def load_profile(name_or_path: str | Path) -> TierProfile:
    """A bundled profile by name (``"pboc-ecny"``) or a TOML file by path."""
    if isinstance(name_or_path, Path) or "/" in name_or_path or name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        if not path.is_file():
            raise _invalid(f"no tier profile file at {path}", "tier_profile_not_found")
        return parse_profile(_read(path, str(path)), source=str(path))
    name = name_or_path
    if not _valid_name(name):
        raise _invalid(f"profile name {name!r} is not a valid name", "tier_profile_name_invalid")
    resource = resources.files(_PACKAGE).joinpath("profiles").joinpath(f"{name}.toml")
    if not resource.is_file():
        raise _invalid(f"no bundled tier profile {name!r}; see bundled_profiles()", "tier_profile_not_found")
    profile = parse_profile(_read(resource, name), source=name)
    if profile.name != name:
        raise _invalid(
            f"the file for {name!r} declares profile {profile.name!r}", "tier_profile_name_mismatch"
        )
    return profile


def _read(file: Traversable | Path, source: str) -> str:
    data = file.read_bytes()
    if len(data) > PROFILE_SIZE_MAX:
        raise _invalid(f"{source}: over {PROFILE_SIZE_MAX} bytes", "tier_profile_too_large")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(f"{source}: not UTF-8", "tier_profile_unreadable") from None


def parse_profile(text: str, *, source: str = "<text>") -> TierProfile:
    """Build and validate a profile from TOML text (see ``profiles/pboc-ecny.toml``)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _invalid(f"{source}: {error}", "tier_profile_unreadable") from None
    _check_keys(raw, _PROFILE_KEYS, source)
    entries = raw["tier"]
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise _invalid(f"{source}: tiers are written as [[tier]] tables", "tier_classes_invalid")
    return TierProfile(
        name=raw["profile"],
        version=raw["version"],
        effective_from=raw["effective_from"],
        currency=raw["currency"],
        tiers=tuple(_tier_from_toml(entry, source) for entry in entries),
    )


def _check_keys(table: dict[str, Any], expected: frozenset[str], where: str) -> None:
    missing, unknown = expected - table.keys(), table.keys() - expected
    if missing:
        raise _invalid(f"{where}: missing {sorted(missing)}", "tier_profile_key_missing")
    if unknown:
        raise _invalid(f"{where}: unknown {sorted(unknown)}", "tier_profile_key_unknown")


def _tier_from_toml(entry: dict[str, Any], source: str) -> Tier:
    where = f"{source}: tier with class {entry.get('class')!r}"
    _check_keys(entry, _TIER_KEYS, where)
    limits: dict[str, Any] = {}
    for name in _LIMITS:
        value = entry[name]
        if isinstance(value, str):
            if value != UNLIMITED_TEXT:
                raise _invalid(f"{where}: {name} is a number or {UNLIMITED_TEXT!r}", "tier_limit_invalid")
            value = None
        limits[name] = value
    return Tier(
        class_no=entry["class"],
        kyc_level=entry["kyc_level"],
        anonymous=entry["anonymous"],
        sub_wallets_max=entry["sub_wallets_max"],
        **limits,
    )
