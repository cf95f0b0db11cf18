"""``netfin news`` as an analyst scripts it: watch, ingest, warnings, acknowledge, score, train, evaluate."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import typer
from shared_data import skip_unless
from typer.testing import CliRunner

from netfin.cli.news import news_app

runner = CliRunner()
app = typer.Typer()
app.add_typer(news_app, name="news")
SENTIMENT = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment"


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["news", *args])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


def _news(path: Path) -> Path:
    lines = [
        {"title": f"平安银行业绩大增，股价涨停 {i}", "published": f"2025-12-{10 + i:02d}T08:00:00+08:00"}
        for i in range(5)
    ] + [
        {"title": f"平安银行被立案调查，股价跌停 {i}", "published": f"2025-12-20T0{i}:00:00+08:00"}
        for i in range(3)
    ]
    path.write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8"
    )
    return path


def test_watch_ingest_warn_acknowledge(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'news.db'}"
    entities = tmp_path / "entities.csv"
    entities.write_text(
        "entity_id,kind,names\ncust-1,customer,平安银行股份有限公司|平安银行\n", encoding="utf-8"
    )
    code, body = _run("watch", "--entities", str(entities), "--db", db, "--json")
    assert (code, body) == (0, {"watched": 1})
    code, body = _run("ingest", "--file", str(_news(tmp_path / "news.jsonl")), "--db", db, "--json")
    assert code == 0, body
    assert (body["stored"], body["mentions"], len(body["warnings"])) == (8, 8, 1)
    warning = body["warnings"][0]
    assert warning["entity_id"] == "cust-1" and warning["recent_items"] == 3 and warning["drop"] >= 0.4
    code, again = _run("ingest", "--file", str(tmp_path / "news.jsonl"), "--db", db, "--json")
    assert (code, again["stored"], again["duplicates"], again["warnings"]) == (0, 0, 8, [])
    code, listed = _run("warnings", "--db", db, "--json")
    assert [w["warning_id"] for w in listed["warnings"]] == [warning["warning_id"]]
    code, done = _run("acknowledge", warning["warning_id"], "--by", "analyst-7", "--db", db, "--json")
    assert code == 0 and done["status"] == "acknowledged"
    code, refused = _run("acknowledge", warning["warning_id"], "--by", "analyst-7", "--db", db, "--json")
    assert code == 2 and refused["error"] == "news_warning_not_open"
    assert _run("warnings", "--db", db, "--json")[1] == {"warnings": []}


def test_ingest_refuses_bad_arguments(tmp_path: Path) -> None:
    code, body = _run("ingest", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--json")
    assert code == 2 and "exactly one" in body["message"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    code, body = _run("ingest", "--file", str(bad), "--db", f"sqlite:///{tmp_path / 'x.db'}", "--json")
    assert code == 2 and body["error"] == "news_feed_invalid"


def test_score_both_languages() -> None:
    code, body = _run("score", "Operating profit fell and the company warned of losses", "--json")
    assert code == 0 and body["label"] == "negative" and body["scorer"] == "lm_en"
    code, body = _run("score", "业绩预增，涨停！", "--json")
    assert code == 0 and body["label"] == "positive" and body["scorer"] == "lexicon_zh"


def test_train_reports_held_out_metrics(tmp_path: Path) -> None:
    rng = random.Random(3)
    words = {"negative": ["plunged", "fraud", "default"], "neutral": ["meeting", "office", "appointed"],
             "positive": ["soared", "record", "beat"]}  # fmt: skip
    rows = ["text,label"]
    for i in range(150):
        label = list(words)[i % 3]
        rows.append(f"the company {' '.join(rng.sample(words[label], 2))} today,{label}")
    data = tmp_path / "labelled.csv"
    data.write_text("\n".join(rows) + "\n")
    code, body = _run("train", "--data", str(data), "--out", str(tmp_path / "model"), "--json")
    assert code == 0, body
    assert body["train_rows"] == 120 and body["holdout"]["rows"] == 30 and body["holdout"]["accuracy"] > 0.9
    assert Path(body["path"]).is_file()


@pytest.mark.slow
@skip_unless(SENTIMENT.is_dir(), "../shared/data/sentiment is absent")
def test_evaluate_on_the_shared_data() -> None:
    code, body = _run("evaluate", "--data-dir", str(SENTIMENT), "--json")
    assert code == 0, body
    datasets = body["datasets"]
    assert set(datasets) == {"phrasebank_50agree", "phrasebank_66agree", "phrasebank_75agree",
                             "phrasebank_allagree", "finfe_eval"}  # fmt: skip
    assert datasets["phrasebank_allagree"]["rows"] == 2263 and datasets["finfe_eval"]["rows"] == 2020
    assert datasets["phrasebank_allagree"]["accuracy"] > 0.75
    assert set(datasets["finfe_eval"]["classes"]) == {"negative", "neutral", "positive"}
