"""``netfin iso20022``: book a pain.001 file as payment orders; write a camt.053 statement.

``import`` prints a summary (or ``--json``) and writes the pacs.002 status
report where ``--report`` says; a refused file exits 1 with every problem
and its line, and books nothing. ``statement`` writes a camt.053.001.08 for
a customer account and a period to ``--out`` or standard output.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ns_from_datetime
from netfin.core.errors import NetfinError
from netfin.core.ids import format_id, parse_id
from netfin.identity.model import Actor
from netfin.payments.iso20022.errors import MessageRefused
from netfin.payments.iso20022.service import ImportResult, Iso20022Service

app = typer.Typer(help="ISO 20022: book pain.001 files, write camt.053 statements.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
DbOption = typer.Option(
    None, "--db", help="Database URL (default $NETFIN_DATABASE_URL or sqlite:///netfin.db)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
CLI_ACTOR = Actor.system("netfin-iso20022")
# Files with more transfers than this show a progress bar on standard error.
PROGRESS_TRANSACTIONS_MIN = 1_000


def _bank(db: str | None) -> Bank:
    try:
        return Bank(BankSettings.from_env(os.environ, **({"database_url": db} if db else {})))
    except NetfinError as error:
        err.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(2) from None


def _service(bank: Bank) -> Iso20022Service:
    return Iso20022Service(
        bank.engine, bank.orders, bank.identity, bank.audit, clock=bank.clock, ids=bank.ids
    )


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _result_json(result: ImportResult) -> dict[str, Any]:
    return {
        "sender": result.sender,
        "message_id": result.message_id,
        "message_name": result.message_name,
        "party_id": format_id(result.party_id),
        "group_status": result.group_status,
        "transactions": len(result.transactions),
        "settled": result.settled,
        "in_process": result.in_process,
        "rejected": result.rejected,
        "totals": result.totals,
        "rejections": [
            {"end_to_end_id": o.end_to_end_id, "reason": o.reason}
            for o in result.transactions
            if o.status == "RJCT"
        ][:100],
        "durations_ms": {k: v // 1_000_000 for k, v in result.durations_ns.items()},
    }


def _refused(service: Iso20022Service, refusal: MessageRefused, report: Path | None, json: bool) -> None:
    problems = [
        {"code": p.code, "line": p.line, "message": p.message, "end_to_end_id": p.end_to_end_id}
        for p in refusal.problems
    ]
    emitted = service.refusal_report(refusal)
    if report is not None and emitted is not None:
        report.write_bytes(emitted.xml)
    if json:
        _emit({"refused": True, "message_id": refusal.message_id, "problems": problems})
    else:
        err.print(f"[red]refused[/red]: {refusal.message_name} with {len(problems)} problem(s)")
        for p in refusal.problems:
            err.print(f"  {p.describe()}")


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The pain.001 file."),
    sender: str = typer.Option(..., "--sender", help="The channel or customer the file came from."),
    party: str | None = typer.Option(None, "--party", help="Party that must own every debtor account."),
    report: Path | None = typer.Option(None, "--report", help="Write the pacs.002 status report here."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Book every credit transfer of a pain.001 as a payment order; exit 1 if the file is refused."""
    data = file.read_bytes()
    with _bank(db) as bank:
        service = _service(bank)
        progress = Progress(
            TextColumn("booking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        )
        task = progress.add_task("booking", total=None)
        big = data.count(b"CdtTrfTxInf>") // 2 >= PROGRESS_TRANSACTIONS_MIN

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            if big:
                progress.start()
            result = service.import_pain001(
                CLI_ACTOR,
                data,
                sender=sender,
                party_id=None if party is None else parse_id(party),
                progress=advance if big else None,
            )
        except MessageRefused as refusal:
            progress.stop()
            _refused(service, refusal, report, json)
            raise typer.Exit(1) from None
        except NetfinError as error:
            progress.stop()
            err.print(f"[red]{error.code}[/red]: {error.message}")
            raise typer.Exit(2) from None
        progress.stop()
    if report is not None:
        report.write_bytes(result.status_report.xml)
    summary = _result_json(result)
    if json:
        _emit(summary)
        return
    console.print(
        f"{result.message_name} {result.message_id}: {result.group_status}, "
        f"{result.settled} settled, {result.in_process} in process, {result.rejected} rejected"
    )
    for rejection in summary["rejections"]:
        console.print(f"  RJCT {rejection['end_to_end_id']}: {rejection['reason']}")


def _ns(text: str, *, end_of_day: bool) -> int:
    """An ISO date or date-time (UTC when no offset is given) -> ns since the epoch."""
    try:
        if "T" not in text:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            ns = ns_from_datetime(moment)
            return ns + 86_400 * 10**9 - 1 if end_of_day else ns
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ns_from_datetime(moment)


@app.command("statement")
def statement(
    account_id: str = typer.Argument(..., help="The customer account."),
    from_text: str = typer.Option(..., "--from", help="First day or instant (ISO 8601; UTC by default)."),
    to_text: str = typer.Option(..., "--to", help="Last day (inclusive) or instant."),
    out: Path | None = typer.Option(None, "--out", help="Write the camt.053 here (default: stdout)."),
    db: str | None = DbOption,
) -> None:
    """Write a camt.053.001.08 statement of a customer account for a period."""
    from_ns, to_ns = _ns(from_text, end_of_day=False), _ns(to_text, end_of_day=True)
    with _bank(db) as bank:
        try:
            xml = _service(bank).statement(account_id, from_ns, to_ns)
        except NetfinError as error:
            err.print(f"[red]{error.code}[/red]: {error.message}")
            raise typer.Exit(1) from None
    if out is None:
        sys.stdout.buffer.write(xml)
    else:
        out.write_bytes(xml)
