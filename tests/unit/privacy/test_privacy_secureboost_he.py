"""The additive HE interface and its three backends (heu OU, heu Paillier, python-paillier).

Keys here are 1024 bits (``TEST_KEY_BITS``) for speed, allowed only through
``key_bits_min``; the default floor of 2048 bits is tested to refuse them.
"""

from __future__ import annotations

import numpy as np
import pytest

from netfin.core.errors import Forbidden, InvalidInput
from netfin.privacy import he
from netfin.privacy.he import AdditiveScheme

TEST_KEY_BITS = 1024


@pytest.fixture(scope="module", params=he.SCHEMES)
def pair(request: pytest.FixtureRequest) -> tuple[AdditiveScheme, AdditiveScheme]:
    """(key owner, public-only peer) of one scheme."""
    owner = he.keygen(request.param, TEST_KEY_BITS, key_bits_min=TEST_KEY_BITS, threads=2)
    return owner, he.load_public(request.param, owner.public_key(), key_bits_min=TEST_KEY_BITS)


def test_round_trip_and_homomorphic_operations(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, peer = pair
    values = [0, 1, 7, -5, 2**60 + 3]
    c = peer.encrypt_batch(values)
    assert owner.decrypt_batch(c) == values
    assert owner.decrypt_batch(peer.add(c, c)) == [2 * v for v in values]
    assert owner.decrypt_batch(peer.sum(c, [1, 2, 4])) == [1 + 7 + 2**60 + 3]
    assert owner.decrypt_batch(peer.multiply(c, 3)) == [3 * v for v in values]
    assert owner.decrypt_batch(peer.select(c, [4, 0])) == [2**60 + 3, 0]


def test_ciphertexts_travel_as_bytes_and_are_checked(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, peer = pair
    c = peer.encrypt_batch([11, 22, 33])
    data = peer.to_bytes(c)
    assert owner.decrypt_batch(owner.from_bytes(data, 3)) == [11, 22, 33]
    with pytest.raises(InvalidInput):
        owner.from_bytes(data, 4)
    with pytest.raises(InvalidInput):
        owner.from_bytes(b"\x00garbage", 3)


def test_packing_puts_many_values_in_one_plaintext(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, peer = pair
    values = [5, 0, 255, 17, 3, 99, 1]
    packed = peer.pack(peer.encrypt_batch(values), slots=3, slot_bits=8)
    assert packed.count == 3
    plain = owner.decrypt_batch(packed, bits=24)
    unpacked = [(p >> (8 * j)) & 0xFF for p in plain for j in range(3)][: len(values)]
    assert unpacked == values
    with pytest.raises(InvalidInput):
        peer.pack(packed, slots=1000, slot_bits=64)  # would overflow the plaintext


def test_bucket_sums_match_numpy(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, peer = pair
    rng = np.random.default_rng(1)
    values = rng.integers(0, 1000, size=40)
    buckets = rng.integers(0, 4, size=(40, 3)).astype(np.int8)
    group = (rng.random(40) < 0.6).astype(np.int8)
    (sums,) = peer.bucket_sums(peer.encrypt_batch(values.tolist()), [group], buckets, 4)
    expected = [int(values[(group == 1) & (buckets[:, f] == b)].sum()) for f in range(3) for b in range(4)]
    assert owner.decrypt_batch(sums) == expected


def test_the_public_key_holder_cannot_decrypt(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, peer = pair
    assert owner.can_decrypt and not peer.can_decrypt
    with pytest.raises(Forbidden, match="cannot decrypt"):
        peer.decrypt_batch(peer.encrypt_batch([1]))


def test_a_decryption_outside_the_range_is_refused(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, peer = pair
    with pytest.raises(InvalidInput, match="range"):
        owner.decrypt_batch(peer.encrypt_batch([1 << 40]), bits=32)


def test_production_refuses_keys_under_2048_bits(pair: tuple[AdditiveScheme, AdditiveScheme]) -> None:
    owner, _ = pair
    with pytest.raises(InvalidInput, match="too short"):
        he.keygen(owner.name, 1024)
    with pytest.raises(InvalidInput, match="too short"):
        he.load_public(owner.name, owner.public_key())


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown scheme"):
        he.keygen("rsa", 2048)
