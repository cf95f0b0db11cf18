"""NETFIN_ARGON2: the argon2id parameters an operator may set, and what is refused."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from netfin.core.errors import ConfigurationError
from netfin.identity.passwords import password_hasher_from_env


def test_without_the_variable_the_library_defaults_hold() -> None:
    hasher = password_hasher_from_env({})
    defaults = PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        defaults.time_cost,
        defaults.memory_cost,
        defaults.parallelism,
    )


def test_named_parameters_are_used_and_stored_hashes_carry_them() -> None:
    hasher = password_hasher_from_env({"NETFIN_ARGON2": "time_cost=2, memory_kib=2048,parallelism=2"})
    encoded = hasher.hash("correct horse")
    assert "$m=2048,t=2,p=2$" in encoded
    assert hasher.verify(encoded, "correct horse")
    # A hash made with other parameters still verifies: they travel inside it.
    assert password_hasher_from_env({}).verify(encoded, "correct horse")


@pytest.mark.parametrize(
    "value",
    [
        "time_cost=0",
        "time_cost=11",
        "memory_kib=63",
        "parallelism=17",
        "memory_kib=64,parallelism=9",  # below 8 KiB per lane
        "time_cost=two",
        "time_cost=-1",
        "rounds=3",
        "time_cost",
        "time_cost=1,time_cost=2",
    ],
)
def test_bad_settings_are_refused_at_start_up(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        password_hasher_from_env({"NETFIN_ARGON2": value})
    assert caught.value.code == "argon2_settings_invalid"
