"""A sentiment scorer a bank trains on its own labelled sentences: TF-IDF and logistic regression.

Nothing trained ships with the package: the public labelled sets (Financial
PhraseBank, FinFE) do not allow it. ``train_scorer`` fits on the caller's
rows; ``save`` writes a plain JSON artefact (vocabulary, idf weights,
coefficients, a digest of the training rows), never a pickle, so loading
an artefact runs no code from it. English uses word unigrams and bigrams;
Chinese uses character n-grams (1 to 3), which need no segmenter.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from netfin.aml.news.errors import FeedInvalid, NewsLimitExceeded, ScorerArtefactInvalid
from netfin.aml.news.model import EVIDENCE_WORDS_MAX, SentimentLabel, SentimentScore
from netfin.aml.news.sentiment import SCORE_TEXT_LENGTH_MAX

ARTEFACT_FORMAT = "netfin-news-tfidf-1"
ARTEFACT_FILE = "scorer.json"
ARTEFACT_BYTES_MAX = 256 * 1024 * 1024
TRAIN_ROWS_MAX = 2_000_000
TRAIN_ROWS_MIN = 30
FEATURES_MAX = 100_000
LABELS = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
_LABEL_NAMES = {"negative": 0, "neutral": 1, "positive": 2, "-1": 0, "0": 1, "1": 2}


def _vectorizer_params(language: str) -> dict[str, Any]:
    if language == "zh":
        return {"analyzer": "char", "ngram_range": [1, 3], "min_df": 2, "sublinear_tf": True,
                "max_features": FEATURES_MAX}  # fmt: skip
    return {"analyzer": "word", "ngram_range": [1, 2], "min_df": 1, "sublinear_tf": True,
            "lowercase": True, "max_features": FEATURES_MAX}  # fmt: skip


class TfidfScorer:
    """A trained TF-IDF + logistic-regression scorer; value = P(positive) - P(negative)."""

    name = "tfidf_lr"

    def __init__(
        self, vectorizer: Any, model: Any, *, language: str, version: str, trained_on: dict[str, Any]
    ):
        self.vectorizer = vectorizer
        self.model = model
        self.language = language
        self.version = version
        self.trained_on = trained_on

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Rows of [P(negative), P(neutral), P(positive)]."""
        return np.asarray(self.model.predict_proba(self.vectorizer.transform(list(texts))))

    def score(self, text: str) -> SentimentScore:
        if len(text) > SCORE_TEXT_LENGTH_MAX:
            raise NewsLimitExceeded(f"text is longer than {SCORE_TEXT_LENGTH_MAX} characters")
        negative, neutral, positive = (float(p) for p in self.probabilities([text])[0])
        label = LABELS[int(np.argmax([negative, neutral, positive]))]
        value = max(-1.0, min(1.0, positive - negative))
        return SentimentScore(value, label, self.name, self.version, self._evidence(text))

    def _evidence(self, text: str) -> tuple[str, ...]:
        row = self.vectorizer.transform([text])
        names = self.vectorizer.get_feature_names_out()
        weights = self.model.coef_[2] - self.model.coef_[0]
        contributions = zip(row.indices, row.data, strict=True)
        pairs = sorted(
            ((float(weights[j] * v), str(names[j])) for j, v in contributions), key=lambda p: -abs(p[0])
        )
        return tuple(f"{'+' if w > 0 else '-'}{n}" for w, n in pairs[:EVIDENCE_WORDS_MAX])

    def save(self, directory: Path | str) -> Path:
        """Write the artefact as JSON into ``directory``; return its path."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        document = {
            "format": ARTEFACT_FORMAT,
            "version": self.version,
            "language": self.language,
            "trained_on": self.trained_on,
            "vectorizer": _vectorizer_params(self.language),
            "vocabulary": {str(k): int(v) for k, v in self.vectorizer.vocabulary_.items()},
            "idf": [float(x) for x in self.vectorizer.idf_],
            "coef": [[float(x) for x in row] for row in self.model.coef_],
            "intercept": [float(x) for x in self.model.intercept_],
        }
        path = target / ARTEFACT_FILE
        path.write_bytes(orjson.dumps(document))
        return path


def _digest(texts: Sequence[str], labels: Sequence[int]) -> str:
    hasher = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        hasher.update(f"{label}\t{text}\n".encode())
    return hasher.hexdigest()


def train_scorer(texts: Sequence[str], labels: Sequence[int], *, language: str, seed: int = 7) -> TfidfScorer:
    """Fit on ``texts`` with labels 0 = negative, 1 = neutral, 2 = positive."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if language not in ("en", "zh"):
        raise FeedInvalid("language must be en or zh")
    if not TRAIN_ROWS_MIN <= len(texts) <= TRAIN_ROWS_MAX or len(texts) != len(labels):
        raise FeedInvalid(f"training needs {TRAIN_ROWS_MIN} to {TRAIN_ROWS_MAX} labelled rows")
    if set(labels) != {0, 1, 2}:
        raise FeedInvalid("training needs negative, neutral and positive examples")
    params = _vectorizer_params(language)
    vectorizer = TfidfVectorizer(**{**params, "ngram_range": tuple(params["ngram_range"])})
    matrix = vectorizer.fit_transform(list(texts))
    model = LogisticRegression(max_iter=2_000, C=4.0, class_weight="balanced", random_state=seed)
    model.fit(matrix, np.asarray(labels))
    digest = _digest(texts, labels)
    trained_on = {"rows": len(texts), "sha256": digest}
    return TfidfScorer(vectorizer, model, language=language, version=f"tfidf-lr-{digest[:12]}",
                       trained_on=trained_on)  # fmt: skip


def load_scorer(directory: Path | str) -> TfidfScorer:
    """A scorer from its JSON artefact; refuses anything that is not exactly that format."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    path = Path(directory) / ARTEFACT_FILE
    try:
        if path.stat().st_size > ARTEFACT_BYTES_MAX:
            raise ScorerArtefactInvalid(f"{path} is larger than {ARTEFACT_BYTES_MAX} bytes")
        document = orjson.loads(path.read_bytes())
        if document.get("format") != ARTEFACT_FORMAT or document.get("language") not in ("en", "zh"):
            raise ScorerArtefactInvalid(f"{path} is not a {ARTEFACT_FORMAT} artefact")
        params = _vectorizer_params(document["language"])
        vectorizer = TfidfVectorizer(**{**params, "ngram_range": tuple(params["ngram_range"])})
        vectorizer.vocabulary_ = {str(k): int(v) for k, v in document["vocabulary"].items()}
        vectorizer.idf_ = np.asarray(document["idf"], dtype=np.float64)
        model = LogisticRegression()
        model.classes_ = np.asarray([0, 1, 2])
        model.coef_ = np.asarray(document["coef"], dtype=np.float64)
        model.intercept_ = np.asarray(document["intercept"], dtype=np.float64)
        if model.coef_.shape != (3, len(vectorizer.idf_)) or len(vectorizer.vocabulary_) != len(
            vectorizer.idf_
        ):
            raise ScorerArtefactInvalid(f"{path} has inconsistent shapes")
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ScorerArtefactInvalid(f"cannot load {path}: {error}") from error
    return TfidfScorer(vectorizer, model, language=document["language"], version=str(document["version"]),
                       trained_on=dict(document.get("trained_on") or {}))  # fmt: skip


def read_labelled(path: Path | str) -> tuple[list[str], list[int]]:
    """Labelled sentences from a CSV (columns text, label) or JSON Lines ({"text", "label"}) file.

    Labels are negative / neutral / positive (or -1 / 0 / 1).
    """
    chosen = Path(path)
    try:
        content = chosen.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise FeedInvalid(f"cannot read {chosen}: {error}") from error
    if chosen.suffix.lower() in (".jsonl", ".ndjson"):
        rows: list[Any] = [orjson.loads(line) for line in content.splitlines() if line.strip()]
    elif chosen.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(content, newline="")))
    else:
        raise FeedInvalid("labelled data must be .csv or .jsonl")
    texts: list[str] = []
    labels: list[int] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise FeedInvalid(f"row {number}: needs a text")
        label = _LABEL_NAMES.get(str(row.get("label", "")).strip().lower())
        if label is None:
            raise FeedInvalid(f"row {number}: label must be negative, neutral or positive")
        texts.append(row["text"][:SCORE_TEXT_LENGTH_MAX])
        labels.append(label)
    return texts, labels
