"""The list loaders: the real OFAC and UN files; the EU and OFAC advanced formats on schema-valid XML."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import xmlschema
from shared_data import skip_unless

from netfin.aml.screening.lists import (
    load_directory,
    load_eu_xml,
    load_ofac_advanced_xml,
    load_ofac_csv,
    load_un_xml,
    parse_ofac_remarks,
)
from netfin.aml.screening.model import BirthDate, EntryKind, ListFileInvalid

sys.path.insert(0, str(Path(__file__).parent))
from screening_documents import eu_document, ofac_advanced_document

DATA = Path(__file__).resolve().parents[5] / "shared" / "data" / "sanctions"
OFAC = DATA / "ofac_sdn_2024-05-03.csv"
UN = DATA / "un_sc_consolidated_2018-10-29.xml"
UN_XSD = DATA / "un_sc-sanctions.xsd"
EU_XSD = DATA / "eu_fsf_schema_1_1.xsd"
OFAC_XSD = DATA / "ofac_sdn_advanced.xsd"
needs_lists = skip_unless(OFAC.is_file() and UN.is_file(), f"sanctions lists absent under {DATA}")
needs_schemas = skip_unless(EU_XSD.is_file() and OFAC_XSD.is_file(), f"sanctions schemas absent under {DATA}")


def test_ofac_remarks_give_birth_dates_countries_identifiers_and_aliases() -> None:
    remarks = parse_ofac_remarks(
        "DOB 23 Aug 1964; alt. DOB 1960 to 1962; POB Ghazvin, Iran; citizen Iran; nationality Korea, North; "
        "Passport D9019576 (Iran); National ID No. 216040 (Yemen) issued 2001; a.k.a. 'ALI, Hassan'; "
        "f.k.a. 'OLD NAME'; Gender Male."
    )
    assert remarks.birth_dates == [BirthDate(1964, 8, 23), BirthDate(1960), BirthDate(1961), BirthDate(1962)]
    assert remarks.countries == ["Iran", "Korea, North"]
    assert [(i.kind, i.number, i.country) for i in remarks.identifiers] == [
        ("Passport", "D9019576", "IR"),
        ("National ID No", "216040", "YE"),
    ]
    assert [(a.name, a.quality.value) for a in remarks.aliases] == [
        ("ALI, Hassan", "strong"),
        ("OLD NAME", "former"),
    ]


@needs_lists
def test_the_real_ofac_file_loads_every_row_with_its_details() -> None:
    loaded = load_ofac_csv(OFAC)
    assert len(loaded.entries) == 14965 and len(loaded.version) == 64
    kinds = loaded.summary()["kinds"]
    assert kinds == {"person": 6854, "entity": 6884, "vessel": 851, "aircraft": 376}
    mortezavi = next(e for e in loaded.entries if e.entry_id == "12113")
    assert mortezavi.kind == EntryKind.PERSON and mortezavi.birth_dates == (BirthDate(1964, 8, 23),)
    assert mortezavi.countries == ("IR",) and mortezavi.programmes == ("SDGT", "IRGC", "IFSR")
    assert [a.name for a in mortezavi.aliases] == ["ALI, Hassan"]
    assert any(i.key == "D9019576" for i in mortezavi.identifiers)


@needs_lists
def test_the_real_un_file_has_703_individuals_and_390_entities() -> None:
    loaded = load_un_xml(UN, UN_XSD, strict=False)
    kinds = loaded.summary()["kinds"]
    assert kinds == {"person": 703, "entity": 390}
    ri = next(e for e in loaded.entries if e.entry_id == "KPi.033")
    assert ri.name == "RI WON HO" and ri.birth_dates == (BirthDate(1964, 7, 17),) and ri.countries == ("KP",)
    assert ri.identifiers[0].key == "381310014"
    # The published file breaks its own schema once (an entity without ENTITY_ALIAS): strict refuses it.
    assert len(loaded.schema_deviations) == 1 and "ENTITY_ALIAS" in loaded.schema_deviations[0]
    with pytest.raises(ListFileInvalid, match="does not validate") as refused:
        load_un_xml(UN, UN_XSD)
    assert refused.value.code == "sanctions_list_schema"


@needs_schemas
def test_the_eu_loader_reads_a_schema_valid_document(tmp_path: Path) -> None:
    document = eu_document()
    assert xmlschema.XMLSchema(str(EU_XSD)).is_valid(document.decode())
    path = tmp_path / "eu_fsf_2024.xml"
    path.write_bytes(document)
    loaded = load_eu_xml(path, EU_XSD)
    person, company = loaded.entries
    assert (person.list_id, person.entry_id, person.kind, person.name) == (
        "eu_fsf",
        "EU.7001.23",
        EntryKind.PERSON,
        "Ivan Ivanovich Petrov",
    )
    assert [(a.name, a.quality.value) for a in person.aliases] == [("Иван Иванович Петров", "weak")]
    assert person.birth_dates == (BirthDate(1970, 3, 4),) and person.countries == ("RU",)
    assert person.identifiers[0].key == "720123456" and person.programmes == ("RUS",)
    assert company.kind == EntryKind.ENTITY and company.countries == ("AE",) and company.entry_id == "201"


@needs_schemas
def test_the_ofac_advanced_loader_reads_a_schema_valid_document(tmp_path: Path) -> None:
    document = ofac_advanced_document()
    assert xmlschema.XMLSchema(str(OFAC_XSD)).is_valid(document.decode())
    path = tmp_path / "ofac_sdn_advanced_2024.xml"
    path.write_bytes(document)
    (entry,) = load_ofac_advanced_xml(path, OFAC_XSD).entries
    assert (entry.list_id, entry.entry_id, entry.kind, entry.name) == (
        "ofac_adv",
        "12113",
        EntryKind.PERSON,
        "MORTEZAVI Hasan",
    )
    assert [a.name for a in entry.aliases] == ["ALI Hassan"]
    assert entry.birth_dates == (BirthDate(1964, 8, 23),) and entry.countries == ("IR",)
    assert [(i.kind, i.key, i.country) for i in entry.identifiers] == [("Passport", "D9019576", "IR")]
    assert entry.programmes == ("SDGT",) and str(entry.listed_on) == "2008-01-02"


@needs_schemas
def test_an_invalid_or_hostile_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "eu.xml"
    path.write_bytes(eu_document().replace(b'classificationCode="P"', b'classificationCode="X"'))
    with pytest.raises(ListFileInvalid) as invalid:
        load_eu_xml(path, EU_XSD)
    assert invalid.value.code == "sanctions_list_schema"
    path.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE export [<!ENTITY a "aaaaaaaaaa">]>'
        b'<export xmlns="http://eu.europa.ec/fpi/fsd/export">&a;</export>'
    )
    with pytest.raises(ListFileInvalid) as hostile:
        load_eu_xml(path, EU_XSD)
    assert hostile.value.code == "sanctions_list_doctype"
    path.write_bytes(b"<export")
    with pytest.raises(ListFileInvalid, match="not well-formed"):
        load_eu_xml(path, EU_XSD)


def test_a_malformed_csv_row_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ofac_sdn.csv"
    path.write_text('36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA"\n')
    with pytest.raises(ListFileInvalid, match="row 1: 4 columns"):
        load_ofac_csv(path)


def test_a_directory_without_lists_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ListFileInvalid) as missing:
        load_directory(tmp_path)
    assert missing.value.code == "sanctions_lists_missing"
