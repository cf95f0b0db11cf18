"""Evaluate the news sentiment scorers on Financial PhraseBank and FinFE; print a Markdown table.

Run from the repository root (the data lives in ../shared/data/sentiment):

    .venv/bin/python benchmarks/news_sentiment_evaluation.py [--json]

Rows: the majority class; the Loughran-McDonald lists alone; the packaged
English scorer (LM + directional phrases + negation); the packaged Chinese
scorer (jieba + lexicon); snownlp's shipped model; and, for reference only,
a TF-IDF + logistic-regression scorer trained here on each set's own
training part (PhraseBank: a seeded 80/20 split of each agreement level;
FinFE: its train split, measured on its eval split). No trained model is
kept: the sets' licences forbid shipping one.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

from netfin.aml.news.evaluation import (
    PHRASEBANK_LEVELS,
    Report,
    evaluate_scorer,
    load_finfe,
    load_phrasebank,
    report,
)
from netfin.aml.news.model import SentimentLabel
from netfin.aml.news.sentiment import ChineseLexiconScorer, LoughranMcDonaldScorer, SnowNlpScorer
from netfin.aml.news.supervised import train_scorer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"
INDEX = {SentimentLabel.NEGATIVE: 0, SentimentLabel.NEUTRAL: 1, SentimentLabel.POSITIVE: 2}


def _majority(labels: list[SentimentLabel]) -> Report:
    top = Counter(labels).most_common(1)[0][0]
    return report(labels, [top] * len(labels))


def _split(texts: list[str], labels: list[SentimentLabel], seed: int = 7) -> tuple[list[int], list[int]]:
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * 0.8)
    return order[:cut], order[cut:]


def _supervised(train: tuple[list[str], list[SentimentLabel]], test: tuple[list[str], list[SentimentLabel]],
                language: str) -> Report:  # fmt: skip
    scorer = train_scorer(train[0], [INDEX[y] for y in train[1]], language=language)
    return evaluate_scorer(scorer, test[0], test[1])


def phrasebank_rows() -> list[tuple[str, str, Report]]:
    rows = []
    plain, directional = LoughranMcDonaldScorer(directions=False), LoughranMcDonaldScorer()
    for level in PHRASEBANK_LEVELS:
        texts, labels, _ = load_phrasebank(DATA / "financial_phrasebank_v1.0" / f"Sentences_{level}Agree.txt")
        name = f"PhraseBank {level}Agree"
        rows.append((name, "majority class (neutral)", _majority(labels)))
        rows.append((name, "LM lists only", evaluate_scorer(plain, texts, labels)))
        rows.append(
            (name, "lm_en (default: LM + directions + negation)", evaluate_scorer(directional, texts, labels))
        )
        train, test = _split(texts, labels)
        rows.append(
            (
                f"{name} (20 % held out)",
                "lm_en (default)",
                evaluate_scorer(directional, [texts[i] for i in test], [labels[i] for i in test]),
            )
        )
        rows.append((f"{name} (20 % held out)", "TF-IDF + LR trained on the other 80 %",
                     _supervised(([texts[i] for i in train], [labels[i] for i in train]),
                                 ([texts[i] for i in test], [labels[i] for i in test]), "en")))  # fmt: skip
    return rows


def finfe_rows() -> list[tuple[str, str, Report]]:
    train = load_finfe(DATA / "zh_bbt_fincuge_finfe" / "finfe_train.json")
    texts, labels = load_finfe(DATA / "zh_bbt_fincuge_finfe" / "finfe_eval.json")
    return [
        ("FinFE eval", "majority class (positive)", _majority(labels)),
        (
            "FinFE eval",
            "lexicon_zh (default: jieba + lexicon)",
            evaluate_scorer(ChineseLexiconScorer(), texts, labels),
        ),
        ("FinFE eval", "snownlp shipped model", evaluate_scorer(SnowNlpScorer(), texts, labels)),
        ("FinFE eval", "TF-IDF + LR trained on FinFE train", _supervised(train, (texts, labels), "zh")),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.stderr.write(f"no data at {DATA}\n")
        return 2
    started = time.perf_counter()
    rows = phrasebank_rows() + finfe_rows()
    if args.json:
        sys.stdout.write(orjson.dumps([{"dataset": d, "scorer": s, **r.to_json()} for d, s, r in rows],
                                      option=orjson.OPT_INDENT_2).decode() + "\n")  # fmt: skip
        return 0
    lines = ["| dataset | scorer | rows | accuracy | macro-F1 | P/R negative | P/R neutral | P/R positive |",
             "|---|---|---:|---:|---:|---|---|---|"]  # fmt: skip
    for dataset, scorer, r in rows:
        pr = " | ".join(f"{c.precision:.2f} / {c.recall:.2f}" for c in r.classes)
        lines.append(f"| {dataset} | {scorer} | {r.rows} | {r.accuracy:.3f} | {r.macro_f1:.3f} | {pr} |")
    sys.stdout.write("\n".join(lines) + f"\n\n({time.perf_counter() - started:.0f} s)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
