"""Measure a scorer on labelled sentences: accuracy, macro-F1 and per-class precision and recall.

Readers for the two public sets the documentation reports on (the data
itself never ships; its licences forbid it):

- Financial PhraseBank v1.0 (Malo et al. 2014): ``sentence@label`` lines in
  ISO-8859-1, four files by annotator agreement (50, 66, 75 and 100 %);
- FinFE from BBT-FinCUGE (Lu et al. 2023): a JSON list of ``[text, label]``
  with 0 = negative, 1 = neutral, 2 = positive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from netfin.aml.news.errors import FeedInvalid
from netfin.aml.news.model import SentimentLabel
from netfin.aml.news.sentiment import Scorer

LABELS = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
PHRASEBANK_LEVELS = ("50", "66", "75", "All")


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    rows: int
    accuracy: float
    macro_f1: float
    classes: tuple[ClassMetrics, ...]
    skipped: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "skipped": self.skipped,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "classes": {
                c.label: {"precision": round(c.precision, 4), "recall": round(c.recall, 4),
                          "f1": round(c.f1, 4), "support": c.support}
                for c in self.classes
            },
        }  # fmt: skip


def report(truth: Sequence[SentimentLabel], predicted: Sequence[SentimentLabel], skipped: int = 0) -> Report:
    """Accuracy, macro-F1 over the three classes, and each class's precision, recall and F1."""
    if len(truth) != len(predicted) or not truth:
        raise FeedInvalid("truth and predictions must be non-empty and of one length")
    classes = []
    for label in LABELS:
        hits = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == label)
        said = sum(1 for p in predicted if p == label)
        real = sum(1 for t in truth if t == label)
        precision = hits / said if said else 0.0
        recall = hits / real if real else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        classes.append(ClassMetrics(label.value, precision, recall, f1, real))
    accuracy = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / len(truth)
    return Report(len(truth), accuracy, sum(c.f1 for c in classes) / len(classes), tuple(classes), skipped)


def evaluate_scorer(
    scorer: Scorer,
    texts: Sequence[str],
    truth: Sequence[SentimentLabel],
    progress: Callable[[int], None] | None = None,
    skipped: int = 0,
) -> Report:
    predicted = []
    for done, text in enumerate(texts, start=1):
        predicted.append(scorer.score(text).label)
        if progress is not None and done % 200 == 0:
            progress(done)
    if progress is not None:
        progress(len(texts))
    return report(truth, predicted, skipped)


def load_phrasebank(path: Path | str) -> tuple[list[str], list[SentimentLabel], int]:
    """Sentences, labels and the count of lines that carry no valid label (a few wrapped lines)."""
    texts: list[str] = []
    labels: list[SentimentLabel] = []
    skipped = 0
    try:
        lines = Path(path).read_text(encoding="iso-8859-1").splitlines()
    except OSError as error:
        raise FeedInvalid(f"cannot read {path}: {error.strerror}") from error
    for line in lines:
        sentence, _, label = line.strip().rpartition("@")
        if label in ("negative", "neutral", "positive") and sentence:
            texts.append(sentence)
            labels.append(SentimentLabel(label))
        elif line.strip():
            skipped += 1
    return texts, labels, skipped


def load_finfe(path: Path | str) -> tuple[list[str], list[SentimentLabel]]:
    try:
        rows = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise FeedInvalid(f"cannot read {path}: {error}") from error
    texts: list[str] = []
    labels: list[SentimentLabel] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str) and row[1] in (0, 1, 2)):
            raise FeedInvalid(f"{path}: each row must be [text, 0|1|2]")
        texts.append(row[0])
        labels.append(LABELS[row[1]])
    return texts, labels
