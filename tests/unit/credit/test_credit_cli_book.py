"""``netfin credit book`` and ``netfin credit service`` on an embedded database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from netfin.cli.credit import credit_app


def test_an_empty_book_and_a_servicing_run(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'book.db'}"
    runner = CliRunner()
    book = runner.invoke(credit_app, ["book", "--db", db, "--json"])
    assert book.exit_code == 0 and json.loads(book.stdout) == {"loans": {}}
    served = runner.invoke(credit_app, ["service", "--db", db, "--as-of", "2026-12-01", "--json"])
    assert served.exit_code == 0 and json.loads(served.stdout) == {"serviced_by_bucket": {}}


def test_a_bad_date_is_refused_with_a_code(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'book.db'}"
    refused = CliRunner().invoke(credit_app, ["service", "--db", db, "--as-of", "2026-02-30", "--json"])
    assert refused.exit_code == 2 and json.loads(refused.stdout)["error"] == "date_invalid"
