"""Additive HE on this machine: encrypt / add / decrypt per second, and the usual speed-ups.

Backends at ``--key-bits`` (default 2048), each through ``netfin.privacy.he``
unless noted:

- ``phe`` (python-paillier with gmpy2): textbook ``(1 + m n) r^n mod n^2``;
- ``paillier`` (heu ZPaillier): DJN short exponent, ``(1 + m n) h_s^r`` with a
  fixed-base table for ``h_s`` and ``r`` of ``k/2`` bits (what heu does already);
- ``ou`` (heu Okamoto-Uchiyama): ``G^m H^r mod n`` with fixed-base tables;
- ``pypaillier`` (Rust + GMP, DJN) only when ``import paillier`` works, e.g.
  ``PYTHONPATH=/tmp/pyp_unz`` after ``pip download --no-deps pypaillier -d /tmp/whl``
  and unzipping the wheel there; it is not a netfin dependency.

Speed-ups measured:

- both cores: heu with ``threads=2`` (its C++ calls release the GIL), phe
  with two processes;
- DJN short exponent and precomputed randomness, written here for phe (gmpy2)
  to show what heu's ZPaillier already does: ``h_s = (-x^2)^n`` once, then
  ``h_s^r`` with a ``k/2``-bit ``r``; a pool of ``r^n`` computed ahead turns the
  online encryption into one multiplication (the work moves, it does not vanish);
- gradient/hessian packing: one plaintext ``(g+1, h, 1)`` of SecureBoost's
  92-bit layout per row instead of separate ``g`` and ``h`` ciphertexts;
- ciphertext packing of histogram bins before decryption: the host folds
  ``k`` bin sums into one ciphertext (Horner, ``k - 1`` scalar multiplications
  by ``2^92``), the guest decrypts ``1/k`` as many.

Run from the repository root (about 2 minutes)::

    .venv/bin/python benchmarks/he_speed.py
    PYTHONPATH=/tmp/pyp_unz .venv/bin/python benchmarks/he_speed.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import gmpy2
import numpy as np
from phe import paillier as phe_paillier

from netfin.privacy import he
from netfin.privacy.secureboost.histogram import GhLayout, quantize

SLOT_BITS = GhLayout(21_000).slot_bits  # SecureBoost's layout for 21,000 training rows: 92 bits


def rate(count: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return count / (time.perf_counter() - start), out


def backend_rates(name: str, bits: int, n: int, n_decrypt: int, threads: int) -> dict[str, Any]:
    start = time.perf_counter()
    scheme = he.keygen(name, bits, key_bits_min=min(bits, he.KEY_BITS_MIN), threads=threads)
    keygen_s = time.perf_counter() - start
    values = [secrets.randbits(60) for _ in range(n)]
    enc, c = rate(n, lambda: scheme.encrypt_batch(values))
    add, _ = rate(n, lambda: scheme.add(c, c))
    part = scheme.select(c, list(range(n_decrypt)))
    dec, plain = rate(n_decrypt, lambda: scheme.decrypt_batch(part))
    assert plain == values[:n_decrypt]
    size = len(scheme.to_bytes(c)) / n
    return {"scheme": name, "threads": threads, "keygen_s": keygen_s, "encrypt_per_s": enc, "add_per_s": add,
            "decrypt_per_s": dec, "ciphertext_bytes": size}  # fmt: skip


_worker_key: list[Any] = []


def _init_worker(n: int) -> None:
    _worker_key[:] = [phe_paillier.PaillierPublicKey(n)]


def _encrypt_chunk(values: list[int]) -> list[int]:
    return [_worker_key[0].raw_encrypt(v) for v in values]


def phe_speedups(bits: int, n: int) -> dict[str, float]:
    public, private = phe_paillier.generate_paillier_keypair(n_length=bits)
    nn, nsq = gmpy2.mpz(public.n), gmpy2.mpz(public.nsquare)
    values = [secrets.randbits(60) for _ in range(n)]
    out: dict[str, float] = {}
    out["textbook_1_core"], _ = rate(n, lambda: [public.raw_encrypt(v) for v in values])
    with ProcessPoolExecutor(2, initializer=_init_worker, initargs=(public.n,)) as pool:
        halves = [values[: n // 2], values[n // 2 :]]
        out["textbook_2_processes"], _ = rate(n, lambda: list(pool.map(_encrypt_chunk, halves)))
    x = gmpy2.mpz(secrets.randbelow(public.n))
    hs = gmpy2.powmod((-x * x) % nn, nn, nsq)
    half = bits // 2

    def djn(m: int) -> Any:
        return (1 + m * nn) * gmpy2.powmod(hs, gmpy2.mpz(secrets.randbits(half)), nsq) % nsq

    out["djn_short_exponent"], cts = rate(n, lambda: [djn(v) for v in values])
    assert [private.raw_decrypt(int(c)) for c in cts[:5]] == values[:5]
    out["precompute_r_to_the_n_offline"], pool_rn = rate(
        n, lambda: [gmpy2.powmod(gmpy2.mpz(secrets.randbelow(public.n)), nn, nsq) for _ in range(n)]
    )
    out["precomputed_online"], _ = rate(
        n, lambda: [(1 + v * nn) * r % nsq for v, r in zip(values, pool_rn, strict=True)]
    )
    return out


def gh_packing(bits: int, n: int) -> dict[str, float]:
    """Rows per second encrypted: g and h apart (two ciphertexts) or packed (one)."""
    scheme = he.keygen("ou", bits, key_bits_min=min(bits, he.KEY_BITS_MIN))
    rng = np.random.default_rng(0)
    g_int, h_int = quantize(rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n))
    separate = [int(v) + (1 << 24) for v in g_int] + [int(v) for v in h_int]
    packed = GhLayout(21_000).encode(g_int, h_int)
    apart, _ = rate(n, lambda: scheme.encrypt_batch(separate))
    together, _ = rate(n, lambda: scheme.encrypt_batch(packed))
    return {"ou_rows_per_s_g_and_h_apart": apart, "ou_rows_per_s_packed": together}


def bin_packing(name: str, bits: int, bins: int) -> dict[str, Any]:
    """Decrypting ``bins`` bin sums one by one, or packed ``k`` to a ciphertext by the host first."""
    scheme = he.keygen(name, bits, key_bits_min=min(bits, he.KEY_BITS_MIN))
    slots = scheme.plaintext_bits // SLOT_BITS
    sums = scheme.encrypt_batch([secrets.randbits(SLOT_BITS - 1) for _ in range(bins)])
    start = time.perf_counter()
    scheme.decrypt_batch(sums)
    apart_s = time.perf_counter() - start
    start = time.perf_counter()
    packed = scheme.pack(sums, slots=slots, slot_bits=SLOT_BITS)
    pack_s = time.perf_counter() - start
    start = time.perf_counter()
    scheme.decrypt_batch(packed)
    decrypt_s = time.perf_counter() - start
    return {"scheme": name, "bins": bins, "slots": slots, "decrypt_apart_s": apart_s, "host_pack_s": pack_s,
            "decrypt_packed_s": decrypt_s, "bytes_apart": len(scheme.to_bytes(sums)),
            "bytes_packed": len(scheme.to_bytes(packed))}  # fmt: skip


def pypaillier_rates(bits: int, n: int) -> dict[str, Any] | None:
    try:
        import paillier
    except ImportError:
        return None
    start = time.perf_counter()
    pk, sk = paillier.generate_keypair(bits)
    keygen_s = time.perf_counter() - start
    values = [secrets.randbits(60) for _ in range(n)]
    enc, blobs = rate(n, lambda: [bytes(b) for b in paillier.encrypt_integers(pk, values)])
    add, _ = rate(n - 1, lambda: paillier.add_many(pk, blobs))
    dec, plain = rate(n, lambda: paillier.decrypt_many(sk, blobs))
    assert [int(p) for p in plain[:5]] == values[:5]
    return {"scheme": "pypaillier", "threads": os.cpu_count(), "keygen_s": keygen_s, "encrypt_per_s": enc,
            "add_per_s": add, "decrypt_per_s": dec, "ciphertext_bytes": sum(map(len, blobs)) / n}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bits = args.key_bits
    load_before = os.getloadavg()
    plan = [("phe", 200, 200, 1), ("paillier", 2000, 500, 1), ("paillier", 2000, 500, 2),
            ("ou", 20000, 5000, 1), ("ou", 20000, 5000, 2)]  # fmt: skip
    rows = [backend_rates(name, bits, n, nd, threads) for name, n, nd, threads in plan]
    extra = pypaillier_rates(bits, 2000)
    result = {
        "key_bits": bits, "cores": os.cpu_count(), "backends": rows + ([extra] if extra else []),
        "pypaillier": "measured" if extra else "not importable (see the docstring)",
        "ipcl_python": "not on the package index (pip download --no-deps ipcl-python finds no version)",
        "phe_speedups_encrypt_per_s": phe_speedups(bits, 200),
        "gh_packing": gh_packing(bits, 20000),
        "bin_packing": [bin_packing("ou", bits, 2640), bin_packing("paillier", bits, 2640)],
        "load_before": load_before, "load_after": os.getloadavg(),
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"| scheme | threads | keygen s | encrypt/s | add/s | decrypt/s | ciphertext B |  ({bits}-bit keys)"
    )
    print("|---|---|---|---|---|---|---|")
    for r in result["backends"]:
        cells = [r["scheme"], r["threads"], f"{r['keygen_s']:.2f}", f"{r['encrypt_per_s']:,.0f}",
                 f"{r['add_per_s']:,.0f}", f"{r['decrypt_per_s']:,.0f}",
                 f"{r['ciphertext_bytes']:.0f}"]  # fmt: skip
        print("| " + " | ".join(map(str, cells)) + " |")
    for key in ("pypaillier", "ipcl_python", "phe_speedups_encrypt_per_s", "gh_packing", "bin_packing"):
        print(key, json.dumps(result[key]))
    print("load average before/after:", result["load_before"], result["load_after"])


if __name__ == "__main__":
    main()
