"""The synthetic pain.001 generator and the import benchmark that uses it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from iso20022_support import REPO_ROOT, XSD_DIR

from netfin.core.errors import InvalidInput
from netfin.payments.iso20022 import SchemaSet, generate_pain001, read_pain001

BENCHMARK = (sys.executable, "benchmarks/pain001.py")


def test_generated_files_are_reproducible_and_pass_every_check(schemas: SchemaSet) -> None:
    first = generate_pain001(30, seed=3, transactions_per_payment=7)
    assert generate_pain001(30, seed=3, transactions_per_payment=7) == first
    message = read_pain001(first.xml, schemas=schemas)
    assert [len(p.transactions) for p in message.payments] == [7, 7, 7, 7, 2]
    assert sum(t.amount_minor for _, t in message.transactions()) == first.total_minor
    assert len({t.creditor_iban for _, t in message.transactions()}) == 30


def test_sizes_out_of_range_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        generate_pain001(0)
    assert refused.value.code == "synthetic_size_invalid"


def test_the_benchmark_runs_and_reports_json(schemas: SchemaSet) -> None:
    completed = subprocess.run(
        [*BENCHMARK, "--transactions", "200", "--repeat", "1", "--json", "--xsd-dir", str(XSD_DIR)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(completed.stdout)
    assert report["transactions"] == 200 and report["within_budget"] is True
    assert report["total_s"]["median"] > 0
