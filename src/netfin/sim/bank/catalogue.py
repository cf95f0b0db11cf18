"""The fixed catalogues the synthetic bank draws from: places, merchant categories, billers, countries.

They are data, not behaviour, and are kept apart so a reader can check them
against the world: coordinates are city centres, merchant category codes are
ISO 18245, country codes ISO 3166-1 alpha-2. The hour profiles here are the
ones PaySim cannot give (it has no merchant categories): meals happen at meal
times and shops keep opening hours, whatever the wallet's overall rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netfin.sim.bank.chunk import F64


@dataclass(frozen=True, slots=True)
class Place:
    """A home region: customers live within a few kilometres of its centre (rural counties spread wider)."""

    name: str
    lat: float
    lon: float
    weight: float
    rural: bool


HOME_PLACES: tuple[Place, ...] = (
    Place("Beijing", 39.904, 116.407, 0.13, False),
    Place("Shanghai", 31.230, 121.474, 0.13, False),
    Place("Guangzhou", 23.129, 113.264, 0.10, False),
    Place("Shenzhen", 22.543, 114.058, 0.10, False),
    Place("Chengdu", 30.573, 104.066, 0.09, False),
    Place("Wuhan", 30.593, 114.305, 0.07, False),
    Place("Xi'an", 34.341, 108.940, 0.06, False),
    Place("Hangzhou", 30.274, 120.155, 0.07, False),
    Place("Lankao County, Henan", 34.822, 114.821, 0.04, True),
    Place("Yilong County, Sichuan", 31.271, 106.303, 0.04, True),
    Place("Huining County, Gansu", 35.692, 105.053, 0.03, True),
    Place("Pingnan County, Guangxi", 23.540, 110.390, 0.02, True),
    Place("Shucheng County, Anhui", 31.462, 116.949, 0.02, True),
)

# Where a taken-over account is driven from: every one is more than 500 km
# from every home place (the far corners of China and the scam compounds of
# South-East Asia), so "far from home" is true of every takeover session.
FRAUD_PLACES: tuple[Place, ...] = (
    Place("Urumqi", 43.825, 87.617, 0.2, False),
    Place("Harbin", 45.803, 126.535, 0.2, False),
    Place("Phnom Penh", 11.556, 104.928, 0.2, False),
    Place("Manila", 14.600, 120.984, 0.2, False),
    Place("Myawaddy", 16.689, 98.509, 0.2, False),
)

CITY_SPREAD_DEG = 0.06  # about 6 km: where a city dweller's payments happen
RURAL_SPREAD_DEG = 0.15  # a county is wider and its people travel further to pay


@dataclass(frozen=True, slots=True)
class Category:
    """A merchant category: its ISO 18245 code, share of purchases, relative amount and hours.

    ``scale`` is the category's mean purchase relative to the average purchase
    (normalised over ``share`` when used). ``hours`` names the hour profile:
    ``meals``, ``shop`` (opening hours) or ``wallet`` (the calibrated PAYMENT
    profile, for things bought around the clock).
    """

    name: str
    mcc: str
    share: float
    scale: float
    hours: str
    online: bool


CATEGORIES: tuple[Category, ...] = (
    Category("grocery", "5411", 0.21, 1.0, "shop", False),
    Category("restaurants", "5812", 0.24, 0.45, "meals", False),
    Category("fast_food", "5814", 0.08, 0.3, "meals", False),
    Category("fuel", "5541", 0.04, 2.2, "wallet", False),
    Category("electronics", "5732", 0.02, 12.0, "shop", False),
    Category("online_marketplaces", "5399", 0.17, 1.3, "wallet", True),
    Category("pharmacies", "5912", 0.05, 0.7, "shop", False),
    Category("convenience", "5499", 0.10, 0.35, "wallet", False),
    Category("clothing", "5651", 0.04, 2.5, "shop", False),
    Category("taxi", "4121", 0.02, 0.3, "wallet", False),
    Category("digital_goods", "5816", 0.02, 0.4, "wallet", True),
    Category("jewellery", "5944", 0.01, 15.0, "shop", False),
)
CATEGORY_INDEX = {c.name: i for i, c in enumerate(CATEGORIES)}
# Card testers probe where a stolen card number is checked without a card present.
CARD_TESTING_CATEGORIES = ("online_marketplaces", "digital_goods", "electronics")
# A bust-out or a takeover buys what resells: phones, laptops, gold.
RESALE_CATEGORIES = ("electronics", "jewellery")


@dataclass(frozen=True, slots=True)
class Burst:
    """Legitimate bursts of small payments within minutes, which look a little like card testing.

    ``stalls`` bursts go to several merchants (a food court), the others to
    one (a metro operator, a game's top-up page). Amounts are drawn uniformly
    in whole yuan from ``low_minor`` to ``high_minor``.
    """

    name: str
    category: str
    stalls: bool
    low_minor: int
    high_minor: int


BURSTS: tuple[Burst, ...] = (
    Burst("food_court", "fast_food", True, 500, 3_000),
    Burst("snacks", "convenience", True, 200, 1_500),
    Burst("metro_rides", "taxi", False, 200, 900),
    Burst("game_top_ups", "digital_goods", False, 100, 3_000),
)


@dataclass(frozen=True, slots=True)
class Utility:
    """A monthly bill every household (``share`` of them) pays to the local provider."""

    name: str
    mcc: str
    share: float
    scale: float  # mean bill relative to the calibrated mean PAYMENT


UTILITIES: tuple[Utility, ...] = (
    Utility("electricity", "4900", 1.0, 1.0),
    Utility("water", "4900", 0.6, 0.35),
    Utility("gas", "4900", 0.4, 0.5),
    Utility("telecom", "4814", 1.0, 0.6),
)
HOSPITAL_MCC = "8062"
SCHOOL_MCC = "8211"
BNPL_MCC = "6012"  # financial institutions: the BNPL lenders customers repay
BNPL_PROVIDERS = 3

MCCS: tuple[str, ...] = tuple(
    dict.fromkeys(
        ["", *(c.mcc for c in CATEGORIES), *(u.mcc for u in UTILITIES), HOSPITAL_MCC, SCHOOL_MCC, BNPL_MCC]
    )
)
MCC_CODE = {mcc: code for code, mcc in enumerate(MCCS)}

# Where family and suppliers abroad are, weighted roughly like China's remittance corridors.
REMITTANCE_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("HK", 0.15), ("US", 0.15), ("CA", 0.08), ("AU", 0.08), ("GB", 0.06), ("JP", 0.08), ("KR", 0.06),
    ("SG", 0.08), ("MY", 0.06), ("TH", 0.05), ("VN", 0.06), ("PH", 0.05), ("ID", 0.04),
)  # fmt: skip
# Where mule networks send proceeds: accounts controlled from scam compounds.
FRAUD_COUNTRIES: tuple[str, ...] = ("KH", "MM", "LA", "PH")
COUNTRIES: tuple[str, ...] = tuple(
    dict.fromkeys(["CN", *(c for c, _ in REMITTANCE_COUNTRIES), *FRAUD_COUNTRIES])
)
COUNTRY_CODE = {country: code for code, country in enumerate(COUNTRIES)}

SEGMENTS: tuple[str, ...] = ("", "person", "business", "new_customer")
SEGMENT_CODE = {segment: code for code, segment in enumerate(SEGMENTS)}

# Local-hour weights. Meals: breakfast 7-9, lunch 11-13, dinner 17-20, a late snack.
MEAL_HOUR_WEIGHTS = (
    0.8, 0.4, 0.2, 0.1, 0.1, 0.2, 2, 9, 7, 1.5, 2, 14,
    16, 5, 1.5, 1.5, 2.5, 10, 14, 11, 4, 2.5, 1.5, 1.2,
)  # fmt: skip
# Shops: closed at night, open 8-22 with an evening peak.
SHOP_HOUR_WEIGHTS = (0.3, 0.1, 0, 0, 0, 0, 0.2, 1, 3, 5, 6, 6, 6, 6, 6, 6, 7, 8, 9, 10, 9, 7, 4, 1)
# Account takeovers: while the victim sleeps, and in the working day when they cannot check.
TAKEOVER_HOUR_WEIGHTS = (6, 7, 7, 7, 6, 5, 3, 2, 2, 3, 3, 3, 2, 2, 3, 3, 2, 2, 2, 2, 2, 3, 4, 5)


def hour_share(weights: tuple[float, ...]) -> F64:
    """Weights over the 24 local hours as probabilities."""
    array = np.asarray(weights, dtype=np.float64)
    share: F64 = array / array.sum()
    return share
