"""The ``netfin`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.cli.lazy import LazyGroup
from netfin.core.clock import ManualClock
from netfin.core.errors import NetfinError
from netfin.core.ids import format_id, parse_id
from netfin.core.money import Money
from netfin.ledger import Ledger, verify_proof
from netfin.ledger.journal import (
    checkpoint_from_json,
    checkpoint_to_json,
    proof_from_json,
    proof_to_json,
)
from netfin.ledger.model import Account, Transfer

if TYPE_CHECKING:
    from netfin.cli.story import Story

# The other sub-commands (admin, audit, payments, risk, aml, credit, serve, ...) are
# imported when they run: netfin.cli.lazy.COMMANDS.
app = typer.Typer(
    cls=LazyGroup, help="netfin: digital finance on one verifiable double-entry ledger.", no_args_is_help=True
)
ledger_app = typer.Typer(help="Inspect and verify the ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

console = Console()
err = Console(stderr=True)

DEFAULT_DB = "sqlite:///netfin.db"
DbOption = typer.Option(
    None, "--db", help="Database URL (default: $NETFIN_DATABASE_URL or sqlite:///netfin.db)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")


def _db(db: str | None) -> str:
    return db or os.environ.get("NETFIN_DATABASE_URL") or DEFAULT_DB


def _open(db: str | None) -> Ledger:
    try:
        return Ledger.open(_db(db))
    except NetfinError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def account_json(a: Account) -> dict[str, Any]:
    return {
        "id": format_id(a.id),
        "currency": a.currency,
        "code": a.code,
        "flags": a.flags,
        "debits_pending": a.debits_pending,
        "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending,
        "credits_posted": a.credits_posted,
        "user_data_128": format_id(a.user_data_128),
        "user_data_64": a.user_data_64,
        "user_data_32": a.user_data_32,
        "timestamp": a.timestamp,
    }


def transfer_json(t: Transfer) -> dict[str, Any]:
    return {
        "id": format_id(t.id),
        "debit_account_id": format_id(t.debit_account_id),
        "credit_account_id": format_id(t.credit_account_id),
        "amount": t.amount,
        "currency": t.currency,
        "code": t.code,
        "flags": t.flags,
        "pending_id": format_id(t.pending_id),
        "timeout": t.timeout,
        "user_data_128": format_id(t.user_data_128),
        "user_data_64": t.user_data_64,
        "user_data_32": t.user_data_32,
        "timestamp": t.timestamp,
    }


def transfer_from_json(d: dict[str, Any]) -> Transfer:
    return Transfer(
        parse_id(d["id"]),
        parse_id(d["debit_account_id"]),
        parse_id(d["credit_account_id"]),
        int(d["amount"]),
        d["currency"],
        int(d["code"]),
        int(d["flags"]),
        parse_id(d["pending_id"]),
        int(d["timeout"]),
        parse_id(d["user_data_128"]),
        int(d["user_data_64"]),
        int(d["user_data_32"]),
        int(d["timestamp"]),
    )


@ledger_app.command("accounts")
def accounts_cmd(
    db: str | None = DbOption,
    json: bool = JsonOption,
    limit: int = typer.Option(50, min=1, max=8190),
    cursor: str | None = typer.Option(None),
) -> None:
    """List accounts with their four balances (paged by --cursor)."""
    with _open(db) as ledger:
        rows, next_cursor = ledger.list_accounts(cursor=cursor, limit=limit)
    if json:
        _emit({"accounts": [account_json(a) for a in rows], "next_cursor": next_cursor})
        return
    table = Table(
        "id",
        "currency",
        "code",
        "flags",
        "debits pending",
        "debits posted",
        "credits pending",
        "credits posted",
        "balance",
    )
    for a in rows:
        table.add_row(
            format_id(a.id),
            a.currency,
            str(a.code),
            str(a.flags),
            str(a.debits_pending),
            str(a.debits_posted),
            str(a.credits_pending),
            str(a.credits_posted),
            str(Money(a.balance(), a.currency)),
        )
    console.print(table)
    if next_cursor:
        console.print(f"more: --cursor {next_cursor}")


@ledger_app.command("transfers")
def transfers_cmd(
    db: str | None = DbOption,
    json: bool = JsonOption,
    account: str | None = typer.Option(None, help="Only this account's transfers."),
    limit: int = typer.Option(50, min=1, max=8190),
    cursor: str | None = typer.Option(None),
    reverse: bool = typer.Option(False, help="Newest first (with --account)."),
) -> None:
    """List transfers, all or one account's (paged by --cursor)."""
    with _open(db) as ledger:
        try:
            page = (
                ledger.account_transfers(parse_id(account), cursor=cursor, limit=limit, reverse=reverse)
                if account
                else ledger.list_transfers(cursor=cursor, limit=limit)
            )
        except (NetfinError, ValueError) as error:
            err.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
    if json:
        _emit({"transfers": [transfer_json(t) for t in page.transfers], "next_cursor": page.next_cursor})
        return
    table = Table("id", "debit", "credit", "amount", "code", "flags", "pending id", "timestamp")
    for t in page.transfers:
        table.add_row(
            format_id(t.id),
            format_id(t.debit_account_id),
            format_id(t.credit_account_id),
            str(Money(t.amount, t.currency)),
            str(t.code),
            str(t.flags),
            format_id(t.pending_id) if t.pending_id else "",
            str(t.timestamp),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


@ledger_app.command("verify")
def verify_cmd(db: str | None = DbOption, json: bool = JsonOption) -> None:
    """Recompute the hash chain, balances and checkpoints; exit 1 naming the first bad entry."""
    with _open(db) as ledger:
        total = ledger.store.head().seq
        with Progress(
            TextColumn("verifying journal"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=json,
            transient=True,
        ) as bar:
            task = bar.add_task("verify", total=total)
            report = ledger.verify(progress=lambda done: bar.update(task, completed=done))
    if json:
        _emit(report.to_json())
    elif report.ok:
        console.print(
            f"[green]ledger verified[/green]: {report.journal_entries} journal entries, "
            f"{report.accounts} accounts, {report.transfers} transfers, "
            f"{report.checkpoints} checkpoints"
        )
    else:
        err.print(f"[red]ledger verification FAILED[/red]: {report.first_error}")
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("checkpoint")
def checkpoint_cmd(db: str | None = DbOption, json: bool = JsonOption) -> None:
    """Sign the journal's Merkle root and chain head with the ledger's Ed25519 key."""
    with _open(db) as ledger:
        checkpoint = ledger.checkpoint()
    if json:
        _emit(checkpoint_to_json(checkpoint))
        return
    console.print(
        f"checkpoint {checkpoint.seq}: {checkpoint.tree_size} entries, "
        f"root {checkpoint.root.hex()}, key {checkpoint.public_key.hex()}"
    )


@ledger_app.command("prove")
def prove_cmd(
    transfer_id: str,
    db: str | None = DbOption,
    json: bool = JsonOption,
    out: Path | None = typer.Option(None, help="Write the proof bundle to this file."),
) -> None:
    """Inclusion proof of one transfer against the newest checkpoint."""
    with _open(db) as ledger:
        try:
            proof, checkpoint, transfer = ledger.prove(parse_id(transfer_id))
        except (NetfinError, ValueError) as error:
            err.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
    bundle = {
        "proof": proof_to_json(proof),
        "checkpoint": checkpoint_to_json(checkpoint),
        "transfer": transfer_json(transfer),
    }
    if out:
        out.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    if json or not out:
        _emit(bundle)


@ledger_app.command("verify-proof")
def verify_proof_cmd(
    bundle_file: Path,
    public_key: str = typer.Option(..., help="The ledger's Ed25519 public key (hex)."),
    json: bool = JsonOption,
) -> None:
    """Check a proof bundle from `prove` without any database."""
    try:
        bundle = orjson.loads(bundle_file.read_bytes())
        ok = verify_proof(
            proof_from_json(bundle["proof"]),
            transfer_from_json(bundle["transfer"]),
            checkpoint_from_json(bundle["checkpoint"]),
            bytes.fromhex(public_key),
        )
    except (OSError, KeyError, ValueError, orjson.JSONDecodeError, NetfinError) as error:
        err.print(f"[red]error:[/red] cannot read proof bundle: {error}")
        raise typer.Exit(2) from None
    if json:
        _emit({"ok": ok})
    else:
        console.print("[green]proof valid[/green]" if ok else "[red]proof INVALID[/red]")
    if not ok:
        raise typer.Exit(1)


@app.command("demo")
def demo_cmd(
    db: str = typer.Option("sqlite:///netfin-demo.db", "--db", help="Where the demo ledger lives."),
    events: int = typer.Option(5_000, min=1, max=1_000_000, help="Payments in the simulated day."),
    customers: int = typer.Option(200, min=2, max=100_000),
    seed: int = typer.Option(7),
    fresh: bool = typer.Option(True, help="Start from an empty demo database."),
    serve: bool = typer.Option(False, help="Then serve the web portal and console on the demo's data."),
    host: str = typer.Option("127.0.0.1", help="Where --serve listens."),
    port: int = typer.Option(8000, min=1, max=65535, help="The port --serve listens on."),
    json: bool = JsonOption,
) -> None:
    """A simulated day on the ledger, then open banking over the HTTP API; verify both.

    With ``--serve`` the portal (customers, elder mode) and the operations console
    are then served at http://localhost:PORT on the same data, until Ctrl-C."""
    from netfin.cli.story import run_story  # imported here: the demo alone needs the bank
    from netfin.sim import simulate_day

    if fresh:
        _remove_sqlite_files(db)
    clock = ManualClock()
    with Ledger.open(db, clock=clock) as ledger:
        with Progress(
            TextColumn("simulated day"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=json,
        ) as bar:
            task = bar.add_task("day", total=events)
            summary = simulate_day(
                ledger,
                clock,
                customers=customers,
                events=events,
                seed=seed,
                progress=lambda n: bar.update(task, completed=n),
            )
        checkpoint = ledger.checkpoint()
        report = ledger.verify()
        accounts = ledger.lookup_accounts(
            [
                summary.settlement_id,
                *summary.customer_ids[:5],
                *summary.merchant_ids[:3],
                *summary.biller_ids[:2],
            ]
        )
    story = run_story(db)
    if json:
        _emit(
            {
                "open_banking": story.to_json(),
                "events": summary.attempted,
                "results": dict(summary.results),
                "kinds": dict(summary.kinds),
                "accounts": [account_json(a) for a in accounts],
                "checkpoint": checkpoint_to_json(checkpoint),
                "verify": report.to_json(),
            }
        )
    else:
        _print_demo(summary, accounts, checkpoint.tree_size, report)
        _print_story(story)
    if not (report.ok and story.audit_ok and story.ledger_ok):
        raise typer.Exit(1)
    if serve:
        _serve_demo(db, story, host, port)


def _remove_sqlite_files(db: str) -> None:
    if db.startswith("sqlite:///"):
        path = Path(db.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _serve_demo(db: str, story: Story, host: str, port: int) -> None:
    from netfin.cli.portal_demo import prepare_portal, serve_portal

    origin = f"http://localhost:{port}"
    logins = prepare_portal(db, story.customer_party_id, origin)
    console.rule("web portal and operations console / 网上银行与运营控制台")
    table = Table("who", "customer number / 客户号", "password / 密码 (this run only)")
    for login in logins:
        table.add_row(login.who, login.customer_number, login.password)
    console.print(table)
    console.print(
        f"Open [bold]{origin}[/bold] in a browser (use localhost, not 127.0.0.1, for passkeys). "
        f"Staff land on {origin}/console. Ctrl-C stops the server. "
        f"/ 在浏览器中打开 {origin}，按 Ctrl-C 停止。"
    )
    serve_portal(db, host, port)


def _print_demo(summary: Any, accounts: list[Account], tree_size: int, report: Any) -> None:
    console.rule("netfin demo: one simulated day on the ledger / 模拟营业日")
    kinds = Table("payment kind", "count")
    for kind, count in sorted(summary.kinds.items()):
        kinds.add_row(kind, str(count))
    results = Table("result", "transfers")
    for code, count in summary.results.most_common():
        results.add_row(code, str(count))
    console.print(kinds, results)
    balances = Table("account", "kind", "posted balance", "held (pending)")
    names = {summary.settlement_id: "settlement"}
    names.update({x: "customer" for x in summary.customer_ids})
    names.update({x: "merchant" for x in summary.merchant_ids})
    names.update({x: "biller" for x in summary.biller_ids})
    for a in accounts:
        balances.add_row(
            "…" + format_id(a.id)[-12:],
            names.get(a.id, "?"),
            str(Money(a.balance(), a.currency)),
            str(Money(a.debits_pending, a.currency)),
        )
    console.print(balances)
    for currency, totals in report.currencies.items():
        console.print(
            f"{currency}: debits {Money(totals['debits'], currency)} = credits "
            f"{Money(totals['credits'], currency)}"
        )
    status = "[green]OK[/green]" if report.ok else f"[red]FAILED[/red] {report.first_error}"
    console.print(
        f"ledger verify: {status} ({report.journal_entries} journal entries, "
        f"checkpoint over {tree_size} entries signed)"
    )


def _print_story(story: Story) -> None:
    console.rule("open banking and payments over the HTTP API / 开放银行与支付")
    steps = Table("who", "did what", "result")
    for step in story.steps:
        steps.add_row(step.actor, step.action, step.result)
    console.print(steps)
    audit = "[green]OK[/green]" if story.audit_ok else "[red]FAILED[/red]"
    ledger = "[green]OK[/green]" if story.ledger_ok else "[red]FAILED[/red]"
    console.print(
        f"audit log verify: {audit} ({story.audit_entries} entries); ledger verify after the story: {ledger}"
    )


def main() -> None:  # pragma: no cover - console entry point
    app()
