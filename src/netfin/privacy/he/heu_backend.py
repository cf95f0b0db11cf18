"""Paillier (DJN variant, ``ZPaillier``) and Okamoto-Uchiyama through SecretFlow's ``heu``.

Batches are ``heu.numpy`` ciphertext matrices of shape ``(n, 1)``; the
vectorised calls (encrypt, decrypt, element-wise add and multiply, bucket
sums) run in heu's C++ on heu's own thread pool and release the GIL;
``threads`` > 1 also splits a batch over Python threads, for machines where
heu's pool is smaller than the machine.

What heu does for speed, read from its sources (heu 0.5): ZPaillier encrypts
as ``(1 + m n) * h_s^r mod n^2`` where ``h_s = (-x^2)^n`` is fixed in the
public key with a fixed-base table and ``r`` has only ``k/2`` bits (the DJN
short-exponent form); OU encrypts as ``G^m H^r mod n`` with fixed-base tables
for ``G`` and ``H`` and a random exponent of 110 bits at 2048-bit keys, and
reuses the previous ``H^r`` times a fresh small ``H^r'``. Ciphertexts live in
Montgomery form, and decryption uses the CRT.

OU's security rests on factoring ``n = p^2 q``; a 2048-bit ``n`` gives 683-bit
primes ``p``, ``q`` (heu also makes ``p - 1`` carry a 224-bit prime factor for
its subgroup variant). OU is open to a plaintext-overflow attack by whoever
asks for decryptions: a plaintext at or above ``p`` decrypts to a value that
leaks ``p``. The decrypting party therefore checks the range of every plaintext
it decrypts (``decrypt_batch(bits=...)``) and never returns a raw decryption.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from heu import numpy as hnp
from heu import phe

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.privacy.he.scheme import (
    KEY_BITS_MAX,
    AdditiveScheme,
    Ciphertexts,
    check_buckets,
    check_count,
    check_key_bits,
    check_packing,
    check_same,
)

SCHEMAS = {"paillier": phe.SchemaType.ZPaillier, "ou": phe.SchemaType.OU}
_MODULUS = re.compile(r"\bn=([0-9A-Fa-f]+)")
_CHUNK_ROWS_MIN = 2048

_HeuArray = Any  # heu.numpy.CiphertextArray / PlaintextArray (no type stubs)
_T = TypeVar("_T")
_pool_started: list[bool] = []
_pool_lock = threading.Lock()


def _start_thread_pool(kit: Any) -> None:
    """Make heu create its C++ thread pool now, with file descriptor 1 pointing at stderr.

    heu logs the creation of that pool to file descriptor 1, which in a party
    process carries the runner's JSON lines to the parent; one small
    encryption here, once per process, keeps the line off that channel.
    """
    with _pool_lock:
        if _pool_started:
            return
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            kit.encryptor().encrypt(kit.array(np.zeros((2, 1), dtype=object), phe.BigintEncoderParams()))
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _pool_started.append(True)


class HeuScheme(AdditiveScheme):
    """heu's ZPaillier (``name="paillier"``) or OU (``name="ou"``)."""

    def __init__(self, name: str, kit: Any, *, key_bits: int, secret: bool, threads: int = 1) -> None:
        if name not in SCHEMAS:
            raise InvalidInput(f"unknown heu scheme {name!r}; known: {sorted(SCHEMAS)}")
        self.name = name
        self.key_bits = key_bits
        self._kit = kit
        self._secret = secret
        self._encryptor = kit.encryptor()
        self._evaluator = kit.evaluator()
        self._decryptor: Any = kit.decryptor() if secret else None
        _start_thread_pool(kit)
        self._encoding = phe.BigintEncoderParams()
        # heu accepts |m| <= bound; keep one bit spare so sums of packed values stay below it
        self.plaintext_bits = kit.public_key().plaintext_bound().bit_count() - 2
        self.threads = max(1, threads)

    @property
    def can_decrypt(self) -> bool:
        return self._secret

    def public_key(self) -> bytes:
        return bytes(self._kit.public_key().serialize())

    def _wrap(self, data: _HeuArray, count: int) -> Ciphertexts:
        return Ciphertexts(self.name, count, data)

    def _plain(self, values: Sequence[int]) -> _HeuArray:
        column = np.empty((len(values), 1), dtype=object)
        column[:, 0] = [int(v) for v in values]
        return self._kit.array(column, self._encoding)

    def _map_chunks(self, job: Callable[[int, int], _T], count: int) -> list[_T]:
        """``job(start, stop)`` on up to ``threads`` row ranges at once, results in row order."""
        parts = min(self.threads, max(1, count // _CHUNK_ROWS_MIN))
        edges = np.linspace(0, count, parts + 1).astype(int).tolist()
        ranges = [(a, b) for a, b in itertools.pairwise(edges) if b > a]
        if len(ranges) == 1:
            return [job(*ranges[0])]
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            return list(pool.map(lambda r: job(*r), ranges))

    def encrypt_batch(self, values: Sequence[int]) -> Ciphertexts:
        check_count(len(values))
        if not values:
            raise InvalidInput("nothing to encrypt")
        bound = 1 << (self.plaintext_bits + 1)
        if any(abs(v) >= bound for v in values):
            raise InvalidInput(f"a plaintext exceeds the {self.plaintext_bits + 1}-bit bound of this key")

        def job(a: int, b: int) -> Ciphertexts:
            return self._wrap(self._encryptor.encrypt(self._plain(values[a:b])), b - a)

        return self.concat(self._map_chunks(job, len(values)))

    def add(self, a: Ciphertexts, b: Ciphertexts) -> Ciphertexts:
        check_same(self, a, b)
        if a.count != b.count:
            raise InvalidInput(f"cannot add {a.count} ciphertexts to {b.count}")
        return self._wrap(self._evaluator.add(a.data, b.data), a.count)

    def sum(self, ciphertexts: Ciphertexts, indices: Sequence[int]) -> Ciphertexts:
        check_same(self, ciphertexts)
        return self.select(
            self._wrap(self._evaluator.batch_select_sum(ciphertexts.data, [list(indices)]), 1), [0]
        )

    def multiply(self, ciphertexts: Ciphertexts, scalar: int) -> Ciphertexts:
        check_same(self, ciphertexts)
        if scalar < 0:
            raise InvalidInput("multiply by a non-negative integer")
        factor = self._plain([scalar] * ciphertexts.count)
        return self._wrap(self._evaluator.mul(ciphertexts.data, factor), ciphertexts.count)

    def select(self, ciphertexts: Ciphertexts, indices: Sequence[int]) -> Ciphertexts:
        check_same(self, ciphertexts)
        if not indices:
            raise InvalidInput("select at least one ciphertext")
        return self._wrap(ciphertexts.data[[int(i) for i in indices]], len(indices))

    def concat(self, parts: Sequence[Ciphertexts]) -> Ciphertexts:
        check_same(self, *parts)
        if not parts:
            raise InvalidInput("nothing to concatenate")
        if len(parts) == 1:
            return parts[0]
        total = sum(p.count for p in parts)
        check_count(total)
        out = parts[0].data[[0] * total]  # a matrix of the right size, then overwritten
        start = 0
        for part in parts:
            out[start : start + part.count] = part.data
            start += part.count
        return self._wrap(out, total)

    def bucket_sums(
        self,
        ciphertexts: Ciphertexts,
        groups: Sequence[np.ndarray[Any, np.dtype[np.int8]]],
        buckets: np.ndarray[Any, np.dtype[np.int8]],
        bucket_count: int,
    ) -> list[Ciphertexts]:
        rows, columns = check_buckets(self, ciphertexts, groups, buckets)
        buckets = np.ascontiguousarray(buckets, dtype=np.int8)

        def job(a: int, b: int) -> list[_HeuArray]:
            filters = [np.ascontiguousarray(g[a:b], dtype=np.int8) for g in groups]
            part = ciphertexts.data[a:b]
            return list(
                self._evaluator.batch_feature_wise_bucket_sum(
                    part, filters, buckets[a:b], bucket_count, False
                )
            )

        partial = self._map_chunks(job, rows)
        sums = partial[0]
        for more in partial[1:]:
            sums = [self._evaluator.add(x, y) for x, y in zip(sums, more, strict=True)]
        return [self._wrap(s, columns * bucket_count) for s in sums]

    def pack(self, ciphertexts: Ciphertexts, *, slots: int, slot_bits: int) -> Ciphertexts:
        """Vectorised Horner packing: one heu call per slot position, not per element."""
        check_same(self, ciphertexts)
        check_packing(self, slots, slot_bits)
        full, rest = divmod(ciphertexts.count, slots)
        parts = []
        if full:
            columns = [list(range(j, full * slots, slots)) for j in range(slots)]
            parts.append(self._horner(ciphertexts, columns, slot_bits))
        if rest:
            parts.append(self._horner(ciphertexts, [[full * slots + j] for j in range(rest)], slot_bits))
        return self.concat(parts)

    def _horner(self, ciphertexts: Ciphertexts, columns: list[list[int]], slot_bits: int) -> Ciphertexts:
        size = len(columns[0])
        shift = self._plain([1 << slot_bits] * size)
        acc = ciphertexts.data[columns[-1]]
        for column in reversed(columns[:-1]):
            acc = self._evaluator.add(self._evaluator.mul(acc, shift), ciphertexts.data[column])
        return self._wrap(acc, size)

    def decrypt_batch(self, ciphertexts: Ciphertexts, *, bits: int | None = None) -> list[int]:
        self.require_secret()
        check_same(self, ciphertexts)
        decryptor = self._decryptor
        if bits is not None and not 0 < bits <= self.plaintext_bits + 1:
            raise InvalidInput(f"a range of {bits} bits is outside this key's plaintexts")

        def job(a: int, b: int) -> list[int]:
            part = ciphertexts.data[a:b]
            try:
                plain = decryptor.decrypt(part) if bits is None else decryptor.decrypt_in_range(part, bits)
            except phe.PheRuntimeError as exc:
                raise InvalidInput("a ciphertext decrypts outside the allowed range") from exc
            return [int(v) for v in plain.to_numpy().ravel()]

        pieces = self._map_chunks(job, ciphertexts.count)
        return [v for piece in pieces for v in piece]

    def to_bytes(self, ciphertexts: Ciphertexts) -> bytes:
        check_same(self, ciphertexts)
        return bytes(ciphertexts.data.serialize())

    def from_bytes(self, data: bytes, count: int) -> Ciphertexts:
        check_count(count)
        try:
            array = hnp.CiphertextArray.load_from(data)
        except (phe.PheRuntimeError, RuntimeError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not a {self.name} ciphertext matrix") from exc
        if tuple(array.shape) != (count, 1):
            raise InvalidInput(f"expected {count} ciphertexts, got a matrix of shape {tuple(array.shape)}")
        return self._wrap(array, count)


def generate(name: str, key_bits: int, *, key_bits_min: int, threads: int = 1) -> HeuScheme:
    check_key_bits(key_bits, key_bits_min=key_bits_min)
    if name not in SCHEMAS:
        raise InvalidInput(f"unknown heu scheme {name!r}; known: {sorted(SCHEMAS)}")
    try:
        kit = hnp.setup(SCHEMAS[name], key_bits)
    except phe.PheRuntimeError as exc:
        raise InvalidInput(f"heu cannot make a {key_bits}-bit {name} key: {exc}") from exc
    return HeuScheme(name, kit, key_bits=key_bits, secret=True, threads=threads)


def load_public(name: str, public_key: bytes, *, key_bits_min: int, threads: int = 1) -> HeuScheme:
    """A public-only scheme from a peer's key; refuses a modulus shorter than ``key_bits_min``."""
    if name not in SCHEMAS:
        raise InvalidInput(f"unknown heu scheme {name!r}; known: {sorted(SCHEMAS)}")
    try:
        key = phe.PublicKey.load_from(public_key)
    except (phe.PheRuntimeError, RuntimeError, ValueError, TypeError) as exc:
        raise InvalidInput(f"not a {name} public key") from exc
    match = _MODULUS.search(str(key))
    if match is None:
        raise InvalidInput("the public key shows no modulus")
    key_bits = int(match.group(1), 16).bit_length()
    # heu's OU modulus runs a few bits over the nominal size (2053 for 2048); allow for it both ways
    check_key_bits(min(key_bits + 2, KEY_BITS_MAX), key_bits_min=key_bits_min)
    if key_bits > KEY_BITS_MAX + 16:
        raise LimitExceeded(f"a {key_bits}-bit modulus exceeds {KEY_BITS_MAX} bits")
    kit = hnp.setup(key)
    if kit.get_schema() != SCHEMAS[name]:
        raise InvalidInput(f"the public key is not a {name} key")
    return HeuScheme(name, kit, key_bits=key_bits, secret=False, threads=threads)
