"""``netfin credit …``: credit scorecards trained on the lender's own data.

``netfin credit scorecard --data FILE --target COLUMN`` bins, selects and
fits a points scorecard (``netfin.credit.scorecard``), measures it on a
held-out sample (``netfin.credit.report``) and can save it as a versioned,
hash-checked artefact. With ``--json`` it prints exactly one JSON document on
stdout; progress goes to stderr.
"""

from __future__ import annotations

import getpass
import os
from datetime import date
from pathlib import Path
from typing import Any, cast

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.bank import Bank, BankSettings
from netfin.cli.common import DbOption, JsonOption, emit, err, out, refuse
from netfin.core.errors import InvalidInput, NetfinError
from netfin.credit.report import render_report
from netfin.credit.scorecard import (
    DATA_FORMATS,
    STATLOG_GERMAN_CATEGORICAL,
    STATLOG_GERMAN_LABEL,
    BinningOptions,
    DataFormat,
    ScorecardModel,
    ScorecardSpec,
    read_frame,
    save_scorecard,
    train_scorecard,
)
from netfin.identity.model import Actor

credit_app = typer.Typer(help="Credit: scorecards, the loan book and its servicing.", no_args_is_help=True)


@credit_app.callback()
def credit() -> None:
    """Credit: scorecards and their evaluation."""


def _names(values: list[str] | None) -> tuple[str, ...]:
    """Column names from repeated options, each of which may also hold a comma-separated list."""
    return tuple(name.strip() for value in values or () for name in value.split(",") if name.strip())


def _spec(
    data_format: str, target: str | None, categorical: tuple[str, ...], **options: Any
) -> ScorecardSpec:
    if data_format == "statlog-german":
        categorical = (*STATLOG_GERMAN_CATEGORICAL, *categorical)
        target = target or STATLOG_GERMAN_LABEL
    if not target:
        raise InvalidInput("give --target, the 0/1 default column", code="scorecard_unknown_target")
    binning = BinningOptions(max_n_bins=options.pop("max_n_bins"), min_bin_size=options.pop("min_bin_size"))
    return ScorecardSpec(target=target, categorical=categorical, binning=binning, **options)


def _points_table(model: ScorecardModel) -> Table:
    table = Table(title="points table")
    for column in ("feature", "bin", "count", "default rate", "WoE", "points"):
        table.add_column(column, justify="left" if column in ("feature", "bin") else "right")
    for row in model.points_table():
        if row["kind"] in ("special", "missing", "unknown") and row["count"] == 0:
            continue
        rate = "-" if row["default_rate"] is None else f"{row['default_rate']:.3f}"
        table.add_row(
            row["feature"], row["bin"], f"{row['count']:,}", rate, f"{row['woe']:.3f}", str(row["points"])
        )
    return table


def _body(model: ScorecardModel, path: Path | None) -> dict[str, Any]:
    metadata = model.metadata
    return {
        "version": model.version,
        "path": None if path is None else str(path),
        "features": list(model.feature_names),
        "split": metadata["split"],
        "seconds": metadata["seconds"],
        "candidates": metadata["candidates"],
        "evaluation": metadata["evaluation"],
        "scale": {"pdo": model.pdo, "base_score": model.base_score, "base_odds": model.base_odds},
        "points": model.points_table(),
    }


def _show(model: ScorecardModel, path: Path | None, points: bool) -> None:
    split, seconds = model.metadata["split"], model.metadata["seconds"]["fit"]
    out.print(
        f"scorecard {model.version}: {len(model.features)} features kept, trained on "
        f"{split['train_rows']:,} rows ({split['method']} split), measured on {split['test_rows']:,}; "
        f"fit {seconds} s"
    )
    if model.report is not None:
        out.print(render_report(model.report, title="test sample (PSI against the training sample)"))
    if points:
        out.print(_points_table(model))
    if path is not None:
        out.print(f"saved -> {path}")


@credit_app.command("scorecard")
def scorecard_command(
    data: Path = typer.Option(
        ..., "--data", help="CSV, Parquet or Statlog German file with one row per loan."
    ),
    target: str | None = typer.Option(
        None, "--target", help="The 0/1 column, 1 = default (statlog-german: 'label')."
    ),
    id_column: str | None = typer.Option(None, "--id", help="An identifier column, never a feature."),
    categorical: list[str] | None = typer.Option(
        None, "--categorical", help="A categorical column (repeat, or separate with commas)."
    ),
    exclude: list[str] | None = typer.Option(
        None, "--exclude", help="A column to leave out (repeat, or separate with commas)."
    ),
    data_format: str = typer.Option(
        "auto", "--format", help=f"{', '.join(DATA_FORMATS)}; auto reads .parquet as Parquet, else CSV."
    ),
    pdo: float = typer.Option(20.0, "--pdo", help="Points to double the odds."),
    base_score: float = typer.Option(600.0, "--base-score", help="Score at the base odds."),
    base_odds: float = typer.Option(50.0, "--base-odds", help="Good:bad odds at the base score."),
    test_size: float = typer.Option(0.3, "--test-size", help="Share of rows held out for the evaluation."),
    split_column: str | None = typer.Option(
        None,
        "--split-column",
        help="An ordered column (date, period): the latest rows become the test sample.",
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the stratified split."),
    iv_min: float = typer.Option(0.02, "--iv-min", help="Drop features with a lower information value."),
    iv_max: float | None = typer.Option(
        None, "--iv-max", help="Drop features with a higher information value."
    ),
    max_n_bins: int = typer.Option(10, "--max-bins", help="At most this many bins per feature."),
    min_bin_size: float = typer.Option(0.05, "--min-bin-size", help="Each bin holds at least this share."),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Save the scorecard artefact under this directory."
    ),
    points: bool = typer.Option(False, "--points", help="Also print the points table."),
    json: bool = JsonOption,
) -> None:
    """Train a points scorecard on labelled loans and measure it on a held-out sample."""
    try:
        if data_format not in DATA_FORMATS:
            raise InvalidInput(
                f"--format must be one of {', '.join(DATA_FORMATS)}", code="scorecard_data_format"
            )
        spec = _spec(
            data_format, target, _names(categorical), id_column=id_column, exclude=_names(exclude), pdo=pdo,
            base_score=base_score, base_odds=base_odds, test_size=test_size, split_column=split_column,
            iv_min=iv_min, iv_max=iv_max, max_n_bins=max_n_bins, min_bin_size=min_bin_size,
        )  # fmt: skip
        progress = Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=err, disable=json)
        with progress:
            task = progress.add_task(f"reading {data.name}", total=None)
            frame = read_frame(data, data_format=cast(DataFormat, data_format))
            model = train_scorecard(
                frame, spec, seed=seed, progress=lambda stage: progress.update(task, description=stage)
            )
            path = None
            if out_dir is not None:
                progress.update(task, description="saving the artefact")
                path = save_scorecard(model, out_dir)
    except (NetfinError, OSError) as error:
        refuse(error, json)
    if json:
        emit(_body(model, path))
    else:
        _show(model, path, points)


def _open_bank(db: str | None, json: bool) -> Bank:
    try:
        return Bank(BankSettings.from_env(os.environ, **({"database_url": db} if db else {})))
    except NetfinError as error:
        refuse(error, json)


@credit_app.command("book")
def book_command(db: str | None = DbOption, json: bool = JsonOption) -> None:
    """The loan book by status and delinquency bucket (current, M1, M2, M3+)."""
    with _open_bank(db, json) as bank:
        totals = bank.loans.book_totals()
    if json:
        emit({"loans": totals})
        return
    table = Table(title="loans by status and bucket")
    for column in ("status", "bucket", "loans"):
        table.add_column(column)
    for status, buckets in sorted(totals.items()):
        for bucket, count in sorted(buckets.items()):
            table.add_row(status, bucket, f"{count:,}")
    out.print(table)


@credit_app.command("service")
def service_command(
    db: str | None = DbOption,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Service to this day (YYYY-MM-DD; default today)."
    ),
    json: bool = JsonOption,
) -> None:
    """Book what fell due and the penalties on every active loan, and bring each bucket up to date."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        refuse(InvalidInput(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)", code="date_invalid"), json)
    with _open_bank(db, json) as bank:
        try:
            counts = bank.loans.service_due(Actor("operator", f"cli:{getpass.getuser()}"), day)
        except NetfinError as error:
            refuse(error, json)
    if json:
        emit({"serviced_by_bucket": counts})
    else:
        out.print(f"serviced {sum(counts.values()):,} loan(s): {counts or 'none due'}")
