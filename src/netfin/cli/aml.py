"""``netfin aml …``: run the monitoring scenarios over a history, evaluate them, work the cases.

Every command that scripts read takes ``--json`` and then prints exactly one
JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.aml.evaluation import Evaluation, evaluate
from netfin.aml.history import load_labels, load_txns
from netfin.aml.monitoring.batch import ScanResult, scan
from netfin.aml.monitoring.config import load_profile
from netfin.aml.monitoring.model import TXN_COLUMNS, AccountFacts
from netfin.cli.common import DbOption, JsonOption, emit, err, out, refuse
from netfin.core.errors import NetfinError

aml_app = typer.Typer(
    help="Anti-money-laundering: monitoring scenarios, the transaction graph, cases and reports.",
    no_args_is_help=True,
)
ProfileOption = typer.Option(
    None, "--profile", help="Monitoring profile YAML (default: the packaged PBoC one)."
)
WorkersOption = typer.Option(
    1, "--workers", min=1, max=64, help="Processes to scan with (accounts are sharded)."
)


def _history(data: Path, mapping: Path | None) -> pa.Table:
    if not data.is_file():
        raise FileNotFoundError(f"no such file: {data}")
    if mapping is not None:
        return load_txns(data, mapping)
    table = pq.read_table(data)
    missing = [c for c in TXN_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{data} is not a netfin transaction file (missing {missing}); give --mapping")
    return table


def _scan(table: pa.Table, profile: Path | None, workers: int, accounts: list[AccountFacts]) -> ScanResult:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("scanning", total=table.num_rows)
        return scan(
            table,
            load_profile(profile),
            accounts=accounts,
            workers=workers,
            progress=lambda done: progress.update(task, completed=done),
        )


def _report(result: ScanResult, evaluation: Evaluation | None, source: str) -> dict[str, Any]:
    by_scenario = Counter(a.scenario for a in result.alerts)
    return {
        "source": source,
        "rows": result.rows,
        "seconds": round(result.seconds, 2),
        "rows_per_second": round(result.rows / result.seconds) if result.seconds else None,
        "workers": result.workers,
        "alerts": len(result.alerts),
        "alerts_by_scenario": dict(sorted(by_scenario.items())),
        "cycle_searches_truncated": result.cycle_searches_truncated,
        "hub_expansions_skipped": result.hubs_skipped,
        "evaluation": evaluation.as_dict() if evaluation is not None else None,
    }


def _print(report: dict[str, Any]) -> None:
    out.print(
        f"{report['source']}: {report['rows']:,} transactions in {report['seconds']} s "
        f"({report['rows_per_second']:,}/s, {report['workers']} worker(s)), {report['alerts']:,} alerts"
    )
    evaluation = report["evaluation"]
    if evaluation is None:
        table = Table("scenario", "alerts")
        for scenario, count in report["alerts_by_scenario"].items():
            table.add_row(scenario, f"{count:,}")
        out.print(table)
        return
    table = Table(
        "typology", "labelled", "flagged", "precision", "recall", "recall (any)", "F1", title="accounts"
    )
    for row in [*evaluation["typologies"], evaluation["overall"]]:
        table.add_row(
            row["typology"], str(row["labelled"]), str(row["flagged"]),
            *(_pct(row[k]) for k in ("precision", "recall", "recall_any", "f1")),
        )  # fmt: skip
    out.print(table)
    alerts = Table("scenario", "alerts", "accounts", "on laundering", "on its typology", title="alerts")
    for row in evaluation["scenarios"]:
        alerts.add_row(row["scenario"], str(row["alerts"]), str(row["accounts"]),
                       _pct(row["alert_precision_any"]), _pct(row["alert_precision"]))  # fmt: skip
    out.print(alerts)
    if evaluation["patterns"]:
        schemes = Table("typology", "schemes", "found (any)", "found (own)", title="schemes")
        for row in evaluation["patterns"]:
            schemes.add_row(
                row["typology"], str(row["patterns"]), _pct(row["recall_any"]), _pct(row["recall_own"])
            )
        out.print(schemes)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@aml_app.command("evaluate")
def evaluate_command(
    data: Path | None = typer.Option(None, "--data", help="Transactions: CSV or Parquet (with --mapping)."),
    mapping: Path | None = typer.Option(None, "--mapping", help="YAML naming the file's columns."),
    labels: Path | None = typer.Option(None, "--labels", help="CSV of account,typology labels."),
    simulate: bool = typer.Option(
        False, "--simulate", help="Evaluate on the synthetic bank with laundering."
    ),
    seed: int = typer.Option(23, help="With --simulate: the seed (23 is held out from tuning)."),
    customers: int = typer.Option(5_000, min=100, max=1_000_000, help="With --simulate: customers."),
    days: int = typer.Option(30, min=10, max=365, help="With --simulate: days."),
    profile: Path | None = ProfileOption,
    workers: int = WorkersOption,
    json: bool = JsonOption,
) -> None:
    """Run every scenario over a history; with labels, precision and recall per typology, alert and scheme."""
    try:
        if simulate == (data is not None):
            raise ValueError("give exactly one of --data and --simulate")
        table: pa.Table
        truth: dict[str, set[str]] | None
        accounts: list[AccountFacts] = []
        patterns = None
        if simulate:
            from netfin.sim.laundering import LaunderingConfig, generate_laundering

            with err.status("simulating the bank and its launderers"):
                run = generate_laundering(LaunderingConfig(seed=seed, customers=customers, days=days))
            table, truth, accounts, patterns = run.table, run.labels, run.accounts, run.patterns
            source = f"synthetic bank (seed {seed}, {customers:,} customers, {days} days)"
        elif data is not None:
            table = _history(data, mapping)
            truth = load_labels(labels) if labels is not None else None
            source = data.name
        result = _scan(table, profile, workers, accounts)
        evaluation = evaluate(result.alerts, truth, patterns=patterns) if truth is not None else None
    except (NetfinError, OSError, ValueError) as error:
        refuse(error, json)
    report = _report(result, evaluation, source)
    if json:
        emit(report)
    else:
        _print(report)


def _actor_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@aml_app.command("scan")
def scan_command(
    data: Path = typer.Option(..., "--data", help="Transactions: CSV or Parquet (with --mapping)."),
    mapping: Path | None = typer.Option(None, "--mapping", help="YAML naming the file's columns."),
    profile: Path | None = ProfileOption,
    workers: int = WorkersOption,
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Scan a history and put the alerts on customers' cases in the database."""
    from netfin.aml.cases import CaseService
    from netfin.audit import AuditLog
    from netfin.core.clock import SystemClock
    from netfin.core.ids import Uuid7Ids
    from netfin.storage import open_engine

    try:
        table = _history(data, mapping)
        result = _scan(table, profile, workers, [])
        engine = open_engine(db or os.environ.get("NETFIN_DATABASE_URL") or "sqlite:///netfin.db")
        with AuditLog(engine, clock=SystemClock(), ids=Uuid7Ids()) as audit:
            cases = CaseService(engine, audit, clock=SystemClock(), ids=Uuid7Ids())
            new = dup = opened = 0
            for start in range(0, len(result.alerts), 10_000):
                done = cases.ingest(result.alerts[start : start + 10_000])
                new, dup, opened = (
                    new + done.alerts_new,
                    dup + done.alerts_duplicate,
                    opened + done.cases_opened,
                )
    except (NetfinError, OSError, ValueError) as error:
        refuse(error, json)
    report = _report(result, None, data.name) | {
        "alerts_new": new,
        "alerts_duplicate": dup,
        "cases_opened": opened,
    }
    if json:
        emit(report)
    else:
        _print(report)
        out.print(f"{new:,} new alerts ({dup:,} already stored), {opened:,} cases opened")


@aml_app.command("cases")
def cases_command(
    status: str | None = typer.Option(
        None, help="open, investigating, escalated, pending_approval, filed, closed"
    ),
    limit: int = typer.Option(50, min=1, max=500),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Cases by due date, with the SLA ageing of the active ones."""
    from netfin.aml.cases import CaseService
    from netfin.audit import AuditLog
    from netfin.core.clock import SystemClock
    from netfin.core.ids import Uuid7Ids
    from netfin.identity.model import Actor
    from netfin.storage import open_engine

    actor = Actor("compliance", _actor_name())
    try:
        engine = open_engine(db or os.environ.get("NETFIN_DATABASE_URL") or "sqlite:///netfin.db")
        with AuditLog(engine, clock=SystemClock(), ids=Uuid7Ids()) as audit:
            service = CaseService(engine, audit, clock=SystemClock(), ids=Uuid7Ids())
            found = service.cases(actor, status=status, limit=limit)
            ageing = service.ageing(actor)
    except (NetfinError, OSError, ValueError) as error:
        refuse(error, json)
    if json:
        emit({"cases": [c.as_dict() for c in found], "ageing": dataclasses.asdict(ageing)})
        return
    table = Table("case", "party", "status", "severity", "alerts", "typologies", "overdue")
    now = SystemClock().now_ns()
    for c in found:
        table.add_row(c.case_id, c.party, c.status.value, c.severity, str(c.alert_count),
                      ", ".join(c.typologies), "yes" if c.overdue(now) else "")  # fmt: skip
    out.print(table)
    out.print(
        f"active: {ageing.on_time} on time, {ageing.due_soon} due within 24 h, {ageing.overdue} overdue"
    )
