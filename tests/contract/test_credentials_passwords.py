"""The argon2id password fallback against both stores: verify, lockout, rehash."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Literal

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from netfin.core.clock import ManualClock
from netfin.core.errors import InvalidInput, Unauthenticated
from netfin.core.ids import SeededIds
from netfin.identity.credentials import (
    PASSWORD_FAILURES_MAX,
    PASSWORD_LENGTH_MAX,
    PASSWORD_LENGTH_MIN,
    PASSWORD_LOCKOUT_S,
    TABLES,
    CredentialNotFound,
    Credentials,
    PasswordInvalid,
    PasswordLocked,
    PasswordRejected,
)
from netfin.storage import metadata, open_engine

# A test value, not a secret: the passwords here are made up for these tests.
PASSWORD = "correct horse battery staple"  # noqa: S105


class CountingHasher(PasswordHasher):
    """Cheap argon2 parameters, counting verifications to show that every path hashes."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(opened, tables=list(TABLES))
    yield opened
    opened.dispose()


@pytest.fixture
def ids(clock: ManualClock) -> SeededIds:
    return SeededIds(clock, seed=11)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


def make_credentials(
    engine: sa.Engine, clock: ManualClock, ids: SeededIds, hasher: PasswordHasher
) -> Credentials:
    return Credentials(
        engine,
        clock=clock,
        ids=ids,
        rp_id="netfin.example",
        rp_name="netfin",
        origins=["https://netfin.example"],
        password_hasher=hasher,
    )


@pytest.fixture
def credentials(engine: sa.Engine, clock: ManualClock, ids: SeededIds, hasher: CountingHasher) -> Credentials:
    return make_credentials(engine, clock, ids, hasher)


def test_set_and_verify(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    assert not credentials.has_password(party_id)
    credentials.set_password(party_id, PASSWORD)
    assert credentials.has_password(party_id)
    credentials.verify_password(party_id, PASSWORD)
    record = credentials.store.get_password(party_id)
    assert record is not None
    assert record.hash.startswith("$argon2id$")
    assert PASSWORD not in record.hash


def test_wrong_password_is_refused(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    with pytest.raises(PasswordInvalid) as error:
        credentials.verify_password(party_id, PASSWORD + "!")
    assert error.value.code == "password_invalid"
    assert isinstance(error.value, Unauthenticated)
    record = credentials.store.get_password(party_id)
    assert record is not None and record.failed_attempts == 1


def test_unknown_party_is_refused_like_a_wrong_password(
    credentials: Credentials, ids: SeededIds, hasher: CountingHasher
) -> None:
    known, unknown = ids.new_id(), ids.new_id()
    credentials.set_password(known, PASSWORD)
    with pytest.raises(PasswordInvalid) as wrong:
        credentials.verify_password(known, "not the password")
    before = hasher.verifications
    with pytest.raises(PasswordInvalid) as missing:
        credentials.verify_password(unknown, "not the password")
    assert (type(missing.value), missing.value.code, str(missing.value)) == (
        type(wrong.value),
        wrong.value.code,
        str(wrong.value),
    )
    assert hasher.verifications == before + 1  # the dummy hash was checked
    assert credentials.store.get_password(unknown) is None


def test_lockout_after_repeated_failures_then_unlock(
    credentials: Credentials, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    for _ in range(PASSWORD_FAILURES_MAX):
        with pytest.raises(PasswordInvalid):
            credentials.verify_password(party_id, "wrong password")
    locked_at = clock.now_ns()
    with pytest.raises(PasswordLocked) as error:
        credentials.verify_password(party_id, PASSWORD)  # even the right password
    assert error.value.code == "password_locked"
    assert error.value.locked_until_ns == locked_at + PASSWORD_LOCKOUT_S * 1_000_000_000
    clock.advance(seconds=PASSWORD_LOCKOUT_S - 1)
    with pytest.raises(PasswordLocked):
        credentials.verify_password(party_id, PASSWORD)
    clock.advance(seconds=1)
    credentials.verify_password(party_id, PASSWORD)
    record = credentials.store.get_password(party_id)
    assert record is not None
    assert (record.failed_attempts, record.locked_until_ns) == (0, None)


def test_locked_password_is_not_checked(
    credentials: Credentials, ids: SeededIds, hasher: CountingHasher
) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    for _ in range(PASSWORD_FAILURES_MAX):
        with pytest.raises(PasswordInvalid):
            credentials.verify_password(party_id, "wrong password")
    before = hasher.verifications
    with pytest.raises(PasswordLocked):
        credentials.verify_password(party_id, "another guess")
    assert hasher.verifications == before


def test_failures_count_afresh_after_a_lock_ends(
    credentials: Credentials, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    for _ in range(PASSWORD_FAILURES_MAX):
        with pytest.raises(PasswordInvalid):
            credentials.verify_password(party_id, "wrong password")
    clock.advance(seconds=PASSWORD_LOCKOUT_S)
    for _ in range(PASSWORD_FAILURES_MAX - 1):
        with pytest.raises(PasswordInvalid):
            credentials.verify_password(party_id, "wrong password")
    credentials.verify_password(party_id, PASSWORD)


def test_success_resets_the_failure_count(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    for _ in range(2):
        for _ in range(PASSWORD_FAILURES_MAX - 1):
            with pytest.raises(PasswordInvalid):
                credentials.verify_password(party_id, "wrong password")
        credentials.verify_password(party_id, PASSWORD)


def test_setting_a_password_clears_the_lock(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    for _ in range(PASSWORD_FAILURES_MAX):
        with pytest.raises(PasswordInvalid):
            credentials.verify_password(party_id, "wrong password")
    credentials.set_password(party_id, "a brand new passphrase")
    credentials.verify_password(party_id, "a brand new passphrase")
    with pytest.raises(PasswordInvalid):
        credentials.verify_password(party_id, PASSWORD)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("x" * (PASSWORD_LENGTH_MIN - 1), "password_too_short"),
        ("x" * (PASSWORD_LENGTH_MAX + 1), "password_too_long"),
    ],
)
def test_password_length_bounds(credentials: Credentials, ids: SeededIds, password: str, code: str) -> None:
    party_id = ids.new_id()
    with pytest.raises(PasswordRejected) as error:
        credentials.set_password(party_id, password)
    assert error.value.code == code
    assert isinstance(error.value, InvalidInput)
    assert not credentials.has_password(party_id)


def test_length_bounds_are_inclusive(credentials: Credentials, ids: SeededIds) -> None:
    for password in ("x" * PASSWORD_LENGTH_MIN, "y" * PASSWORD_LENGTH_MAX):
        party_id = ids.new_id()
        credentials.set_password(party_id, password)
        credentials.verify_password(party_id, password)


def test_oversized_guess_is_refused(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    with pytest.raises(PasswordInvalid):
        credentials.verify_password(party_id, PASSWORD + "x" * PASSWORD_LENGTH_MAX)


def test_passwords_are_unicode_normalised(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    composed = unicodedata.normalize("NFC", "pässwörd-Ünïcode")
    credentials.set_password(party_id, composed)
    credentials.verify_password(party_id, unicodedata.normalize("NFD", composed))


def test_hash_is_upgraded_when_parameters_change(
    engine: sa.Engine, clock: ManualClock, ids: SeededIds, credentials: Credentials
) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    old = credentials.store.get_password(party_id)
    assert old is not None
    credentials.verify_password(party_id, PASSWORD)
    unchanged = credentials.store.get_password(party_id)
    assert unchanged is not None and unchanged.hash == old.hash

    stronger = CountingHasher(time_cost=2)
    upgraded_service = make_credentials(engine, clock, ids, stronger)
    clock.advance(seconds=60)
    upgraded_service.verify_password(party_id, PASSWORD)
    new = credentials.store.get_password(party_id)
    assert new is not None
    assert new.hash != old.hash
    assert ",t=2," in new.hash
    assert new.updated_ns == clock.now_ns()
    assert not stronger.check_needs_rehash(new.hash)
    upgraded_service.verify_password(party_id, PASSWORD)
    with pytest.raises(VerifyMismatchError):
        stronger.verify(new.hash, "not the password")


def test_remove_password(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    credentials.set_password(party_id, PASSWORD)
    credentials.remove_password(party_id)
    with pytest.raises(PasswordInvalid):
        credentials.verify_password(party_id, PASSWORD)
    with pytest.raises(CredentialNotFound) as error:
        credentials.remove_password(party_id)
    assert error.value.code == "password_not_found"
