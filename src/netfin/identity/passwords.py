"""argon2id settings for passwords and client secrets, from the environment.

The default is argon2-cffi's: RFC 9106's second recommended profile (three
passes over 64 MiB with four lanes), about 0.17 s per hash on this class of
machine. An operator whose hardware is slower or faster tunes it with
``NETFIN_ARGON2=time_cost=T,memory_kib=M,parallelism=P`` (any subset; the rest
keep their defaults). Stored hashes carry their own parameters, so a change
applies to new hashes and every existing hash still verifies. Values outside
the bounds below are refused at start-up, never clamped.

The test suite sets a small profile so that its thousands of sign-ups do not
each spend a fifth of a second in argon2; production should keep the default
or raise it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from argon2 import PasswordHasher

from netfin.core.errors import ConfigurationError

ENV_NAME = "NETFIN_ARGON2"
# name: (lowest, highest) accepted
BOUNDS: dict[str, tuple[int, int]] = {
    "time_cost": (1, 10),
    "memory_kib": (64, 1_048_576),
    "parallelism": (1, 16),
}


def password_hasher_from_env(environ: Mapping[str, str] = os.environ) -> PasswordHasher:
    """A PasswordHasher with the defaults, or the parameters ``NETFIN_ARGON2`` names."""
    text = environ.get(ENV_NAME, "").strip()
    if not text:
        return PasswordHasher()
    values: dict[str, int] = {}
    for part in text.split(","):
        name, equals, raw = part.strip().partition("=")
        if not equals or name not in BOUNDS or name in values:
            raise ConfigurationError(
                f"{ENV_NAME} takes time_cost=, memory_kib= and parallelism= once each, "
                f"comma-separated; cannot read {part.strip()!r}",
                code="argon2_settings_invalid",
            )
        low, high = BOUNDS[name]
        if not raw.strip().isdigit() or not low <= int(raw) <= high:
            raise ConfigurationError(
                f"{ENV_NAME}: {name} must be an integer from {low} to {high}", code="argon2_settings_invalid"
            )
        values[name] = int(raw)
    defaults = PasswordHasher()
    parallelism = values.get("parallelism", defaults.parallelism)
    memory_kib = values.get("memory_kib", defaults.memory_cost)
    if memory_kib < 8 * parallelism:
        raise ConfigurationError(
            f"{ENV_NAME}: memory_kib must be at least 8 x parallelism ({8 * parallelism})",
            code="argon2_settings_invalid",
        )
    return PasswordHasher(
        time_cost=values.get("time_cost", defaults.time_cost), memory_cost=memory_kib, parallelism=parallelism
    )
