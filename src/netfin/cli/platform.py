"""``netfin serve``, ``netfin admin`` and ``netfin audit``: the API server and its operators' tools."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from netfin.bank import Bank, BankSettings
from netfin.core.clock import iso_from_ns
from netfin.core.errors import NetfinError
from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind, Role

console = Console()
err = Console(stderr=True)
admin_app = typer.Typer(help="Bootstrap staff and third parties.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)
DbOption = typer.Option(
    None, "--db", help="Database URL (default $NETFIN_DATABASE_URL or sqlite:///netfin.db)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
PASSWORD_VARIABLE = "NETFIN_STAFF_PASSWORD"  # noqa: S105 (the name of a variable, not a secret)


def _bank(db: str | None) -> Bank:
    try:
        return Bank(BankSettings.from_env(os.environ, **({"database_url": db} if db else {})))
    except NetfinError as error:
        err.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(2) from None


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


WORKER_HEALTHCHECK_S = 60
SERVE_HTTP = ("auto", "httptools", "h11")
SERVE_LOOPS = ("auto", "uvloop", "asyncio")


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
    http: str = typer.Option(
        "auto", help="HTTP parser: auto (httptools when installed, as it is by default), httptools or h11."
    ),
    loop: str = typer.Option(
        "auto", help="Event loop: auto (uvloop when installed, as it is by default), uvloop or asyncio."
    ),
    db: str | None = DbOption,
) -> None:
    """Run the HTTP API (open banking v4.0 and /v1) with uvicorn."""
    if http not in SERVE_HTTP or loop not in SERVE_LOOPS:
        err.print(
            f"[red]serve_option_invalid[/red]: --http is one of {', '.join(SERVE_HTTP)}; "
            f"--loop is one of {', '.join(SERVE_LOOPS)}"
        )
        raise typer.Exit(2)
    import uvicorn

    if db:
        os.environ["NETFIN_DATABASE_URL"] = db
    os.environ.setdefault("NETFIN_ISSUER", f"http://{host}:{port}")
    sock = listening_socket(host, port)  # a taken port fails here, before anything is opened
    try:
        _bank(db).close()  # fail fast on a bad URL or key, and migrate once before the workers start
    except BaseException:
        sock.close()
        raise
    # A worker answers the supervisor's health check only once it has spawned and imported;
    # on a busy host that takes longer than uvicorn's default 5 s, and the supervisor would
    # kill and respawn workers that were only starting, over and over.
    config = uvicorn.Config(
        "netfin.api.server:application", host=host, port=port, workers=workers, factory=True,
        access_log=False, timeout_worker_healthcheck=WORKER_HEALTHCHECK_S, http=http, loop=loop,
    )  # fmt: skip
    if workers == 1:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        if not server.started:  # the application failed to start
            raise typer.Exit(3)
        return
    from netfin.cli.supervisor import Supervisor

    Supervisor(config, sockets=[sock]).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """The workers' shared listening socket, made with ``proto=IPPROTO_TCP``.

    uvicorn binds it as ``socket.socket(family)`` (proto 0) when it runs
    several workers, and asyncio sets TCP_NODELAY on an accepted connection
    only when the socket's proto is IPPROTO_TCP: every keep-alive response
    written in two segments then waited ~40 ms for the client's delayed ACK
    (docs/benchmarks.md, finding 1). Accepted sockets inherit the proto.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        err.print(f"[red]cannot listen on {host}:{port}[/red]: {error.strerror}")
        raise typer.Exit(2) from None
    sock.set_inheritable(True)
    return sock


@admin_app.command("create-staff")
def create_staff(
    name: str = typer.Option(..., help="Display name."),
    phone: str = typer.Option(..., help="Phone number in E.164 form."),
    role: list[Role] = typer.Option([Role.OPERATOR], help="Role(s) to grant."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Create a member of staff; the password comes from $NETFIN_STAFF_PASSWORD, never the command line."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        err.print(
            f"[red]set {PASSWORD_VARIABLE}[/red] to the new member's password (never pass it as an argument)"
        )
        raise typer.Exit(2)
    with _bank(db) as bank:
        try:
            party = bank.identity.register_party(
                Actor.system("netfin-admin"),
                kind=PartyKind.PERSON,
                display_name=name,
                phone=phone,
                roles=role,
            )
            bank.credentials.set_password(party.party_id, password)
        except NetfinError as error:
            err.print(f"[red]{error.code}[/red]: {error.message}")
            raise typer.Exit(1) from None
    result = {"party_id": format_id(party.party_id), "roles": sorted(r.value for r in party.roles)}
    if json:
        _emit(result)
    else:
        console.print(f"staff member {result['party_id']} created with roles {', '.join(result['roles'])}")


@audit_app.command("verify")
def audit_verify(db: str | None = DbOption, json: bool = JsonOption) -> None:
    """Recompute the audit log's hash chain; exit 1 and name the first bad entry if it was altered."""
    with _bank(db) as bank:
        report = bank.audit.verify()
    data = {
        "ok": report.ok,
        "entries": report.entries,
        "first_bad_seq": report.first_bad_seq,
        "problem": report.problem,
        "message": report.message,
    }
    if json:
        _emit(data)
    elif report.ok:
        console.print(f"audit log verify: [green]OK[/green] ({report.entries} entries)")
    else:
        console.print(f"audit log verify: [red]FAILED[/red] at seq {report.first_bad_seq}: {report.problem}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("log")
def audit_log(
    consent_id: str | None = typer.Option(None, help="Only entries under this consent."),
    actor_id: str | None = typer.Option(None, help="Only entries by this actor."),
    outcome: str | None = typer.Option(None, help="allowed, refused, succeeded or failed."),
    limit: int = typer.Option(50, min=1, max=1000, help="Entries to show."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Show audit entries, oldest first."""
    with _bank(db) as bank:
        page = bank.audit.query(consent_id=consent_id, actor_id=actor_id, outcome=outcome, limit=limit)
    rows = [
        {
            "seq": e.seq,
            "at": iso_from_ns(e.at_ns),
            "actor": f"{e.actor_kind}:{e.actor_id}",
            "action": e.action,
            "outcome": e.outcome,
            "subject": f"{e.subject_kind}:{e.subject_id}",
            "consent_id": e.consent_id,
            "reason": e.reason,
        }
        for e in page.entries
    ]
    if json:
        _emit({"entries": rows, "next_cursor": page.next_cursor})
        return
    table = Table("seq", "at", "actor", "action", "outcome", "subject", "consent", "reason")
    for r in rows:
        table.add_row(*(str(r[k] or "") for k in ("seq", "at", "actor", "action", "outcome", "subject",
                                                  "consent_id", "reason")))  # fmt: skip
    console.print(table)
