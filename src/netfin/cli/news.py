"""``netfin news …``: news and social-media early warning: ingest, score sentiment, raise warnings.

Every command that scripts read takes ``--json`` and then prints exactly one
JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.aml.news import Entity, EntityKind, NewsService, NewsStore, WarningStatus
from netfin.aml.news.early_warning import load_config
from netfin.aml.news.evaluation import (
    PHRASEBANK_LEVELS,
    Report,
    evaluate_scorer,
    load_finfe,
    load_phrasebank,
    report,
)
from netfin.aml.news.ingest import fetch_feed, read_file
from netfin.aml.news.model import SentimentLabel
from netfin.aml.news.sentiment import default_scorer
from netfin.aml.news.supervised import read_labelled, train_scorer
from netfin.audit import AuditLog
from netfin.cli.common import DbOption, JsonOption, emit, err, out, refuse
from netfin.core.clock import SystemClock, iso_from_ns
from netfin.core.errors import NetfinError
from netfin.core.ids import Uuid7Ids
from netfin.identity.model import Actor
from netfin.storage import open_engine

news_app = typer.Typer(
    help="News and social-media early warning: ingest, score sentiment, raise warnings.", no_args_is_help=True
)
ConfigOption = typer.Option(None, "--config", help="Early-warning YAML (default: the packaged one).")
DATA_DIR_DEFAULT = Path("..") / "shared" / "data" / "sentiment"
CLI_ACTOR = Actor.system("netfin-cli")
ENTITY_FILE_BYTES_MAX = 64 * 1024 * 1024


@contextmanager
def _service(db: str | None, config: Path | None) -> Iterator[NewsService]:
    url = db or os.environ.get("NETFIN_DATABASE_URL") or "sqlite:///netfin.db"
    engine = open_engine(url)
    clock = SystemClock()
    audit = AuditLog(engine, clock=clock, ids=Uuid7Ids())
    try:
        yield NewsService(
            NewsStore(engine), clock=clock, ids=Uuid7Ids(), audit=audit, config=load_config(config)
        )
    finally:
        audit.close()
        engine.dispose()


def read_entities(path: Path) -> list[Entity]:
    """Watched entities from CSV (entity_id, kind, names joined by ``|``) or JSON Lines."""
    if path.stat().st_size > ENTITY_FILE_BYTES_MAX:
        raise ValueError(f"{path} is larger than {ENTITY_FILE_BYTES_MAX} bytes")
    content = path.read_bytes().decode("utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = [orjson.loads(line) for line in content.splitlines() if line.strip()]
        return [Entity(str(r["entity_id"]), EntityKind(r["kind"]), tuple(r["names"])) for r in rows]
    return [
        Entity(
            r["entity_id"],
            EntityKind(r["kind"]),
            tuple(n.strip() for n in r["names"].split("|") if n.strip()),
        )
        for r in csv.DictReader(io.StringIO(content, newline=""))
    ]


def _warning_json(w: Any) -> dict[str, Any]:
    return {
        "warning_id": w.warning_id, "entity_id": w.entity_id, "entity_kind": w.entity_kind.value,
        "raised_at": iso_from_ns(w.raised_ns), "baseline": w.baseline, "recent": w.recent, "drop": w.drop,
        "recent_items": w.recent_items, "baseline_items": w.baseline_items, "item_ids": list(w.item_ids),
        "status": w.status.value, "config_version": w.config_version,
    }  # fmt: skip


@news_app.command("watch")
def watch_command(
    entities: Path = typer.Option(..., "--entities", help="CSV (entity_id,kind,names with |) or JSONL."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Replace the watch list of customers and counterparties."""
    try:
        loaded = read_entities(entities)
        with _service(db, None) as service:
            count = service.watch(loaded, CLI_ACTOR)
    except (NetfinError, OSError, ValueError, KeyError) as error:
        refuse(error, json)
    emit({"watched": count}) if json else out.print(f"watching {count} entities")


@news_app.command("ingest")
def ingest_command(
    file: Path | None = typer.Option(None, "--file", help="JSONL, CSV, JSON Feed, RSS or Atom file."),
    url: str | None = typer.Option(None, "--url", help="An RSS, Atom or JSON feed over HTTP(S)."),
    entities: Path | None = typer.Option(None, "--entities", help="Replace the watch list first."),
    db: str | None = DbOption,
    config: Path | None = ConfigOption,
    json: bool = JsonOption,
) -> None:
    """Score, store and link news; raise warnings where an entity's tone turns sharply negative."""
    try:
        if (file is None) == (url is None):
            raise ValueError("give exactly one of --file and --url")
        items = read_file(file) if file is not None else fetch_feed(str(url))
        with _service(db, config) as service:
            if entities is not None:
                service.watch(read_entities(entities), CLI_ACTOR)
            result = service.ingest(items, CLI_ACTOR)
    except (NetfinError, OSError, ValueError, KeyError) as error:
        refuse(error, json)
    body = {
        "received": result.received, "stored": result.stored, "duplicates": result.duplicates,
        "mentions": result.mentions, "negative_items": result.negative_items,
        "warnings": [_warning_json(w) for w in result.warnings],
    }  # fmt: skip
    if json:
        emit(body)
        return
    out.print(f"{result.stored} stored, {result.duplicates} duplicates, {result.mentions} mentions, "
              f"{len(result.warnings)} warnings")  # fmt: skip
    _print_warnings(result.warnings)


def _print_warnings(warnings: Any) -> None:
    if not warnings:
        return
    view = Table("warning", "entity", "raised", "baseline", "recent", "drop", "items", "status")
    for w in warnings:
        view.add_row(w.warning_id, w.entity_id, iso_from_ns(w.raised_ns), f"{w.baseline:+.2f}",
                     f"{w.recent:+.2f}", f"{w.drop:.2f}", str(w.recent_items), w.status.value)  # fmt: skip
    out.print(view)


@news_app.command("warnings")
def warnings_command(
    all_statuses: bool = typer.Option(False, "--all", help="Acknowledged warnings too."),
    limit: int = typer.Option(100, min=1, max=1_000),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Warnings, newest first (open ones unless --all)."""
    try:
        with _service(db, None) as service:
            found = service.warnings(
                CLI_ACTOR, status=None if all_statuses else WarningStatus.OPEN, limit=limit
            )
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit({"warnings": [_warning_json(w) for w in found]})
    elif found:
        _print_warnings(found)
    else:
        out.print("no warnings")


@news_app.command("acknowledge")
def acknowledge_command(
    warning_id: str,
    analyst: str = typer.Option(..., "--by", help="The risk analyst acknowledging it."),
    note: str = typer.Option("", "--note", max=500),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Mark a warning as reviewed by a risk analyst."""
    try:
        with _service(db, None) as service:
            done = service.acknowledge(warning_id, Actor("risk_analyst", analyst), note)
    except NetfinError as error:
        refuse(error, json)
    emit(_warning_json(done)) if json else out.print(f"{done.warning_id} {done.status.value}")


@news_app.command("score")
def score_command(text: str, json: bool = JsonOption) -> None:
    """The sentiment of one headline or post (English or Chinese)."""
    try:
        score = default_scorer().score(text)
    except NetfinError as error:
        refuse(error, json)
    body = {"value": round(score.value, 4), "label": score.label.value, "scorer": score.scorer,
            "version": score.version, "evidence": list(score.evidence)}  # fmt: skip
    emit(body) if json else out.print(f"{score.label.value} {score.value:+.3f} ({', '.join(score.evidence)})")


def _progress(json: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, disable=json, transient=True)  # fmt: skip


def evaluate_datasets(data_dir: Path, json: bool) -> dict[str, Report]:
    """The default scorer on every Financial PhraseBank level and on FinFE's eval split."""
    scorer = default_scorer()
    reports: dict[str, Report] = {}
    sets: list[tuple[str, list[str], list[SentimentLabel], int]] = []
    for level in PHRASEBANK_LEVELS:
        texts, labels, skipped = load_phrasebank(
            data_dir / "financial_phrasebank_v1.0" / f"Sentences_{level}Agree.txt"
        )
        sets.append((f"phrasebank_{level.lower()}agree", texts, labels, skipped))
    texts, labels = load_finfe(data_dir / "zh_bbt_fincuge_finfe" / "finfe_eval.json")
    sets.append(("finfe_eval", texts, labels, 0))
    with _progress(json) as bar:
        for name, texts, labels, skipped in sets:
            task = bar.add_task(name, total=len(texts))

            def advance(done: int, task: TaskID = task) -> None:
                bar.update(task, completed=done)

            reports[name] = evaluate_scorer(scorer, texts, labels, progress=advance, skipped=skipped)
    return reports


@news_app.command("evaluate")
def evaluate_command(
    data_dir: Path = typer.Option(DATA_DIR_DEFAULT, "--data-dir", help="Folder holding the labelled sets."),
    json: bool = JsonOption,
) -> None:
    """Accuracy, macro-F1 and per-class precision/recall on Financial PhraseBank and FinFE."""
    try:
        reports = evaluate_datasets(data_dir, json)
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit({"scorer": default_scorer().version, "datasets": {k: r.to_json() for k, r in reports.items()}})
        return
    view = Table("dataset", "rows", "accuracy", "macro-F1", "P/R negative", "P/R neutral", "P/R positive")
    for name, r in reports.items():
        pr = [f"{c.precision:.2f}/{c.recall:.2f}" for c in r.classes]
        view.add_row(name, str(r.rows), f"{r.accuracy:.3f}", f"{r.macro_f1:.3f}", *pr)
    out.print(view)


@news_app.command("train")
def train_command(
    data: Path = typer.Option(..., "--data", help="Labelled CSV (text,label) or JSONL."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the scorer's JSON artefact."),
    language: str = typer.Option("en", "--language", help="en (word n-grams) or zh (character n-grams)."),
    holdout: float = typer.Option(0.2, min=0.05, max=0.5, help="Share held out to measure the scorer."),
    seed: int = typer.Option(7),
    json: bool = JsonOption,
) -> None:
    """Train a TF-IDF + logistic-regression scorer on your own labelled rows; report held-out metrics."""
    try:
        texts, labels = read_labelled(data)
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)  # noqa: S311 - a reproducible split, not a secret
        cut = int(len(order) * (1 - holdout))
        train, test = order[:cut], order[cut:]
        scorer = train_scorer(
            [texts[i] for i in train], [labels[i] for i in train], language=language, seed=seed
        )
        names = [SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE]
        held = report([names[labels[i]] for i in test], [scorer.score(texts[i]).label for i in test])
        path = scorer.save(out_dir)
    except (NetfinError, OSError) as error:
        refuse(error, json)
    body = {"path": str(path), "version": scorer.version, "train_rows": len(train), "holdout": held.to_json()}
    emit(body) if json else out.print(f"saved {path}: held-out accuracy {held.accuracy:.3f}, "
                                       f"macro-F1 {held.macro_f1:.3f} on {held.rows} rows")  # fmt: skip
