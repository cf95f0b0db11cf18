"""Sentiment scorers: clear cases in English and Chinese, negation, language by script, limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import skip_unless

from netfin.aml.news.errors import NewsLimitExceeded
from netfin.aml.news.evaluation import evaluate_scorer, load_finfe, load_phrasebank
from netfin.aml.news.model import SentimentLabel
from netfin.aml.news.sentiment import (
    SCORE_TEXT_LENGTH_MAX,
    ChineseLexiconScorer,
    LoughranMcDonaldScorer,
    MultilingualScorer,
    detect_language,
)

SENTIMENT_DATA = Path(__file__).resolve().parents[5] / "shared" / "data" / "sentiment"
PHRASEBANK = SENTIMENT_DATA / "financial_phrasebank_v1.0"
FINFE = SENTIMENT_DATA / "zh_bbt_fincuge_finfe"


@pytest.fixture(scope="module")
def english() -> LoughranMcDonaldScorer:
    return LoughranMcDonaldScorer()


@pytest.fixture(scope="module")
def chinese() -> ChineseLexiconScorer:
    return ChineseLexiconScorer()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.", SentimentLabel.POSITIVE),
        ("Net sales increased by 5.2 % and the outlook improved.", SentimentLabel.POSITIVE),
        ("The company warned of losses and its shares plunged after the default.", SentimentLabel.NEGATIVE),
        ("Costs rose sharply in the quarter.", SentimentLabel.NEGATIVE),
        ("The pre-tax loss narrowed to EUR 1.2 mn.", SentimentLabel.POSITIVE),
        ("The annual general meeting will be held in Helsinki on 3 April.", SentimentLabel.NEUTRAL),
    ],
)
def test_english_clear_cases(english: LoughranMcDonaldScorer, text: str, label: SentimentLabel) -> None:
    score = english.score(text)
    assert score.label is label, score
    assert (score.value > 0) == (label is SentimentLabel.POSITIVE)
    assert (score.value < 0) == (label is SentimentLabel.NEGATIVE)


def test_english_negation_flips_a_word(english: LoughranMcDonaldScorer) -> None:
    plain = english.score("The results were good.")
    negated = english.score("The results were not good.")
    assert plain.label is SentimentLabel.POSITIVE and negated.label is SentimentLabel.NEGATIVE
    assert negated.evidence == ("-good",)


def test_english_evidence_names_the_words(english: LoughranMcDonaldScorer) -> None:
    score = english.score("Regulators opened an investigation into fraud at the bank.")
    assert score.label is SentimentLabel.NEGATIVE
    assert {"-fraud", "-investigation"} <= set(score.evidence)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("公司业绩预增，股价涨停，重大利好！", SentimentLabel.POSITIVE),
        ("公司被证监会立案调查，股价跌停，又被套牢了", SentimentLabel.NEGATIVE),
        ("本周五召开股东大会", SentimentLabel.NEUTRAL),
    ],
)
def test_chinese_clear_cases(chinese: ChineseLexiconScorer, text: str, label: SentimentLabel) -> None:
    assert chinese.score(text).label is label


def test_chinese_negation(chinese: ChineseLexiconScorer) -> None:
    assert chinese.score("我看好这只股票").label is SentimentLabel.POSITIVE
    assert chinese.score("我不看好这只股票").label is SentimentLabel.NEGATIVE


def test_language_by_script() -> None:
    assert detect_language("平安银行 (000001.SZ) 股价下跌") == "zh"
    assert detect_language("Nokia shares fell 5% on Tuesday") == "en"
    assert detect_language("") == "en"


def test_multilingual_routes_by_script() -> None:
    scorer = MultilingualScorer()
    assert scorer.score("股价暴跌").scorer == "lexicon_zh"
    assert scorer.score("Shares slumped").scorer == "lm_en"


def test_text_over_the_limit_is_refused(english: LoughranMcDonaldScorer) -> None:
    with pytest.raises(NewsLimitExceeded):
        english.score("a" * (SCORE_TEXT_LENGTH_MAX + 1))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_value_always_lies_in_the_interval(text: str) -> None:
    score = MultilingualScorer().score(text)
    assert -1.0 <= score.value <= 1.0
    assert (score.value > 0) == (score.label is SentimentLabel.POSITIVE)


@pytest.mark.slow
@skip_unless(PHRASEBANK.is_dir() and FINFE.is_dir(), "../shared/data/sentiment is absent")
def test_whole_datasets_beat_the_majority_class() -> None:
    """The lexicons beat always-neutral on PhraseBank (61 %) and always-positive on FinFE (44 %)."""
    texts, labels, skipped = load_phrasebank(PHRASEBANK / "Sentences_AllAgree.txt")
    assert len(texts) == 2263 and skipped == 1  # one line of the file is a stray "1"
    english = evaluate_scorer(LoughranMcDonaldScorer(), texts, labels)
    assert english.accuracy > 0.75 and english.macro_f1 > 0.65
    texts, labels = load_finfe(FINFE / "finfe_eval.json")
    chinese = evaluate_scorer(ChineseLexiconScorer(), texts, labels)
    assert chinese.accuracy > 0.5
