"""ECDH private set intersection between two party processes, end to end.

Two CSV files of ``--ids`` customer ids each, half of them in common, are
written to a temporary folder; ``run_psi`` then starts the bank (leader) and
one partner (follower) as separate processes that read their own file, run
the protocol over loopback HTTP with the message audit on, and write the
intersection. What is timed: ``run_psi`` from the start of the processes to
the last result (wall), and each party's protocol time. Throughput counts
every scalar multiplication of the session (each id is blinded twice).
``--primitives`` also times the candidate group operations one by one.
Run from the repository root::

    .venv/bin/python benchmarks/psi.py --ids 10000
    .venv/bin/python benchmarks/psi.py --ids 1000000 --json
    .venv/bin/python benchmarks/psi.py --primitives
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from netfin.privacy.psi import PURPOSE, _domain_tag, _IdHasher, run_psi


def write_ids(path: Path, first: int, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id"])
        writer.writerows([f"CN{n:016d}"] for n in range(first, first + count))


def run(ids: int, payloads: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netfin-psi-") as folder:
        root = Path(folder)
        write_ids(root / "bank.csv", 0, ids)
        write_ids(root / "shop.csv", ids // 2, ids)
        marks: list[float] = []
        started = time.perf_counter()
        summary = run_psi(
            {"bank": root / "bank.csv", "shop": root / "shop.csv"},
            id_column="customer_id",
            leader="bank",
            audit_dir=root / "audit",
            out_dir=root / "out",
            timeout_s=1800,
            payloads="full" if payloads == "full" else "digest",
            on_progress=lambda name, fields: marks.append(time.perf_counter()),
        )
        wall_s = time.perf_counter() - started
        audit_mb = sum(p.stat().st_size for p in (root / "audit").glob("*.jsonl")) / 1e6
    if summary["intersection"] != ids - ids // 2:
        raise SystemExit(f"wrong intersection size {summary['intersection']}")
    multiplications = 4 * ids
    return {
        "ids_per_party": ids,
        "intersection": summary["intersection"],
        "wall_s": round(wall_s, 2),
        "parties": summary["parties"],
        "scalar_multiplications": multiplications,
        "throughput_per_s": round(multiplications / wall_s),
        "progress_reports": len(marks),
        "audit_payloads": payloads,
        "audit_mb": round(audit_mb, 1),
    }


def _rate(count: int, work: Callable[[], object]) -> float:
    """Operations per second of this process's CPU time (steadier than wall time on a shared machine)."""
    started = time.process_time()
    work()
    return count / (time.process_time() - started)


def primitives(count: int) -> dict[str, float]:
    """Operations per CPU second on one core for each candidate building block."""
    seeds = [os.urandom(32) for _ in range(count)]
    messages = [f"CN{n:016d}".encode() for n in range(count)]
    points = [sodium.crypto_core_ed25519_from_uniform(s) for s in seeds]
    scalar = sodium.crypto_core_ed25519_scalar_reduce(os.urandom(64))
    key = X25519PrivateKey.generate()
    hasher = _IdHasher(_domain_tag("bench", PURPOSE))
    us = [hasher.point(m) for m in messages]
    return {
        name: round(_rate(count, work))
        for name, work in {
            "rfc9380_ell2_hash_to_curve25519": lambda: [hasher.point(m) for m in messages],
            "x25519_exchange": lambda: [key.exchange(X25519PublicKey.from_public_bytes(u)) for u in us],
            "sodium_ed25519_from_uniform": lambda: [
                sodium.crypto_core_ed25519_from_uniform(s) for s in seeds
            ],
            "sodium_ed25519_is_valid_point": lambda: [
                sodium.crypto_core_ed25519_is_valid_point(p) for p in points
            ],
            "sodium_scalarmult_ed25519_noclamp": lambda: [
                sodium.crypto_scalarmult_ed25519_noclamp(scalar, p) for p in points
            ],
        }.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000, help="ids per party (half of them shared)")
    parser.add_argument("--payloads", choices=["full", "digest"], default="full", help="message audit mode")
    parser.add_argument("--primitives", action="store_true", help="also time the group operations alone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    if args.primitives:
        result["primitives_per_s"] = primitives(20_000)
    result["load_before"] = os.getloadavg()
    result["session"] = run(args.ids, args.payloads)
    result["load_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    session = result["session"]
    size, wall_s = session["ids_per_party"], session["wall_s"]
    print(f"{size:,} x {size:,} ids: wall {wall_s} s, intersection {session['intersection']:,}")
    print(f"  {session['throughput_per_s']:,} scalar multiplications/s over the session")
    for party in session["parties"]:
        print(
            f"  {party['party']:6s} {party['role']:8s} protocol {party['protocol_s']} s, "
            f"cpu {party['cpu_s']} s"
        )
    for name, rate in result.get("primitives_per_s", {}).items():
        print(f"  {name:36s} {rate:>10,.0f}/s")
    print(f"  load average before {result['load_before']}, after {result['load_after']}")


if __name__ == "__main__":
    main()
