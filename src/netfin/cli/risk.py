"""``netfin risk …``: simulate, train, backtest, evaluate and monitor the fraud engine.

Every command that scripts read takes ``--json`` and then prints exactly one
JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.cli.common import JsonOption, emit, err, out, refuse
from netfin.core.errors import NetfinError
from netfin.risk import metrics
from netfin.risk.evaluation import (
    evaluate_history,
    featurise,
    train_from_decisions,
    unseen_typologies,
)
from netfin.risk.events import EVENT_COLUMNS
from netfin.risk.mapping import load_history, load_mapping
from netfin.risk.model import save
from netfin.risk.rules import backtest, load_default_ruleset, load_ruleset
from netfin.risk.store import RiskStore
from netfin.sim.bank import BankConfig, write_parquet
from netfin.storage import open_engine

risk_app = typer.Typer(help="Fraud risk: simulate, train, backtest, evaluate, monitor.", no_args_is_help=True)
DataOption = typer.Option(
    ..., "--data", help="Labelled history: CSV or Parquet (with --mapping) or netfin Parquet."
)
MappingOption = typer.Option(None, "--mapping", help="YAML naming the file's columns (see risk/mappings/).")
RulesOption = typer.Option(None, "--rules", help="Rule-set YAML (default: the packaged rule set).")


def _history(data: Path, mapping: Path | None) -> tuple[pa.Table, list[str]]:
    """The history as events, plus the extra feature columns its mapping passes through."""
    if not data.is_file():
        raise FileNotFoundError(f"no such file: {data}")
    if mapping is not None:
        return load_history(data, mapping), list(load_mapping(mapping).extra_features)
    table = pq.read_table(data)
    missing = [c for c in EVENT_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{data} is not a netfin event file (missing {missing}); give --mapping")
    return table, []


def _stages(json: bool) -> tuple[Progress, Any]:
    progress = Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=err, disable=json)
    task = progress.add_task("reading", total=None)
    return progress, lambda stage: progress.update(task, description=stage)


@risk_app.command("simulate")
def simulate(
    out_path: Path = typer.Option(..., "--out", help="Parquet file to write."),
    customers: int = typer.Option(10_000, help="Persons and small businesses."),
    days: int = typer.Option(30, help="Days of history."),
    seed: int = typer.Option(7, help="Seed: the same seed gives the same file."),
    calibration: Path = typer.Option(
        Path("../shared/data/fraud/paysim_params"), help="PaySim parameter folder."
    ),
    json: bool = JsonOption,
) -> None:
    """Write a synthetic bank's labelled payments (streamed, day by day) to Parquet."""
    try:
        config = BankConfig(seed=seed, customers=customers, days=days, calibration_dir=calibration)
    except NetfinError as error:
        refuse(error, json)
    with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.completed:,} events"),
                  TimeElapsedColumn(), console=err, disable=json) as progress:  # fmt: skip
        task = progress.add_task("events", total=None)
        summary = write_parquet(out_path, config, progress=lambda n: progress.update(task, completed=n))
    body = {"path": str(out_path), "events": summary.events, "frauds": dict(summary.frauds),
            "seconds": round(summary.seconds, 2)}  # fmt: skip
    emit(body) if json else out.print(
        f"{summary.events:,} events, frauds {dict(summary.frauds)} -> {out_path}"
    )


def _metrics_table(title: str, rows: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in (
        "",
        "events",
        "frauds",
        "base rate",
        "AUPRC",
        "ROC AUC",
        "recall@1%FPR",
        "money stopped@0.5%",
    ):
        table.add_column(column)
    for name, m in rows.items():
        table.add_row(
            name, f"{m['events']:,}", f"{m['frauds']:,}", _f(m["base_rate"]), _f(m["auprc"]),
            _f(m["roc_auc"]), _f(m["recall_at_fpr"]), _f(m["money_stopped"]["share"]),
        )  # fmt: skip
    return table


def _unseen_table(result: dict[str, Any]) -> Table:
    table = Table(title="each fraud type left out of training, at the model's 0.5% alert rate")
    columns = ("left out", "frauds", "model catches", "rules catch", "rules only", "rules-only money share")
    for column in columns:
        table.add_column(column)
    for name, o in result.items():
        share = o["rules_only"]["fraud_minor"] / o["fraud_minor"] if o["fraud_minor"] else None
        table.add_row(
            name, f"{o['frauds']:,}", f"{o['model']['frauds']:,}", f"{o['rules']['frauds']:,}",
            f"{o['rules_only']['frauds']:,}", _f(share),
        )  # fmt: skip
    return table


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@risk_app.command("evaluate")
def evaluate_command(
    data: Path = DataOption, mapping: Path | None = MappingOption, rules: Path | None = RulesOption,
    model_out: Path | None = typer.Option(None, "--model-out", help="Also save the trained model here."),
    held_out: Path | None = typer.Option(
        None, "--held-out", help="Measure on this history's later part instead (same format)."
    ),
    unseen: bool = typer.Option(
        False, "--unseen-typologies",
        help="Also train once per fraud type with that type left out: what do the rules catch that the "
        "model, never having seen it, misses? Needs the mapping's scenario column.",
    ),
    json: bool = JsonOption,
) -> None:  # fmt: skip
    """Train on the earlier part of a labelled history and evaluate model and rules on the later part."""
    try:
        history, extra = _history(data, mapping)
        other = _history(held_out, mapping)[0] if held_out is not None else None
        ruleset = load_ruleset(rules) if rules else load_default_ruleset()
        progress, tell = _stages(json)
        with progress:
            model, report = evaluate_history(
                history, ruleset=ruleset, extra=extra, progress=tell, held_out=other
            )
            if unseen:
                report["unseen_typologies"] = unseen_typologies(
                    history, ruleset=ruleset, held_out=other, progress=tell
                )
    except (NetfinError, OSError, ValueError, KeyError) as error:
        refuse(error, json)
    if model_out is not None:
        report["model_path"] = str(save(model, model_out))
    if json:
        emit(report)
        return
    out.print(
        _metrics_table(
            f"test period of {data.name}", {"model": report["model"], "rules": report["rules_score"]}
        )
    )
    overlap = report["overlap_at_alert_rate"]
    out.print(
        f"at the model's 0.5% alert rate: model {overlap['model']['frauds']},"
        f" rules {overlap['rules']['frauds']},"
        f" rules only {overlap['rules_only']['frauds']}, model only {overlap['model_only']['frauds']}"
        f" of {overlap['frauds']} frauds"
    )
    if unseen:
        out.print(_unseen_table(report["unseen_typologies"]))


@risk_app.command("train")
def train_command(
    model_out: Path = typer.Option(..., "--out", help="Artefact directory to write."),
    data: Path | None = typer.Option(None, "--data", help="Labelled history (as for evaluate)."),
    mapping: Path | None = MappingOption,
    from_db: str | None = typer.Option(
        None, "--from-db", help="Train on the decisions stored in this database, labelled by analysts."
    ),
    limit: int = typer.Option(5_000_000, help="With --from-db: the latest decisions to read.", min=100),
    json: bool = JsonOption,
) -> None:  # fmt: skip
    """Train, calibrate and save a versioned model artefact (metrics and data fingerprint inside)."""
    try:
        if (data is None) == (from_db is None):
            raise ValueError("give exactly one of --data and --from-db")
        progress, tell = _stages(json)
        with progress:
            if from_db is not None:
                tell("reading decisions and labels")
                store = RiskStore(open_engine(from_db))
                model = train_from_decisions(store.training_pairs(limit))
                test = model.metadata.get("metrics", {}).get("test", {})
                seconds: dict[str, float] = {}
            else:
                history, extra = _history(data, mapping)  # type: ignore[arg-type]
                model, report = evaluate_history(
                    history, ruleset=load_default_ruleset(), extra=extra, progress=tell
                )
                test, seconds = report["model"], report["seconds"]
        path = save(model, model_out)
    except (NetfinError, OSError, ValueError, KeyError) as error:
        refuse(error, json)
    body = {"path": str(path), "version": model.version, "test": test, "seconds": seconds}
    auprc = _f(test.get("auprc"))
    emit(body) if json else out.print(f"model {model.version} -> {path}; test AUPRC {auprc}")


@risk_app.command("backtest")
def backtest_command(
    data: Path = DataOption, mapping: Path | None = MappingOption, rules: Path | None = RulesOption,
    json: bool = JsonOption,
) -> None:  # fmt: skip
    """Each rule's hit rate, precision and recall on labelled history."""
    try:
        history, _ = _history(data, mapping)
        ruleset = load_ruleset(rules) if rules else load_default_ruleset()
        progress, tell = _stages(json)
        with progress:
            table = featurise(history, progress=tell)
            tell("rules")
            report = backtest(ruleset, table)
    except (NetfinError, OSError, ValueError, KeyError) as error:
        refuse(error, json)
    if json:
        emit(report.as_dict())
        return
    view = Table(title=f"{ruleset.identity} on {data.name}: {report.rows:,} events, {report.frauds:,} frauds")
    for column in ("rule", "action", "hits", "hit rate", "precision", "recall", "money recall"):
        view.add_column(column)
    for s in [*report.rules, report.union]:
        view.add_row(s.code, str(s.action), f"{s.hits:,}", _f(s.hit_rate), _f(s.precision), _f(s.recall),
                     _f(s.money_recall))  # fmt: skip
    out.print(view)


@risk_app.command("monitor")
def monitor_command(
    db: str = typer.Option(None, "--db", help="Database URL (default: $NETFIN_DATABASE_URL)."),
    baseline_days: int = typer.Option(7, help="Days before the current window that set the baseline."),
    current_hours: int = typer.Option(24, help="The current window, ending now."),
    json: bool = JsonOption,
) -> None:
    """Score-distribution drift: PSI of the current window's scores against the baseline's."""
    import os

    url = db or os.environ.get("NETFIN_DATABASE_URL") or "sqlite:///netfin.db"
    now_ns = time.time_ns()
    current_from = now_ns - current_hours * 3_600 * 10**9
    baseline_from = current_from - baseline_days * 86_400 * 10**9
    store = RiskStore(open_engine(url))
    baseline = store.scores(baseline_from, current_from, 1_000_000)
    current = store.scores(current_from, now_ns, 1_000_000)
    value = metrics.psi(np.asarray(baseline), np.asarray(current)) if baseline and current else None
    verdict = (
        "no data"
        if value is None
        else "stable"
        if value < 0.1
        else "moderate shift"
        if value < 0.25
        else "shifted"
    )
    body = {
        "baseline_scores": len(baseline),
        "current_scores": len(current),
        "psi": value,
        "verdict": verdict,
    }
    emit(body) if json else out.print(
        f"PSI {_f(value)} ({verdict}); baseline {len(baseline):,}, current {len(current):,}"
    )
