"""What every ``netfin`` command group shares: consoles, the ``--json``/``--db`` options, output and refusals.

With ``--json`` a command prints exactly one JSON document on stdout (a
refusal too: ``{"error": code, "message": ...}``) and exits 2 on a refusal;
progress and errors for people go to stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console

DEFAULT_DATABASE_URL = "sqlite:///netfin.db"

err = Console(stderr=True)
out = Console()
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
DbOption = typer.Option(
    None, "--db", help="Database URL (default: $NETFIN_DATABASE_URL or sqlite:///netfin.db)."
)


def database_url(db: str | None) -> str:
    return db or os.environ.get("NETFIN_DATABASE_URL") or DEFAULT_DATABASE_URL


def emit(data: Any) -> None:
    """One JSON document on stdout (numpy scalars allowed)."""
    sys.stdout.write(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n"
    )


def refuse(error: Exception, json: bool) -> NoReturn:
    """Report a refusal (as JSON with ``--json``) and exit with status 2."""
    code = getattr(error, "code", "invalid_input")
    if json:
        emit({"error": code, "message": str(error)})
    else:
        err.print(f"[red]error:[/red] {error}")
    raise typer.Exit(2)
