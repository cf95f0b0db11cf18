"""The additive homomorphic scheme every backend offers, and the key-size rules.

A scheme object holds either a key pair (the party that decrypts, the guest
of SecureBoost) or only a public key (everyone else). Ciphertexts are opaque
``Ciphertexts`` batches owned by the scheme that made them; they travel as
bytes (``to_bytes``/``from_bytes``) inside a ``codec`` message.

Plaintexts are Python integers. ``plaintext_bits`` is how many bits a
non-negative plaintext, or a sum of them, may use and still decrypt to
itself; packing several values into one plaintext must stay under it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netfin.core.errors import Forbidden, InvalidInput, LimitExceeded

KEY_BITS_MIN = 2048
KEY_BITS_MAX = 4096
CIPHERTEXTS_MAX = 10_000_000
BUCKETS_MAX = 127  # heu's bucket sums index buckets with int8


@dataclass(frozen=True, slots=True)
class Ciphertexts:
    """A batch of ciphertexts of one scheme (``data`` is the backend's own object)."""

    scheme: str
    count: int
    data: Any


class AdditiveScheme(ABC):
    """Additively homomorphic encryption over integers, in batches."""

    name: str
    key_bits: int
    plaintext_bits: int

    @property
    @abstractmethod
    def can_decrypt(self) -> bool:
        """Whether this object holds the secret key."""

    @abstractmethod
    def public_key(self) -> bytes:
        """The public key, for ``load_public`` on another party."""

    @abstractmethod
    def encrypt_batch(self, values: Sequence[int]) -> Ciphertexts: ...

    @abstractmethod
    def add(self, a: Ciphertexts, b: Ciphertexts) -> Ciphertexts:
        """Element-wise sum of two batches of the same length."""

    @abstractmethod
    def sum(self, ciphertexts: Ciphertexts, indices: Sequence[int]) -> Ciphertexts:
        """One ciphertext: the sum of the selected elements."""

    @abstractmethod
    def multiply(self, ciphertexts: Ciphertexts, scalar: int) -> Ciphertexts:
        """Every element times a (small, non-negative) integer."""

    @abstractmethod
    def bucket_sums(
        self,
        ciphertexts: Ciphertexts,
        groups: Sequence[np.ndarray[Any, np.dtype[np.int8]]],
        buckets: np.ndarray[Any, np.dtype[np.int8]],
        bucket_count: int,
    ) -> list[Ciphertexts]:
        """Per group (a 0/1 row filter), the sum of the rows in each (column, bucket).

        ``buckets[i, j]`` is row i's bucket for column j; element ``j * bucket_count + b``
        of each result is the sum over the group's rows whose column j lies in bucket b.
        """

    @abstractmethod
    def concat(self, parts: Sequence[Ciphertexts]) -> Ciphertexts: ...

    @abstractmethod
    def decrypt_batch(self, ciphertexts: Ciphertexts, *, bits: int | None = None) -> list[int]:
        """The plaintexts; with ``bits`` a plaintext outside ``(-2**bits, 2**bits)`` is refused."""

    @abstractmethod
    def to_bytes(self, ciphertexts: Ciphertexts) -> bytes: ...

    @abstractmethod
    def from_bytes(self, data: bytes, count: int) -> Ciphertexts:
        """Ciphertexts from a peer: refused unless they are exactly ``count`` of this scheme's."""

    def pack(self, ciphertexts: Ciphertexts, *, slots: int, slot_bits: int) -> Ciphertexts:
        """Group ``slots`` consecutive ciphertexts into one: ``sum_j c[i*slots+j] * 2**(j*slot_bits)``.

        The last group may be shorter. The caller keeps every element under
        ``2**slot_bits`` and ``slots * slot_bits`` under ``plaintext_bits``.
        Horner's rule: ``(((c[k-1] * 2**w) + c[k-2]) * 2**w + ...) + c[0]``.
        """
        check_packing(self, slots, slot_bits)
        groups = -(-ciphertexts.count // slots)
        out: list[Ciphertexts] = []
        for group in range(groups):
            start = group * slots
            size = min(slots, ciphertexts.count - start)
            acc = self.select(ciphertexts, [start + size - 1])
            for j in range(size - 2, -1, -1):
                acc = self.add(self.multiply(acc, 1 << slot_bits), self.select(ciphertexts, [start + j]))
            out.append(acc)
        return self.concat(out)

    @abstractmethod
    def select(self, ciphertexts: Ciphertexts, indices: Sequence[int]) -> Ciphertexts:
        """The elements at ``indices`` (in that order)."""

    def require_secret(self) -> None:
        if not self.can_decrypt:
            raise Forbidden(f"this {self.name} key is public only: this party cannot decrypt")


def check_key_bits(key_bits: int, *, key_bits_min: int = KEY_BITS_MIN) -> None:
    """Refuse a key shorter than ``key_bits_min`` (2048 outside tests) or longer than 4096 bits."""
    if key_bits < key_bits_min:
        raise InvalidInput(f"a {key_bits}-bit key is too short: at least {key_bits_min} bits")
    if key_bits > KEY_BITS_MAX:
        raise LimitExceeded(f"a {key_bits}-bit key exceeds {KEY_BITS_MAX} bits")


def check_packing(scheme: AdditiveScheme, slots: int, slot_bits: int) -> None:
    if slots < 1 or slot_bits < 1 or slots * slot_bits > scheme.plaintext_bits:
        raise InvalidInput(
            f"{slots} slots of {slot_bits} bits do not fit a {scheme.plaintext_bits}-bit plaintext"
        )


def check_count(count: int) -> None:
    if count > CIPHERTEXTS_MAX:
        raise LimitExceeded(f"{count} ciphertexts exceed {CIPHERTEXTS_MAX} in one batch")


def check_same(scheme: AdditiveScheme, *batches: Ciphertexts) -> None:
    for batch in batches:
        if batch.scheme != scheme.name:
            raise InvalidInput(f"{batch.scheme} ciphertexts given to a {scheme.name} scheme")


def check_buckets(
    scheme: AdditiveScheme,
    ciphertexts: Ciphertexts,
    groups: Sequence[np.ndarray[Any, np.dtype[np.int8]]],
    buckets: np.ndarray[Any, np.dtype[np.int8]],
) -> tuple[int, int]:
    """The arguments of ``bucket_sums`` agree with each other; returns (rows, columns)."""
    check_same(scheme, ciphertexts)
    rows, columns = buckets.shape
    if rows != ciphertexts.count or not groups or any(g.shape != (rows,) for g in groups):
        raise InvalidInput("bucket sums need one bucket row and one filter entry per ciphertext")
    return rows, columns
