"""``BankSettings.from_env``: the ledger's account cache."""

from __future__ import annotations

import pytest

from netfin.bank import BankSettings
from netfin.core.errors import ConfigurationError
from netfin.ledger.service import ACCOUNT_CACHE_MAX


def test_the_account_cache_defaults_to_the_ledger_s_bound() -> None:
    assert BankSettings.from_env({}).ledger_account_cache == ACCOUNT_CACHE_MAX


@pytest.mark.parametrize(("text", "expected"), [("2000000", 2_000_000), (" 4_096 ", 4096), ("0", 0)])
def test_the_account_cache_is_read_from_the_environment(text: str, expected: int) -> None:
    settings = BankSettings.from_env({"NETFIN_LEDGER_ACCOUNT_CACHE": text})
    assert settings.ledger_account_cache == expected


@pytest.mark.parametrize("text", ["lots", "-1", "1e6", "12.5"])
def test_an_account_cache_that_is_not_a_count_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="NETFIN_LEDGER_ACCOUNT_CACHE must be a whole number"):
        BankSettings.from_env({"NETFIN_LEDGER_ACCOUNT_CACHE": text})
