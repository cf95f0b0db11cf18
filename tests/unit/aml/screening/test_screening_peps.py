"""PEP lists: OpenSanctions' simplified CSV as PEP entries; a PEP match asks for review, never a hold."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from netfin.aml.screening.lists import LoadedList, load_directory, load_opensanctions_csv
from netfin.aml.screening.model import (
    BirthDate,
    Decision,
    EntryKind,
    ListCategory,
    ListEntry,
    ListFileInvalid,
    ScreeningSubject,
    load_config,
)
from netfin.aml.screening.service import Screener

HEADERS = [
    "id", "schema", "name", "aliases", "birth_date", "countries", "addresses", "identifiers", "sanctions",
    "phones", "emails", "dataset", "first_seen", "last_seen", "last_change",
]  # fmt: skip


def _write(path: Path, rows: list[dict[str, str]], headers: list[str] = HEADERS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers, dialect=csv.unix_dialect)
        writer.writeheader()
        for row in rows:
            writer.writerow({h: row.get(h, "") for h in headers})
    return path


PEPS = [
    {"id": "Q-1", "schema": "Person", "name": "Amara Okonkwo-Bello", "aliases": "Amara Bello;\"Okonkwo; A.\"",
     "birth_date": "1961-04-02;1961", "countries": "ng;xk;suhh", "identifiers": "A01234567",
     "dataset": "Every Politician"},
    {"id": "Q-2", "schema": "PublicBody", "name": "Ministry of Roads of Atlantis"},
    {"id": "Q-3", "schema": "Address", "name": "1 Main Street"},  # not a party: skipped
]  # fmt: skip


def test_the_simplified_csv_loads_parties_with_their_details(tmp_path: Path) -> None:
    loaded = load_opensanctions_csv(_write(tmp_path / "peps.csv", PEPS), category=ListCategory.PEP)
    assert loaded.list_id == "opensanctions_pep" and len(loaded.version) == 64
    person, body = loaded.entries
    assert person.category is ListCategory.PEP and person.kind is EntryKind.PERSON
    assert [a.name for a in person.aliases] == ["Amara Bello", "Okonkwo; A."]
    assert person.birth_dates == (BirthDate(1961, 4, 2), BirthDate(1961))
    assert person.countries == ("NG", "XK")  # "suhh" (the Soviet Union) is no ISO 3166 code
    assert [i.number for i in person.identifiers] == ["A01234567"]
    assert body.kind is EntryKind.ENTITY
    assert loaded.summary()["categories"] == {"pep": 2}


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", [{"id": "1", "name": "A"}], headers=["id", "name"])
    with pytest.raises(ListFileInvalid, match="simplified CSV"):
        load_opensanctions_csv(path, category=ListCategory.PEP)


def test_the_directory_loader_finds_pep_files_by_name(tmp_path: Path) -> None:
    _write(tmp_path / "opensanctions_peps_2026-11-01.csv", PEPS)
    [loaded] = load_directory(tmp_path)
    assert loaded.list_id == "opensanctions_peps_2026-11-01"
    assert {e.category for e in loaded.entries} == {ListCategory.PEP}


def _screener() -> Screener:
    sanctioned = ListEntry("sdn", "1", EntryKind.PERSON, "MORTEZAVI, Hasan")
    pep = ListEntry("peps", "Q-1", EntryKind.PERSON, "Amara Okonkwo-Bello", category=ListCategory.PEP)
    lists = [LoadedList("sdn", "v1", "sdn", (sanctioned,)), LoadedList("peps", "v1", "peps", (pep,))]
    return Screener.build(lists, load_config())


def test_a_pep_counterparty_is_named_but_not_held() -> None:
    verdict = _screener().screen_counterparty("Amara Okonkwo Bello", "NG")
    assert not verdict.hold and verdict.decision is Decision.CLEAR and verdict.entries == ()
    assert verdict.peps == ("peps:Q-1",)


def test_a_sanctioned_counterparty_is_held_as_before() -> None:
    verdict = _screener().screen_counterparty("Hasan Mortezavi")
    assert verdict.hold and verdict.entries == ("sdn:1",) and verdict.peps == ()


def test_onboarding_sees_the_pep_candidate_with_its_category() -> None:
    [candidate] = _screener().screen(ScreeningSubject("Amara Okonkwo-Bello"))
    assert candidate.decision is not Decision.CLEAR  # review: enhanced due diligence
    assert candidate.as_dict()["category"] == "pep"
