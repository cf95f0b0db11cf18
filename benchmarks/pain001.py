"""pain.001 import benchmark: parse + XSD validation + business checks.

Generates a synthetic pain.001.001.03 (``netfin.payments.iso20022.synthetic``:
valid IBANs from schwifty's ``IBAN.generate``, NbOfTxs and CtrlSum right) and
times ``read_pain001`` on it: hardened lxml parsing, validation against the
pain.001.001.03 XSD with libxml2, then every business check (IBAN, BIC,
amount precision, control sums, duplicate ids) and the model. Booking the
orders is the payment service's part and is not measured here; the whole
import including booking has a budget of 10 s for 10,000 transfers, so this
part should stay well under 2 s.

Each repetition also times parsing and XSD validation on their own, so the
report splits the total: business checks = total - parse - XSD (medians).
The XSD is compiled once before the measured runs (reported separately).
Run from the repository root::

    .venv/bin/python benchmarks/pain001.py                         # 10,000 transfers, 5 runs
    .venv/bin/python benchmarks/pain001.py --transactions 50000 --repeat 3
    .venv/bin/python benchmarks/pain001.py --json                  # machine-readable report

The XSDs come from ``--xsd-dir``, else ``NETFIN_ISO20022_XSD_DIR``, else
``../shared/data/iso20022/xsd``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from netfin.payments.iso20022.document import parse_document
from netfin.payments.iso20022.pain001 import read_pain001
from netfin.payments.iso20022.synthetic import generate_pain001
from netfin.payments.iso20022.xsd import SchemaSet

BUDGET_S = 2.0


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def timed_with_cpu(function: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the
    wall time includes waiting for a core, the CPU time does not."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(transactions: int, repeat: int, seed: int, xsd_dir: str | None) -> dict[str, Any]:
    schemas = SchemaSet(xsd_dir) if xsd_dir else SchemaSet()
    generated_at = time.perf_counter()
    synthetic = generate_pain001(transactions, seed=seed)
    generate_s = time.perf_counter() - generated_at
    compile_s = timed(lambda: read_pain001(generate_pain001(2, seed=seed + 1).xml, schemas=schemas))
    totals, cpus, parses, validations = [], [], [], []
    document = parse_document(synthetic.xml, expected="pain.001").document
    for _ in range(repeat):
        wall_s, cpu_s = timed_with_cpu(lambda: read_pain001(synthetic.xml, schemas=schemas))
        totals.append(wall_s)
        cpus.append(cpu_s)
        parses.append(timed(lambda: parse_document(synthetic.xml, expected="pain.001")))
        validations.append(timed(lambda: schemas.problems(document, "pain.001.001.03")))
    message = read_pain001(synthetic.xml, schemas=schemas)
    booked_minor = sum(transfer.amount_minor for _, transfer in message.transactions())
    if booked_minor != synthetic.total_minor or message.number_of_transactions != transactions:
        raise SystemExit("the imported message does not match the generated file")
    median_total = statistics.median(totals)
    median_parse = statistics.median(parses)
    median_xsd = statistics.median(validations)
    return {
        "benchmark": "pain001_import",
        "transactions": transactions,
        "file_bytes": len(synthetic.xml),
        "repeat": repeat,
        "generate_s": round(generate_s, 4),
        "xsd_compile_and_first_read_s": round(compile_s, 4),
        "total_s": {
            "min": round(min(totals), 4),
            "median": round(median_total, 4),
            "max": round(max(totals), 4),
        },
        "total_cpu_s_median": round(statistics.median(cpus), 4),
        "parse_s_median": round(median_parse, 4),
        "xsd_validation_s_median": round(median_xsd, 4),
        "business_checks_s_median": round(median_total - median_parse - median_xsd, 4),
        "transfers_per_s": round(transactions / median_total),
        "budget_s": BUDGET_S,
        "within_budget": median_total <= BUDGET_S,
        "environment": {
            "python": platform.python_version(),
            "lxml": ".".join(str(part) for part in etree.LXML_VERSION),
            "libxml2": ".".join(str(part) for part in etree.LIBXML_VERSION),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }


def render(report: dict[str, Any]) -> str:
    total = report["total_s"]
    environment = report["environment"]
    lines = [
        f"pain.001.001.03 import: {report['transactions']:,} transfers, {report['file_bytes'] / 1e6:.1f} MB "
        f"(generated in {report['generate_s']:.2f} s; "
        f"XSD compile + first read {report['xsd_compile_and_first_read_s']:.3f} s)",
        f"  parse (hardened lxml)         median {report['parse_s_median']:.3f} s",
        f"  XSD validation (libxml2)      median {report['xsd_validation_s_median']:.3f} s",
        f"  business checks + model       median {report['business_checks_s_median']:.3f} s",
        f"  total read_pain001            min {total['min']:.3f} s  median {total['median']:.3f} s  "
        f"max {total['max']:.3f} s  ({report['transfers_per_s']:,} transfers/s, {report['repeat']} runs)",
        f"  CPU time of read_pain001      median {report['total_cpu_s_median']:.3f} s "
        "(below the wall time when other processes share the cores)",
        f"  budget {report['budget_s']:.1f} s for this part: "
        f"{'met' if report['within_budget'] else 'MISSED'}",
        f"  Python {environment['python']}, lxml {environment['lxml']}, libxml2 {environment['libxml2']}, "
        f"{environment['machine']}, {environment['cpus']} CPUs",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--xsd-dir", default=None, help="directory holding pain.001.001.03.xsd")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of text")
    args = parser.parse_args(argv)
    report = run(args.transactions, max(1, args.repeat), args.seed, args.xsd_dir)
    print(json.dumps(report, indent=1) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
