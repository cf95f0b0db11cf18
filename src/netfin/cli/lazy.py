"""The ``netfin`` sub-commands that are imported only when they run.

Most sub-commands stand on the whole bank (identity, payments, risk models,
screening lists, the credit book), and importing all of it took seconds
before any command could start: ``netfin ledger verify``, which needs only
the ledger, paid for LightGBM, igraph and the pinyin dictionaries. The root
group therefore knows these sub-commands by name, module and one-line help,
imports a module when one of its commands is called, and lists them on the
help page from this table without importing anything.

``tests/e2e/test_cli_startup.py`` checks that each entry's help is the help
of the command it loads, and what a ledger command leaves unimported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException
from typer.main import get_command, get_group


@dataclass(frozen=True)
class LazyCommand:
    module: str
    attribute: str  # a typer.Typer (a group of commands) or a function (one command)
    help: str


COMMANDS: dict[str, LazyCommand] = {
    "admin": LazyCommand("netfin.cli.platform", "admin_app", "Bootstrap staff and third parties."),
    "audit": LazyCommand("netfin.cli.platform", "audit_app", "Read and verify the audit log."),
    "iso20022": LazyCommand(
        "netfin.cli.iso20022", "app", "ISO 20022: book pain.001 files, write camt.053 statements."
    ),
    "payments": LazyCommand(
        "netfin.cli.payments", "payments_app", "Wallets, payment orders, merchant QR codes and FX quotes."
    ),
    "risk": LazyCommand(
        "netfin.cli.risk", "risk_app", "Fraud risk: simulate, train, backtest, evaluate, monitor."
    ),
    "aml": LazyCommand(
        "netfin.cli.aml",
        "aml_app",
        "Anti-money-laundering: monitoring scenarios, the transaction graph, cases and reports.",
    ),
    "credit": LazyCommand(
        "netfin.cli.credit", "credit_app", "Credit: scorecards, the loan book and its servicing."
    ),
    "federated": LazyCommand(
        "netfin.cli.federated", "federated_app", "Federated learning between separate party processes."
    ),
    "sanctions": LazyCommand(
        "netfin.cli.sanctions",
        "sanctions_app",
        "Sanctions and PEP screening: load lists, screen names, rescreen everyone.",
    ),
    "news": LazyCommand(
        "netfin.cli.news",
        "news_app",
        "News and social-media early warning: ingest, score sentiment, raise warnings.",
    ),
    "supervision": LazyCommand(
        "netfin.cli.supervision",
        "supervision_app",
        "Penetrating supervision: the ownership graph and ultimate beneficial owners.",
    ),
    "serve": LazyCommand(
        "netfin.cli.platform", "serve", "Run the HTTP API (open banking v4.0 and /v1) with uvicorn."
    ),
}


def load(name: str) -> Any:
    """The click command for ``COMMANDS[name]``, its module imported now."""
    entry = COMMANDS[name]
    target: Any = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):
        command: Any = get_group(target)
    else:
        single = typer.Typer()
        single.command(name)(_function(target))
        command = get_command(single)
    command.name = name
    return command


def _function(target: Any) -> Callable[..., Any]:
    if not callable(target):
        raise TypeError(f"{target!r} is neither a typer.Typer nor a function")
    return target  # type: ignore[no-any-return]


class LazyGroup(TyperGroup):
    """A root group whose ``COMMANDS`` are imported when called, listed without importing."""

    _listing = False

    # Typer's commands and context come from its own copy of click: typed Any here.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(name for name in COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = self.commands.get(cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        if self._listing:  # the help page: name and one line, nothing imported
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        command = load(cmd_name)
        self.commands[cmd_name] = command
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except TyperException as error:  # click's UsageError, in Typer's copy of click
            # Typer suggests among the commands loaded so far; suggest among all of them.
            text = getattr(error, "message", None)
            if not (args and isinstance(text, str) and text.startswith("No such command")):
                raise
            matches = get_close_matches(args[0], self.list_commands(ctx))
            message = text.split(". Did you mean")[0].rstrip(".")
            if matches:
                error.message = f"{message}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
