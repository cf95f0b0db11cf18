"""Retrieval and scoring on a small list: evidence moves scores, token order never does, limits hold."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.aml.screening.index import ScreeningIndex, align
from netfin.aml.screening.lists import LoadedList
from netfin.aml.screening.model import (
    Alias,
    AliasQuality,
    BirthDate,
    Decision,
    EntryKind,
    Identifier,
    ListEntry,
    ScreeningConfig,
    ScreeningRejected,
    ScreeningSubject,
    load_config,
)
from netfin.aml.screening.service import Screener
from netfin.core.errors import ConfigurationError, LimitExceeded

ENTRIES = (
    ListEntry(
        "test",
        "1",
        EntryKind.PERSON,
        "MORTEZAVI, Hasan",
        (Alias("ALI, Hassan"),),
        (BirthDate(1964, 8, 23),),
        ("IR",),
        (Identifier("Passport", "D9019576", "IR"),),
        ("SDGT",),
    ),
    ListEntry(
        "test",
        "2",
        EntryKind.PERSON,
        "AL-ZAWAHIRI, Ayman Muhammad Rabi",
        (),
        (BirthDate(1951, 6, 19),),
        ("EG",),
    ),
    ListEntry(
        "test", "3", EntryKind.PERSON, "PUTIN, Vladimir Vladimirovich", (), (BirthDate(1952, 10, 7),), ("RU",)
    ),
    ListEntry("test", "4", EntryKind.ENTITY, "BANCO NACIONAL DE CUBA", (Alias("BNC", AliasQuality.WEAK),)),
    ListEntry("test", "5", EntryKind.PERSON, "LI, Fangwei", (), (), ("CN",)),
    ListEntry("test", "6", EntryKind.PERSON, "SMITH, John Robert", (), (BirthDate(1970),), ("GB",)),
    ListEntry("test", "7", EntryKind.PERSON, "YUSUF, Muhammad", (), (), ("SO",)),
)
CONFIG = load_config()


@pytest.fixture(scope="module")
def index() -> ScreeningIndex:
    return ScreeningIndex([LoadedList("test", "v1", "test", ENTRIES)], CONFIG)


def _top(index: ScreeningIndex, subject: ScreeningSubject) -> tuple[str, float, Decision]:
    found = index.screen(subject)
    assert found, f"no candidate for {subject.name}"
    return found[0].entry.entry_id, found[0].score, found[0].decision


@pytest.mark.parametrize(
    ("query", "entry_id"),
    [
        ("Hasan Mortezavi", "1"),
        ("Hassan Ali", "1"),  # an alias
        ("Ayman Muhammad Rabi al-Zawahiri", "2"),
        ("Ayman Zawahiri", "2"),  # dropped middle names
        ("Владимир Путин", "3"),  # Cyrillic
        ("李方伟", "5"),  # Han
        ("Mohammed Yousuf", "7"),  # transliteration
        ("Muhamad Yusuff", "7"),  # typos
        ("Banco Nacional de Cuba S.A.", "4"),  # a legal form
    ],
)
def test_variants_find_their_entry_above_the_review_threshold(
    index: ScreeningIndex, query: str, entry_id: str
) -> None:
    found, score, decision = _top(index, ScreeningSubject(query))
    assert found == entry_id and score >= CONFIG.review_threshold and decision != Decision.CLEAR


def test_exact_names_are_hits_and_strangers_are_clear(index: ScreeningIndex) -> None:
    assert _top(index, ScreeningSubject("Vladimir Vladimirovich PUTIN"))[2] == Decision.HIT
    assert index.screen(ScreeningSubject("Gabriel Okonkwo")) == []
    assert index.decide(index.screen(ScreeningSubject("Maria Fernandez"))) == Decision.CLEAR


def test_a_birth_date_mismatch_lowers_and_a_match_raises_the_score(index: ScreeningIndex) -> None:
    plain = _top(index, ScreeningSubject("John Smith"))[1]
    same = index.screen(ScreeningSubject("John Smith", birth_date=BirthDate(1970, 5, 1)))[0]
    other = index.screen(ScreeningSubject("John Smith", birth_date=BirthDate(1990, 5, 1)))[0]
    assert other.score < plain < same.score
    assert [e.code for e in other.evidence if e.code.startswith("birth_date")] == ["birth_date_mismatch"]
    assert [e.code for e in same.evidence if e.code.startswith("birth_date")] == ["birth_date_year"]


def test_an_identifier_match_raises_the_score_and_finds_entries_by_number(index: ScreeningIndex) -> None:
    plain = index.screen(ScreeningSubject("H. Mortezavi"))[0]
    with_id = index.screen(
        ScreeningSubject("H. Mortezavi", identifiers=(Identifier("passport", "d 9019576"),))
    )[0]
    assert with_id.entry.entry_id == "1" and with_id.score > plain.score
    assert any(e.code == "identifier_match" and "D9019576" in e.detail for e in with_id.evidence)
    other_name = index.screen(
        ScreeningSubject("Reza Tehrani", identifiers=(Identifier("passport", "D9019576"),))
    )
    assert [c.entry.entry_id for c in other_name] == ["1"]


def test_country_kind_and_weak_alias_are_evidence(index: ScreeningIndex) -> None:
    home = index.screen(ScreeningSubject("Fangwei Li", country="CN"))[0]
    abroad = index.screen(ScreeningSubject("Fangwei Li", country="US"))[0]
    assert home.score > abroad.score and {e.code for e in abroad.evidence} >= {"country_mismatch"}
    company = index.screen(ScreeningSubject("Fangwei Li", kind=EntryKind.ENTITY))[0]
    assert any(e.code == "kind_mismatch" for e in company.evidence)
    weak = index.screen(ScreeningSubject("BNC"))[0]
    assert weak.entry.entry_id == "4" and any(e.code == "weak_alias" for e in weak.evidence)


def test_phonetic_agreement_is_shown_as_evidence(index: ScreeningIndex) -> None:
    found = index.screen(ScreeningSubject("Mohammed Yusuf"))[0]
    assert any(e.code == "phonetic_agreement" and "mohammed ~ muhammad" in e.detail for e in found.evidence)


names = st.lists(
    st.sampled_from("hasan mortezavi ali ayman rabi vladimir putin john smith muhammad yusuf".split()),
    min_size=1,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(query=names, listed=names, seed=st.randoms(use_true_random=False))
def test_token_order_never_changes_the_name_score(query: list[str], listed: list[str], seed: object) -> None:
    shuffled_query, shuffled_listed = list(query), list(listed)
    seed.shuffle(shuffled_query)  # type: ignore[attr-defined]
    seed.shuffle(shuffled_listed)  # type: ignore[attr-defined]
    first = align(tuple(query), tuple(listed), 0.85)[0]
    assert align(tuple(shuffled_query), tuple(shuffled_listed), 0.85)[0] == pytest.approx(first, abs=1e-9)
    assert 0.0 <= first <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.sampled_from("hasan mortezavi ali ayman putin vladimir banco cuba".split()), min_size=2, max_size=4
    )
)
def test_token_order_never_changes_the_screening_score(index: ScreeningIndex, words: list[str]) -> None:
    forward = index.screen(ScreeningSubject(" ".join(words)))
    backward = index.screen(ScreeningSubject(" ".join(reversed(words))))
    assert [(c.entry.key, round(c.score, 9)) for c in forward] == [
        (c.entry.key, round(c.score, 9)) for c in backward
    ]


def test_bad_subjects_and_configurations_are_refused() -> None:
    with pytest.raises(ScreeningRejected):
        ScreeningSubject("   ")
    with pytest.raises(LimitExceeded):
        ScreeningSubject("x" * 301)
    with pytest.raises(ScreeningRejected):
        ScreeningSubject("Ali", country="Iran")
    with pytest.raises(ScreeningRejected):
        BirthDate.parse("1970-13-01")
    with pytest.raises(ConfigurationError):
        dataclasses.replace(CONFIG, review_threshold=0.95, strong_threshold=0.9)
    with pytest.raises(ConfigurationError):
        ScreeningConfig(candidates_max=0)


def test_the_counterparty_path_holds_hits_and_passes_strangers(index: ScreeningIndex) -> None:
    screener = Screener(index)
    held = screener.screen_counterparty("Banco Nacional de Cuba", "CU")
    assert held.hold and held.decision == Decision.HIT and held.entries == ("test:4",)
    assert screener.screen_counterparty("Banco Nacional de Cuba", "CU") is held  # cached
    assert not screener.screen_counterparty("Acme Widgets Ltd", "DE").hold
    assert screener.replace(ScreeningIndex([LoadedList("test", "v2", "test", ENTRIES[:3])], CONFIG))
    assert not screener.screen_counterparty(
        "Banco Nacional de Cuba", "CU"
    ).hold  # the cache went with the index
