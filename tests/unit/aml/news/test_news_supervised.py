"""A scorer trained on the caller's labelled rows: learns, saves as JSON, loads back the same."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from netfin.aml.news.errors import FeedInvalid, ScorerArtefactInvalid
from netfin.aml.news.model import SentimentLabel
from netfin.aml.news.supervised import ARTEFACT_FILE, load_scorer, read_labelled, train_scorer

WORDS = {
    0: ["plunged", "default", "fraud", "collapse", "downgrade", "lawsuit"],
    1: ["meeting", "appointed", "located", "announced", "scheduled", "office"],
    2: ["soared", "record", "upgrade", "beat", "surged", "award"],
}
FILLER = ["the", "company", "said", "on", "monday", "group", "its", "unit", "shares"]


def _rows(count: int, seed: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(count):
        label = i % 3
        words = rng.sample(FILLER, 4) + rng.sample(WORDS[label], 2)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def test_trains_saves_and_loads_the_same_scorer(tmp_path: Path) -> None:
    texts, labels = _rows(120, 1)
    scorer = train_scorer(texts, labels, language="en")
    held_out, truth = _rows(30, 2)
    names = [SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE]
    right = sum(scorer.score(t).label is names[y] for t, y in zip(held_out, truth, strict=True))
    assert right >= 27
    path = scorer.save(tmp_path / "model")
    assert json.loads(path.read_text())["format"] == "netfin-news-tfidf-1"
    loaded = load_scorer(tmp_path / "model")
    for text in held_out:
        assert loaded.score(text) == scorer.score(text)
    assert loaded.version == scorer.version and loaded.trained_on["rows"] == 120


def test_chinese_uses_character_ngrams() -> None:
    texts = ["股价涨停利好", "业绩大增看好", "公司召开会议", "董事会公告", "股价跌停利空", "被立案调查"] * 10
    labels = [2, 2, 1, 1, 0, 0] * 10
    scorer = train_scorer(texts, labels, language="zh")
    assert scorer.score("今天又涨停了").label is SentimentLabel.POSITIVE
    assert scorer.score("又跌停了").label is SentimentLabel.NEGATIVE


def test_refuses_too_little_or_one_sided_data() -> None:
    with pytest.raises(FeedInvalid):
        train_scorer(["a"] * 5, [0] * 5, language="en")
    with pytest.raises(FeedInvalid):
        train_scorer(["a b"] * 60, [0, 2] * 30, language="en")


def test_refuses_a_foreign_artefact(tmp_path: Path) -> None:
    (tmp_path / ARTEFACT_FILE).write_text('{"format": "pickle"}')
    with pytest.raises(ScorerArtefactInvalid):
        load_scorer(tmp_path)
    with pytest.raises(ScorerArtefactInvalid):
        load_scorer(tmp_path / "missing")


def test_reads_labelled_csv_and_jsonl(tmp_path: Path) -> None:
    table = tmp_path / "l.csv"
    table.write_text("text,label\nprofit rose,positive\nloss,NEGATIVE\nmeeting,0\n")
    assert read_labelled(table) == (["profit rose", "loss", "meeting"], [2, 0, 1])
    lines = tmp_path / "l.jsonl"
    lines.write_text('{"text": "x", "label": "bad"}\n')
    with pytest.raises(FeedInvalid, match="row 1"):
        read_labelled(lines)
