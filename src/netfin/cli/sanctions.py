"""``netfin sanctions …``: Sanctions and PEP screening: load lists, screen names, rescreen everyone.

``screen`` ranks candidates for one name (or every row of a CSV file) with
their scores and the evidence behind each; ``evaluate`` measures precision
and recall on variants generated from the lists; ``lists`` shows what was
loaded. With ``--json`` each prints exactly one JSON document on stdout;
progress goes to stderr.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.aml.screening.evaluate import evaluate
from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.lists import LoadedList, load_directory
from netfin.aml.screening.model import (
    BirthDate,
    Candidate,
    Decision,
    ListFileInvalid,
    ScreeningSubject,
    load_config,
)
from netfin.cli.common import JsonOption, emit, err, out, refuse
from netfin.core.errors import NetfinError

sanctions_app = typer.Typer(
    help="Sanctions and PEP screening: load lists, screen names, rescreen everyone.", no_args_is_help=True
)
ListsOption = typer.Option(
    None,
    "--lists",
    help="Folder of list files (default: $NETFIN_SANCTIONS_DIR, else ../shared/data/sanctions).",
)
ConfigOption = typer.Option(
    None, "--config", help="Screening configuration YAML (default: the packaged one)."
)
FILE_ROWS_MAX = 100_000
DEFAULT_LISTS_DIR = Path("..") / "shared" / "data" / "sanctions"


def lists_directory(given: Path | None) -> Path:
    """``--lists``, else ``$NETFIN_SANCTIONS_DIR``, else ``../shared/data/sanctions`` where it exists."""
    if given is not None:
        return given
    configured = os.environ.get("NETFIN_SANCTIONS_DIR")
    if configured:
        return Path(configured)
    if DEFAULT_LISTS_DIR.is_dir():
        return DEFAULT_LISTS_DIR
    raise ListFileInvalid(
        "no sanctions lists: give --lists DIR or set NETFIN_SANCTIONS_DIR", code="sanctions_lists_missing"
    )


def _index(lists_dir: Path | None, config: Path | None) -> tuple[ScreeningIndex, list[LoadedList]]:
    loaded = load_directory(lists_directory(lists_dir))
    return ScreeningIndex(loaded, load_config(config)), loaded


def _subject(name: str, dob: str | None, country: str | None) -> ScreeningSubject:
    birth = BirthDate.parse(dob) if dob else None
    return ScreeningSubject(
        name.strip(), birth_date=birth, country=country.strip().upper() if country else None
    )


def _read_subjects(path: Path) -> list[ScreeningSubject]:
    if not path.is_file():
        raise ListFileInvalid(f"no such file: {path}", code="names_file_missing")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "name" not in reader.fieldnames:
            raise ListFileInvalid(
                f"{path.name} needs a header with a 'name' column", code="names_file_invalid"
            )
        subjects: list[ScreeningSubject] = []
        for row in reader:
            if len(subjects) >= FILE_ROWS_MAX:
                raise ListFileInvalid(
                    f"{path.name} has more than {FILE_ROWS_MAX} rows", code="names_file_too_long"
                )
            subjects.append(_subject(row["name"] or "", row.get("dob") or None, row.get("country") or None))
    return subjects


def _result(subject: ScreeningSubject, candidates: list[Candidate]) -> dict[str, Any]:
    decision = candidates[0].decision if candidates else Decision.CLEAR
    return {
        "query": {
            "name": subject.name,
            "dob": str(subject.birth_date) if subject.birth_date else None,
            "country": subject.country,
        },
        "decision": decision.value,
        "candidates": [c.as_dict() for c in candidates],
    }


def _table(result: dict[str, Any]) -> Table:
    query = result["query"]
    extra = ", ".join(f"{k} {v}" for k, v in query.items() if k != "name" and v)
    table = Table(title=f"{query['name']}{f' ({extra})' if extra else ''}: {result['decision']}")
    for column in ("#", "entry", "listed name (as matched)", "score", "decision", "evidence"):
        table.add_column(column, overflow="fold")
    for rank, c in enumerate(result["candidates"], start=1):
        evidence = "\n".join(f"{e['code']} {e['effect']:+.2f}" for e in c["evidence"])
        matched = c["name"] if c["matched_name"] == c["name"] else f"{c['name']}\n({c['matched_name']})"
        table.add_row(
            str(rank),
            f"{c['list_id']}:{c['entry_id']}" + (" (PEP)" if c.get("category") == "pep" else ""),
            matched,
            f"{c['score']:.3f}",
            c["decision"],
            evidence,
        )
    return table


@sanctions_app.command("screen")
def screen_command(
    name: str | None = typer.Argument(None, help="The name to screen."),
    file: Path | None = typer.Option(
        None, "--file", help="CSV with a 'name' column, optional 'dob' and 'country'."
    ),
    dob: str | None = typer.Option(None, "--dob", help="Date of birth: YYYY, YYYY-MM or YYYY-MM-DD."),
    country: str | None = typer.Option(None, "--country", help="ISO 3166 alpha-2 country code."),
    lists: Path | None = ListsOption,
    config: Path | None = ConfigOption,
    limit: int = typer.Option(5, "--limit", min=1, max=50, help="Candidates to show per name."),
    json: bool = JsonOption,
) -> None:
    """Rank the listed candidates for NAME (or each row of --file) with scores and evidence."""
    try:
        if (name is None) == (file is None):
            raise ListFileInvalid("give exactly one of NAME and --file", code="screen_input_invalid")
        subjects = _read_subjects(file) if file is not None else [_subject(name or "", dob, country)]
        index, _ = _index(lists, config)
        results = [_result(s, index.screen(s, limit)) for s in subjects]
    except (NetfinError, OSError, ValueError) as error:
        refuse(error, json)
    if json:
        emit({"list_versions": index.versions, "config_version": index.config.version, "results": results})
        return
    for result in results:
        out.print(_table(result))


@sanctions_app.command("lists")
def lists_command(lists: Path | None = ListsOption, json: bool = JsonOption) -> None:
    """The list files found: entries, names, kinds and version fingerprints."""
    try:
        loaded = load_directory(lists_directory(lists))
    except (NetfinError, OSError) as error:
        refuse(error, json)
    summaries = [item.summary() for item in loaded]
    if json:
        emit({"lists": summaries})
        return
    table = Table(title="sanctions lists")
    for column in ("list", "source", "entries", "names", "kinds", "sha256", "schema deviations"):
        table.add_column(column)
    for s in summaries:
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(s["kinds"].items()))
        table.add_row(
            s["list_id"],
            s["source"],
            f"{s['entries']:,}",
            f"{s['names']:,}",
            kinds,
            s["version"][:16],
            str(len(s["schema_deviations"])),
        )
    out.print(table)


@sanctions_app.command("evaluate")
def evaluate_command(
    lists: Path | None = ListsOption,
    config: Path | None = ConfigOption,
    per_kind: int = typer.Option(400, "--per-kind", min=1, max=20_000, help="Variants per kind."),
    non_matches: int = typer.Option(2000, "--non-matches", min=1, max=100_000, help="True non-matches."),
    seed: int = typer.Option(7, "--seed", help="The same seed gives the same labelled set."),
    json: bool = JsonOption,
) -> None:
    """Precision and recall on variants generated from the lists and on common names not listed."""
    try:
        index, _ = _index(lists, config)
        columns = (TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, disable=json) as progress:
            task = progress.add_task("screening", total=None)
            report = evaluate(
                index,
                seed=seed,
                per_kind=per_kind,
                non_matches=non_matches,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except (NetfinError, OSError) as error:
        refuse(error, json)
    if json:
        emit(report)
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    t = report["thresholds"]
    table = Table(title=f"screening at review {t['review']} (hits at {t['strong']})")
    for column in ("kind", "queries", "recall", "precision", "F1", "hit recall", "wrong entry"):
        table.add_column(column)
    for kind, m in report["per_kind"].items():
        table.add_row(
            kind,
            str(m["queries"]),
            f"{m['recall']:.3f}",
            f"{m['precision']:.3f}",
            f"{m['f1']:.3f}",
            f"{m['hit_recall']:.3f}",
            str(m["wrong_entry_alerts"]),
        )
    o = report["overall"]
    table.add_row(
        "all", str(o["queries"]), f"{o['recall']:.3f}", f"{o['precision']:.3f}", f"{o['f1']:.3f}", "", ""
    )
    out.print(table)
    out.print(
        f"{report['non_matches']} true non-matches, alert rate {report['non_match_alert_rate']:.3f}; "
        f"latency p50 {report['latency_ms']['p50']} ms, p99 {report['latency_ms']['p99']} ms"
    )
