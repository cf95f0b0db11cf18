"""Pure rules, error codes and configuration checks of the credentials context."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from netfin.core.clock import ManualClock
from netfin.core.errors import ConfigurationError, InvalidInput, NetfinError, Unauthenticated
from netfin.core.ids import SeededIds
from netfin.identity.credentials import CHALLENGE_TTL_S_MAX, Credentials, errors
from netfin.identity.credentials.model import (
    LABEL_LENGTH_MAX,
    ORIGINS_MAX,
    USER_NAME_LENGTH_MAX,
    normalize_password,
    sign_count_advanced,
)

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
COUNTER = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize(
    ("stored", "reported", "advanced"),
    [
        (0, 0, True),
        (0, 1, True),
        (1, 2, True),
        (1, 1, False),
        (5, 4, False),
        (5, 0, False),
        (0, 2**32 - 1, True),
    ],
)
def test_sign_count_advanced(stored: int, reported: int, advanced: bool) -> None:
    assert sign_count_advanced(stored, reported) is advanced


@given(stored=COUNTER, reported=COUNTER)
def test_sign_count_rule_matches_webauthn(stored: int, reported: int) -> None:
    # WebAuthn §7.2 step 21, as py_webauthn states it: refuse when either
    # counter is non-zero and the reported one is not greater.
    refused = (reported > 0 or stored > 0) and reported <= stored
    assert sign_count_advanced(stored, reported) is not refused


def test_passwords_normalise_to_nfkc() -> None:
    decomposed = unicodedata.normalize("NFD", "Ångström ﬁ")
    assert normalize_password(decomposed) == "Ångström fi"


def test_every_rejection_code_is_distinct() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, NetfinError) and value.__module__ == errors.__name__
    ]
    codes = {cls.code: cls for cls in classes}
    assert len(codes) == len(classes)
    rejected = {code for code, cls in codes.items() if issubclass(cls, errors.CredentialRejected)}
    assert rejected == {
        "credential_rejected",
        "credential_malformed",
        "binding_mismatch",
        "challenge_invalid",
        "challenge_expired",
        "challenge_replayed",
        "credential_unknown",
        "credential_not_allowed",
        "origin_mismatch",
        "rp_id_mismatch",
        "user_presence_missing",
        "user_verification_missing",
        "user_handle_mismatch",
        "sign_count_stale",
        "assertion_invalid",
        "registration_invalid",
        "password_invalid",
        "password_locked",
    }
    assert issubclass(errors.CredentialRejected, Unauthenticated)


def make(
    *, rp_id: str = "netfin.example", origins: object = ("https://netfin.example",), ttl_s: int = 300
) -> Credentials:
    clock = ManualClock()
    return Credentials(
        sa.create_engine("sqlite://"),
        clock=clock,
        ids=SeededIds(clock),
        rp_id=rp_id,
        rp_name="netfin",
        origins=origins,  # type: ignore[arg-type]
        challenge_ttl_s=ttl_s,
        password_hasher=FAST_HASHER,
    )


@pytest.mark.parametrize(
    "origins",
    [
        (),
        "https://netfin.example",
        ("http://netfin.example",),
        ("https://netfin.example/login",),
        ("netfin.example",),
        ("https://netfin.example",) * (ORIGINS_MAX + 1),
    ],
)
def test_origins_are_checked(origins: object) -> None:
    with pytest.raises(ConfigurationError) as error:
        make(origins=origins)
    assert error.value.code == "webauthn_origin_invalid"


def test_local_development_origins_are_allowed() -> None:
    make(rp_id="localhost", origins=["http://localhost:8000", "https://localhost"])


def test_relying_party_must_be_named() -> None:
    with pytest.raises(ConfigurationError) as error:
        make(rp_id="")
    assert error.value.code == "webauthn_rp_invalid"


@pytest.mark.parametrize("ttl_s", [0, CHALLENGE_TTL_S_MAX + 1])
def test_challenge_ttl_is_bounded(ttl_s: int) -> None:
    with pytest.raises(ConfigurationError) as error:
        make(ttl_s=ttl_s)
    assert error.value.code == "challenge_ttl_invalid"


@pytest.mark.parametrize(
    ("user_name", "display_name", "code"),
    [
        ("", "", "user_name_empty"),
        ("a" * (USER_NAME_LENGTH_MAX + 1), "", "user_name_too_long"),
        ("alice", "a" * (USER_NAME_LENGTH_MAX + 1), "display_name_too_long"),
    ],
)
def test_registration_names_are_bounded(user_name: str, display_name: str, code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        make().begin_registration(1, user_name, display_name)
    assert error.value.code == code


def test_labels_are_bounded() -> None:
    with pytest.raises(InvalidInput) as error:
        make().finish_registration(1, "{}", label="x" * (LABEL_LENGTH_MAX + 1))
    assert error.value.code == "label_too_long"
