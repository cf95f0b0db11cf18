"""python-paillier (``phe``, with ``gmpy2``) as the reference Paillier backend.

Ciphertexts are Python integers in ``[1, n^2)``; addition is a product mod
``n^2`` and multiplication by an integer a power mod ``n^2`` (``gmpy2``).
Encryption is ``phe``'s textbook ``(1 + m n) r^n mod n^2`` with a fresh full-size
``r`` each time, decryption ``phe``'s CRT. On the wire every ciphertext takes
the same number of bytes (big-endian), so the receiver can check each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np
from phe import paillier

from netfin.core.errors import InvalidInput
from netfin.privacy.he.scheme import (
    AdditiveScheme,
    Ciphertexts,
    check_buckets,
    check_count,
    check_key_bits,
    check_same,
)

NAME = "phe"


class PheScheme(AdditiveScheme):
    def __init__(
        self,
        public: paillier.PaillierPublicKey,
        private: paillier.PaillierPrivateKey | None,
    ) -> None:
        self.name = NAME
        self._public = public
        self._private = private
        self._n = gmpy2.mpz(public.n)
        self._nsquare = gmpy2.mpz(public.nsquare)
        self.key_bits = int(public.n).bit_length()
        # plaintexts live mod n; values at or above n/2 read back as negative
        self.plaintext_bits = self.key_bits - 3
        self._width = (int(public.nsquare).bit_length() + 7) // 8

    @property
    def can_decrypt(self) -> bool:
        return self._private is not None

    def public_key(self) -> bytes:
        n = int(self._public.n)
        return n.to_bytes((n.bit_length() + 7) // 8, "big")

    def _wrap(self, values: list[Any]) -> Ciphertexts:
        return Ciphertexts(self.name, len(values), values)

    def encrypt_batch(self, values: Sequence[int]) -> Ciphertexts:
        check_count(len(values))
        if not values:
            raise InvalidInput("nothing to encrypt")
        bound = 1 << (self.plaintext_bits + 1)
        if any(abs(v) >= bound for v in values):
            raise InvalidInput(f"a plaintext exceeds the {self.plaintext_bits + 1}-bit bound of this key")
        n = int(self._n)
        return self._wrap([gmpy2.mpz(self._public.raw_encrypt(int(v) % n)) for v in values])

    def add(self, a: Ciphertexts, b: Ciphertexts) -> Ciphertexts:
        check_same(self, a, b)
        if a.count != b.count:
            raise InvalidInput(f"cannot add {a.count} ciphertexts to {b.count}")
        nsq = self._nsquare
        return self._wrap([x * y % nsq for x, y in zip(a.data, b.data, strict=True)])

    def sum(self, ciphertexts: Ciphertexts, indices: Sequence[int]) -> Ciphertexts:
        check_same(self, ciphertexts)
        nsq = self._nsquare
        acc = gmpy2.mpz(1)
        for i in indices:
            acc = acc * ciphertexts.data[i] % nsq
        return self._wrap([acc])

    def multiply(self, ciphertexts: Ciphertexts, scalar: int) -> Ciphertexts:
        check_same(self, ciphertexts)
        if scalar < 0:
            raise InvalidInput("multiply by a non-negative integer")
        nsq = self._nsquare
        return self._wrap([gmpy2.powmod(c, scalar, nsq) for c in ciphertexts.data])

    def select(self, ciphertexts: Ciphertexts, indices: Sequence[int]) -> Ciphertexts:
        check_same(self, ciphertexts)
        return self._wrap([ciphertexts.data[i] for i in indices])

    def concat(self, parts: Sequence[Ciphertexts]) -> Ciphertexts:
        check_same(self, *parts)
        return self._wrap([c for part in parts for c in part.data])

    def bucket_sums(
        self,
        ciphertexts: Ciphertexts,
        groups: Sequence[np.ndarray[Any, np.dtype[np.int8]]],
        buckets: np.ndarray[Any, np.dtype[np.int8]],
        bucket_count: int,
    ) -> list[Ciphertexts]:
        _, columns = check_buckets(self, ciphertexts, groups, buckets)
        nsq = self._nsquare
        data = ciphertexts.data
        offsets = np.arange(columns, dtype=np.int64) * bucket_count
        out = []
        for group in groups:
            sums = [gmpy2.mpz(1)] * (columns * bucket_count)
            for row in np.flatnonzero(group).tolist():
                c = data[row]
                for slot in (offsets + buckets[row]).tolist():
                    sums[slot] = sums[slot] * c % nsq
            out.append(self._wrap(sums))
        return out

    def decrypt_batch(self, ciphertexts: Ciphertexts, *, bits: int | None = None) -> list[int]:
        self.require_secret()
        check_same(self, ciphertexts)
        private = self._private
        n = int(self._n)
        out = []
        for c in ciphertexts.data:
            value = int(private.raw_decrypt(int(c)))  # type: ignore[union-attr]
            value = value - n if value > n // 2 else value
            if bits is not None and abs(value) >= 1 << bits:
                raise InvalidInput("a ciphertext decrypts outside the allowed range")
            out.append(value)
        return out

    def to_bytes(self, ciphertexts: Ciphertexts) -> bytes:
        check_same(self, ciphertexts)
        width = self._width
        return b"".join(int(c).to_bytes(width, "big") for c in ciphertexts.data)

    def from_bytes(self, data: bytes, count: int) -> Ciphertexts:
        check_count(count)
        width = self._width
        if len(data) != count * width:
            raise InvalidInput(f"expected {count} ciphertexts of {width} bytes, got {len(data)} bytes")
        values = [gmpy2.mpz(int.from_bytes(data[i : i + width], "big")) for i in range(0, len(data), width)]
        nsq = self._nsquare
        if any(not 0 < v < nsq for v in values):
            raise InvalidInput("a ciphertext lies outside [1, n^2)")
        return self._wrap(values)


def generate(key_bits: int, *, key_bits_min: int) -> PheScheme:
    check_key_bits(key_bits, key_bits_min=key_bits_min)
    public, private = paillier.generate_paillier_keypair(n_length=key_bits)
    return PheScheme(public, private)


def load_public(public_key: bytes, *, key_bits_min: int) -> PheScheme:
    n = int.from_bytes(public_key, "big")
    check_key_bits(n.bit_length(), key_bits_min=key_bits_min)
    if n % 2 == 0:
        raise InvalidInput("a Paillier modulus is odd")
    return PheScheme(paillier.PaillierPublicKey(n), None)
