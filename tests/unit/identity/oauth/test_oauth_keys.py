"""The API signing key: where it comes from, the 0600 rule, and its JWKS."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwk

from netfin.core.errors import ConfigurationError
from netfin.identity.oauth import jwks, load_api_signing_key
from netfin.identity.oauth.keys import KEY_ENV, KEY_FILE_ENV, default_key_file, key_id


def pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def write_key_file(path: Path, data: bytes, mode: int) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETFIN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_default_key_file_is_created_private_and_reused(home: Path) -> None:
    first = load_api_signing_key()
    path = default_key_file()
    assert path == home / "api_ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert raw_public(load_api_signing_key()) == raw_public(first)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "api.pem", pem(Ed25519PrivateKey.generate()), mode)
    with pytest.raises(ConfigurationError) as caught:
        load_api_signing_key(path)
    assert caught.value.code == "api_key_file_permissions"


def test_default_key_file_with_loose_mode_is_refused(home: Path) -> None:
    load_api_signing_key()
    default_key_file().chmod(0o644)
    with pytest.raises(ConfigurationError) as caught:
        load_api_signing_key()
    assert caught.value.code == "api_key_file_permissions"


def test_key_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = write_key_file(tmp_path / "api.pem", pem(key), 0o600)
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    assert raw_public(load_api_signing_key()) == raw_public(key)
    assert not default_key_file().exists()


def test_named_key_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError) as caught:
        load_api_signing_key()
    assert caught.value.code == "api_key_file_missing"
    assert not (tmp_path / "missing.pem").exists()


def test_pem_from_environment_wins(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv(KEY_ENV, pem(key).decode())
    assert raw_public(load_api_signing_key()) == raw_public(key)
    assert not default_key_file().exists()


@pytest.mark.parametrize(
    "content",
    [
        b"not a pem",
        pem(ec.generate_private_key(ec.SECP256R1())),
        b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 5_000,
    ],
)
def test_bad_key_material_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    monkeypatch.setenv(KEY_ENV, content.decode())
    with pytest.raises(ConfigurationError) as caught:
        load_api_signing_key()
    assert caught.value.code == "api_signing_key_invalid"
    monkeypatch.delenv(KEY_ENV)
    path = write_key_file(tmp_path / "bad.pem", content, 0o600)
    with pytest.raises(ConfigurationError) as caught:
        load_api_signing_key(path)
    assert caught.value.code == "api_signing_key_invalid"


def test_jwks_publishes_the_public_key_with_a_thumbprint_kid() -> None:
    key = Ed25519PrivateKey.generate()
    published = jwks(key)
    (entry,) = published["keys"]
    assert entry["kty"] == "OKP" and entry["crv"] == "Ed25519"
    assert entry["use"] == "sig" and entry["alg"] == "Ed25519"
    assert "d" not in entry
    members = {"crv": entry["crv"], "kty": entry["kty"], "x": entry["x"]}
    assert entry["kid"] == jwk.thumbprint(members) == key_id(key.public_key())
    imported = jwk.OKPKey.import_key(entry)
    assert imported.is_private is False


def test_key_files_never_land_in_the_real_home(home: Path) -> None:
    load_api_signing_key()
    assert str(default_key_file()).startswith(str(home))
    assert os.environ["NETFIN_HOME"] == str(home)
