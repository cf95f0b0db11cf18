"""Loaders for the public sanctions and PEP lists: OFAC SDN (CSV and advanced XML), UN consolidated,
EU FSF, and OpenSanctions' simplified CSV (``targets.simple.csv``; its PEP collection gives PEP entries).

Each loader returns a ``LoadedList``: the entries and a version fingerprint
(the SHA-256 of the file's bytes), so a changed file is a new list version and
everyone is screened again. XML files are parsed without a DTD, entities or
network access (a file with a DOCTYPE is refused) and validated against
their XSD before anything is read from them. Files larger than
``LIST_FILE_BYTES_MAX`` and lists with more than ``LIST_ENTRIES_MAX``
entries are refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry
from lxml import etree  # type: ignore[import-untyped]

from netfin.aml.screening.model import (
    LIST_ENTRIES_MAX,
    Alias,
    AliasQuality,
    BirthDate,
    EntryKind,
    Identifier,
    ListCategory,
    ListEntry,
    ListFileInvalid,
    ScreeningRejected,
)
from netfin.core.errors import LimitExceeded

LIST_FILE_BYTES_MAX = 256 * 1024 * 1024
BIRTH_YEAR_RANGE_MAX = 20
SCHEMA_DEVIATIONS_MAX = 20
OFAC_COLUMNS = 12
_NULL = "-0-"

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_COUNTRY_ALIASES = {
    "russia": "RU",
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "burma": "MM",
    "turkey": "TR",
    "palestinian": "PS",
    "palestinian territories": "PS",
    "kosovo": "XK",
    "congo, democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "north macedonia, the republic of": "MK",
    "st. vincent and the grenadines": "VC",
    "the gambia": "GM",
    "st. kitts & nevis": "KN",
    "st. kitts and nevis": "KN",
    "region: gaza": "PS",
    "gaza": "PS",
    "west bank": "PS",
    "iran": "IR",
    "syria": "SY",
    "sultanate of oman": "OM",
    "tanzania": "TZ",
    "united kingdom": "GB",
    "united states": "US",
    "vietnam": "VN",
    "laos": "LA",
    "bolivia": "BO",
    "venezuela": "VE",
    "moldova": "MD",
    "macedonia": "MK",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
}
_ID_LABELS = (
    "Diplomatic Passport",
    "Passport",
    "National ID No.",
    "Cedula No.",
    "C.U.R.P.",
    "R.F.C.",
    "RFC",
    "NIT #",
    "Identification Number",
    "Tax ID No.",
    "Registration ID",
    "Registration Number",
    "Business Registration Document #",
    "Business Registration Number",
    "Company Number",
    "Commercial Registry Number",
    "RUC #",
    "RIF #",
    "D.N.I.",
    "Vessel Registration Identification IMO",
    "MMSI",
    "SWIFT/BIC",
    "Legal Entity Number",
    "Unified Social Credit Code (USCC)",
    "Trade License No.",
    "Personal ID Card",
    "Birth Certificate Number",
    "Driver's License No.",
    "Electoral Registry No.",
    "Aircraft Manufacturer's Serial Number (MSN)",
    "Government Gazette Number",
    "Folio Mercantil No.",
    "V.A.T. Number",
    "D-U-N-S Number",
    "Chamber of Commerce Number",
    "Central Registration System Number",
    "Enterprise Number",
    "Italian Fiscal Code",
    "Economic Register Number (CBLS)",
    "C.R. No.",
    "Matricula Mercantil No",
    "SSN",
    "Residency Number",
    "Kenyan ID No.",
)
_ID_PATTERN = re.compile(
    r"(?P<label>" + "|".join(re.escape(label) for label in _ID_LABELS) + r")\s+"
    r"(?P<number>[^()]+?)(?:\s+\((?P<country>[^)]+)\))?(?:\s+(?:issued|expires)\b.*)?$"
)
_ALIAS_PATTERN = re.compile(r"(?P<kind>a\.k\.a\.|f\.k\.a\.|n\.k\.a\.)\s+'(?P<name>.+)'$")
_DOB_PATTERN = re.compile(r"DOB (?:circa )?(?P<first>.+?)(?: to (?P<last>.+))?$")


@dataclass(frozen=True, slots=True)
class LoadedList:
    """One version of one list: its entries and the SHA-256 of the file they came from."""

    list_id: str
    version: str
    source: str
    entries: tuple[ListEntry, ...]
    schema_deviations: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        categories: dict[str, int] = {}
        for entry in self.entries:
            kinds[entry.kind.value] = kinds.get(entry.kind.value, 0) + 1
            categories[entry.category.value] = categories.get(entry.category.value, 0) + 1
        names = sum(1 + len(e.aliases) for e in self.entries)
        return {
            "list_id": self.list_id,
            "version": self.version,
            "source": self.source,
            "entries": len(self.entries),
            "names": names,
            "kinds": kinds,
            "categories": categories,
            "schema_deviations": list(self.schema_deviations),
        }


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ListFileInvalid(
            f"cannot read {path}: {error.strerror}", code="sanctions_list_missing"
        ) from error
    if size > LIST_FILE_BYTES_MAX:
        raise LimitExceeded(
            f"{path.name} is larger than {LIST_FILE_BYTES_MAX} bytes", code="list_file_too_large"
        )
    return path.read_bytes()


def _finish(
    list_id: str, data: bytes, path: Path, entries: Iterable[ListEntry], deviations: tuple[str, ...] = ()
) -> LoadedList:
    collected: list[ListEntry] = []
    for entry in entries:
        collected.append(entry)
        if len(collected) > LIST_ENTRIES_MAX:
            raise LimitExceeded(f"{path.name} has more than {LIST_ENTRIES_MAX} entries", code="list_too_long")
    return LoadedList(list_id, hashlib.sha256(data).hexdigest(), path.name, tuple(collected), deviations)


@lru_cache(maxsize=4096)
def _lookup_country(text: str) -> str | None:
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def country_code(name: str) -> str | None:
    """ISO 3166 alpha-2 code of a country named as the lists name it, or None when unknown."""
    text = name.strip().rstrip(".").strip()
    if not text:
        return None
    alias = _COUNTRY_ALIASES.get(text.casefold())
    if alias is not None:
        return alias
    found = _lookup_country(text)
    if found is not None:
        return found
    # "Iran (Islamic Republic of)", "United States. Also believed ...": try the leading words.
    head = re.split(r"[.(;]", text, maxsplit=1)[0].strip()
    if head and head != text:
        return country_code(head)
    return None


def _codes(names: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for name in names:
        code = country_code(name)
        if code is not None and code not in found:
            found.append(code)
    return tuple(found)


def _birth_date_text(text: str) -> BirthDate | None:
    """``10 Dec 1948``, ``Dec 1948`` or ``1948`` (OFAC's form)."""
    parts = text.strip().split()
    try:
        if len(parts) == 3:
            return BirthDate(int(parts[2]), _MONTHS[parts[1][:3].casefold()], int(parts[0]))
        if len(parts) == 2:
            return BirthDate(int(parts[1]), _MONTHS[parts[0][:3].casefold()])
        if len(parts) == 1:
            return BirthDate(int(parts[0]))
    except (KeyError, ValueError, ScreeningRejected):
        return None
    return None


def _year_range(first: int, last: int) -> list[BirthDate]:
    if not 0 <= last - first <= BIRTH_YEAR_RANGE_MAX:
        return []
    return [BirthDate(year) for year in range(first, last + 1)]


def _ofac_birth_dates(text: str) -> list[BirthDate]:
    match = _DOB_PATTERN.match(text)
    if match is None:
        return []
    first = _birth_date_text(match.group("first"))
    if first is None:
        return []
    if match.group("last") is None:
        return [first]
    last = _birth_date_text(match.group("last"))
    return _year_range(first.year, last.year) if last is not None else [first]


@dataclass(slots=True)
class _Remarks:
    aliases: list[Alias]
    birth_dates: list[BirthDate]
    countries: list[str]
    identifiers: list[Identifier]


def parse_ofac_remarks(remarks: str) -> _Remarks:
    """Aliases, dates of birth, nationalities and identifiers out of an SDN row's remarks."""
    found = _Remarks([], [], [], [])
    for raw in re.split(r";\s+", remarks.strip().rstrip(".")):
        part = re.sub(r"^alt\.\s+", "", raw.strip())
        if part.startswith("DOB "):
            found.birth_dates.extend(_ofac_birth_dates(part))
        elif part.startswith(("nationality ", "citizen ")):
            found.countries.append(part.split(" ", 1)[1])
        elif (alias := _ALIAS_PATTERN.match(part)) is not None:
            quality = AliasQuality.FORMER if alias.group("kind") == "f.k.a." else AliasQuality.STRONG
            found.aliases.append(Alias(alias.group("name").strip(), quality))
        elif (ident := _ID_PATTERN.match(part)) is not None:
            label = ident.group("label").rstrip(".#").strip()
            country = country_code(ident.group("country") or "")
            found.identifiers.append(Identifier(label, ident.group("number").strip(), country))
    return found


def _ofac_kind(text: str) -> EntryKind:
    return {"individual": EntryKind.PERSON, "vessel": EntryKind.VESSEL, "aircraft": EntryKind.AIRCRAFT}.get(
        text, EntryKind.ENTITY
    )


def _ofac_rows(text: str, path: Path) -> Iterator[ListEntry]:
    for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if len(row) == 1 and not row[0].strip("\x1a \r\n"):
            continue  # the DOS end-of-file mark some copies carry
        if len(row) != OFAC_COLUMNS:
            raise ListFileInvalid(f"{path.name} row {number}: {len(row)} columns, expected {OFAC_COLUMNS}")
        cells = [None if c.strip() == _NULL else c.strip() for c in row]
        if not cells[0] or not cells[1]:
            raise ListFileInvalid(f"{path.name} row {number}: no entry number or name")
        remarks = parse_ofac_remarks(cells[11] or "")
        countries = [*remarks.countries, *([cells[9]] if cells[9] else [])]
        programmes = tuple(p.strip() for p in (cells[3] or "").strip("[]").split("] [") if p.strip())
        identifiers = list(remarks.identifiers)
        if cells[5]:
            identifiers.append(Identifier("Call Sign", cells[5]))
        yield ListEntry(
            list_id="ofac_sdn",
            entry_id=cells[0],
            kind=_ofac_kind(cells[2] or ""),
            name=cells[1],
            aliases=tuple(remarks.aliases),
            birth_dates=tuple(dict.fromkeys(remarks.birth_dates)),
            countries=_codes(countries),
            identifiers=tuple(identifiers),
            programmes=programmes,
        )


def load_ofac_csv(path: Path) -> LoadedList:
    """The OFAC SDN list in its legacy ``sdn.csv`` form (no header, ``-0-`` for empty)."""
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        return _finish("ofac_sdn", data, path, _ofac_rows(text, path))
    except csv.Error as error:
        raise ListFileInvalid(f"{path.name} is not valid CSV: {error}") from error


# --- OpenSanctions' simplified CSV ------------------------------------------------------------------

OPENSANCTIONS_COLUMNS = ("id", "schema", "name", "aliases", "birth_date", "countries", "identifiers")
_OPENSANCTIONS_KINDS = {
    "Person": EntryKind.PERSON,
    "Vessel": EntryKind.VESSEL,
    "Airplane": EntryKind.AIRCRAFT,
    "Organization": EntryKind.ENTITY,
    "Company": EntryKind.ENTITY,
    "LegalEntity": EntryKind.ENTITY,
    "PublicBody": EntryKind.ENTITY,
}
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _multi(cell: str) -> list[str]:
    """A cell of several values: OpenSanctions joins them with ``;`` (quoted where a value has one)."""
    if not cell.strip():
        return []
    return [v.strip() for v in next(csv.reader([cell], delimiter=";")) if v.strip()]


def _iso_birth_date(text: str) -> BirthDate | None:
    found = _ISO_DATE.match(text)
    if found is None:
        return None
    year, month, day = (int(g) if g else None for g in found.groups())
    try:
        return BirthDate(year or 0, month, day)
    except ScreeningRejected:
        return None


def _opensanctions_rows(text: str, path: Path, list_id: str, category: ListCategory) -> Iterator[ListEntry]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in OPENSANCTIONS_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ListFileInvalid(f"{path.name} is not an OpenSanctions simplified CSV: no column(s) {missing}")
    for number, row in enumerate(reader, start=2):
        kind = _OPENSANCTIONS_KINDS.get((row["schema"] or "").strip())
        if kind is None:
            continue  # addresses, securities and other non-party records are not screened
        if not (row["id"] or "").strip() or not (row["name"] or "").strip():
            raise ListFileInvalid(f"{path.name} row {number}: no id or name")
        births = (_iso_birth_date(v) for v in _multi(row["birth_date"] or ""))
        yield ListEntry(
            list_id=list_id,
            entry_id=row["id"].strip(),
            kind=kind,
            name=row["name"].strip(),
            aliases=tuple(Alias(a) for a in dict.fromkeys(_multi(row["aliases"] or ""))),
            birth_dates=tuple(dict.fromkeys(b for b in births if b is not None)),
            countries=tuple(dict.fromkeys(c.upper() for c in _multi(row["countries"] or "") if len(c) == 2)),
            identifiers=tuple(
                Identifier("OpenSanctions identifier", v) for v in _multi(row["identifiers"] or "")
            ),
            programmes=tuple(_multi(row.get("sanctions") or "")),
            category=category,
        )


def load_opensanctions_csv(path: Path, *, category: ListCategory, list_id: str | None = None) -> LoadedList:
    """An OpenSanctions ``targets.simple.csv`` export; ``category`` says what the collection is (its
    ``peps`` collection: ``ListCategory.PEP``). Records that are not parties are skipped."""
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ListFileInvalid(f"{path.name} is not UTF-8") from error
    name = list_id or f"opensanctions_{category.value}"
    try:
        return _finish(name, data, path, _opensanctions_rows(text, path, name, category))
    except csv.Error as error:
        raise ListFileInvalid(f"{path.name} is not valid CSV: {error}") from error


# --- XML ------------------------------------------------------------------------------------------


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_validated(
    data: bytes, xsd: Path, name: str, *, strict: bool = True
) -> tuple[etree._Element, tuple[str, ...]]:
    """Parse XML safely and validate it against ``xsd``; refuse DOCTYPEs.

    Strict, any schema error refuses the file. Otherwise up to
    ``SCHEMA_DEVIATIONS_MAX`` errors are tolerated and returned (published
    lists sometimes break their own schema in one entry, and refusing the
    whole update would leave screening on an older list).
    """
    parser = _safe_parser()
    try:
        document = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as error:
        raise ListFileInvalid(f"{name} is not well-formed XML: {error}") from error
    if document.docinfo.doctype or document.docinfo.internalDTD is not None:
        raise ListFileInvalid(f"{name} declares a DOCTYPE; list files may not", code="sanctions_list_doctype")
    schema = _schema(str(xsd))
    if schema.validate(document):
        return document.getroot(), ()
    errors = tuple(f"line {e.line}: {e.message}" for e in schema.error_log)
    if strict or len(errors) > SCHEMA_DEVIATIONS_MAX or not errors:
        first = f" ({errors[0]})" if errors else ""
        raise ListFileInvalid(
            f"{name} does not validate against {xsd.name}{first}", code="sanctions_list_schema"
        )
    return document.getroot(), errors


@lru_cache(maxsize=8)
def _schema(xsd: str) -> etree.XMLSchema:
    path = Path(xsd)
    try:
        return etree.XMLSchema(etree.parse(str(path), _safe_parser()))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as error:
        raise ListFileInvalid(
            f"cannot read the schema {path.name}: {error}", code="sanctions_schema_invalid"
        ) from error


def _text(element: etree._Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return " ".join(element.text.split())


def _un_birth_dates(person: etree._Element) -> list[BirthDate]:
    found: list[BirthDate] = []
    for node in person.iterfind("INDIVIDUAL_DATE_OF_BIRTH"):
        try:
            if (text := _text(node.find("DATE"))) != "":
                found.append(BirthDate.parse(text[:10]))
            elif (text := _text(node.find("YEAR"))) != "":
                found.append(BirthDate(int(text)))
            elif node.find("FROM_YEAR") is not None:
                found.extend(
                    _year_range(int(_text(node.find("FROM_YEAR"))), int(_text(node.find("TO_YEAR"))))
                )
        except (ValueError, ScreeningRejected):
            continue
    return found


def _un_aliases(node: etree._Element, tag: str) -> list[Alias]:
    aliases: list[Alias] = []
    for alias in node.iterfind(tag):
        name = _text(alias.find("ALIAS_NAME"))
        if name:
            low = _text(alias.find("QUALITY")).casefold() in {"low", "weak"}
            aliases.append(Alias(name, AliasQuality.WEAK if low else AliasQuality.STRONG))
    script = _text(node.find("NAME_ORIGINAL_SCRIPT"))
    if script:
        aliases.append(Alias(script, AliasQuality.STRONG))
    return aliases


def _un_common(node: etree._Element) -> dict[str, Any]:
    listed = _text(node.find("LISTED_ON"))
    script = _text(node.find("NAME_ORIGINAL_SCRIPT"))
    return {
        "list_id": "un_sc",
        "entry_id": _text(node.find("REFERENCE_NUMBER")) or _text(node.find("DATAID")),
        "programmes": (_text(node.find("UN_LIST_TYPE")),),
        "listed_on": date.fromisoformat(listed[:10]) if listed else None,
        "original_script": (script,) if script else (),
    }


def _un_entries(root: etree._Element) -> Iterator[ListEntry]:
    for person in root.iterfind("INDIVIDUALS/INDIVIDUAL"):
        parts = [_text(person.find(t)) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
        countries = [_text(v) for v in person.iterfind("NATIONALITY/VALUE")]
        documents = [
            Identifier(
                _text(d.find("TYPE_OF_DOCUMENT")) or "Document",
                _text(d.find("NUMBER")),
                country_code(_text(d.find("ISSUING_COUNTRY"))),
            )
            for d in person.iterfind("INDIVIDUAL_DOCUMENT")
            if _text(d.find("NUMBER"))
        ]
        yield ListEntry(
            kind=EntryKind.PERSON,
            name=" ".join(p for p in parts if p),
            aliases=tuple(_un_aliases(person, "INDIVIDUAL_ALIAS")),
            birth_dates=tuple(dict.fromkeys(_un_birth_dates(person))),
            countries=_codes(countries),
            identifiers=tuple(documents),
            **_un_common(person),
        )
    for entity in root.iterfind("ENTITIES/ENTITY"):
        countries = [_text(c) for c in entity.iterfind("ENTITY_ADDRESS/COUNTRY")]
        yield ListEntry(
            kind=EntryKind.ENTITY,
            name=_text(entity.find("FIRST_NAME")),
            aliases=tuple(_un_aliases(entity, "ENTITY_ALIAS")),
            countries=_codes(countries),
            **_un_common(entity),
        )


def load_un_xml(path: Path, xsd: Path, *, strict: bool = True) -> LoadedList:
    """The UN Security Council consolidated list, validated against its XSD."""
    data = _read_bytes(path)
    root, deviations = parse_validated(data, xsd, path.name, strict=strict)
    return _finish("un_sc", data, path, _un_entries(root), deviations)


# --- EU Financial Sanctions Files (FSF) XML, schema 1.1 ------------------------------------------

EU_NAMESPACE = "http://eu.europa.ec/fpi/fsd/export"
_EU = f"{{{EU_NAMESPACE}}}"
_ISO2 = re.compile(r"[A-Z]{2}")


def _iso2(code: str | None) -> str | None:
    return code if code is not None and _ISO2.fullmatch(code) and code != "00" else None


def _eu_birth_dates(node: etree._Element) -> list[BirthDate]:
    found: list[BirthDate] = []
    for birth in node.iterfind(f"{_EU}birthdate"):
        try:
            if birth.get("birthdate"):
                found.append(BirthDate.parse(birth.get("birthdate", "")[:10]))
            elif birth.get("year"):
                month, day = birth.get("monthOfYear"), birth.get("dayOfMonth")
                found.append(
                    BirthDate(
                        int(birth.get("year", "")),
                        int(month) if month else None,
                        int(day) if day and month else None,
                    )
                )
            elif birth.get("yearRangeFrom") and birth.get("yearRangeTo"):
                found.extend(
                    _year_range(int(birth.get("yearRangeFrom", "")), int(birth.get("yearRangeTo", "")))
                )
        except (ValueError, ScreeningRejected):
            continue
    return found


def _eu_names(node: etree._Element) -> list[tuple[str, bool]]:
    names: list[tuple[str, bool]] = []
    for alias in node.iterfind(f"{_EU}nameAlias"):
        parts = (alias.get("firstName"), alias.get("middleName"), alias.get("lastName"))
        whole = " ".join((alias.get("wholeName") or " ".join(p for p in parts if p)).split())
        if whole:
            names.append((whole, alias.get("strong", "true") in {"true", "1"}))
    return names


def _eu_entries(root: etree._Element) -> Iterator[ListEntry]:
    for node in root.iterfind(f"{_EU}sanctionEntity"):
        names = _eu_names(node)
        if not names:
            continue
        primary = next((n for n, strong in names if strong), names[0][0])
        aliases = tuple(
            Alias(n, AliasQuality.STRONG if s else AliasQuality.WEAK) for n, s in names if n != primary
        )
        subject = node.find(f"{_EU}subjectType")
        person = subject is not None and subject.get("classificationCode") == "P"
        countries = [_iso2(c.get("countryIso2Code")) for c in node.iterfind(f"{_EU}citizenship")]
        if not person:
            countries += [_iso2(a.get("countryIso2Code")) for a in node.iterfind(f"{_EU}address")]
        identifiers = tuple(
            Identifier(
                i.get("identificationTypeCode", "id"),
                i.get("number") or i.get("latinNumber") or "",
                _iso2(i.get("countryIso2Code")),
            )
            for i in node.iterfind(f"{_EU}identification")
            if i.get("number") or i.get("latinNumber")
        )
        regulation = node.find(f"{_EU}regulation")
        designated = node.get("designationDate")
        yield ListEntry(
            list_id="eu_fsf",
            entry_id=node.get("euReferenceNumber") or node.get("logicalId", ""),
            kind=EntryKind.PERSON if person else EntryKind.ENTITY,
            name=primary,
            aliases=aliases,
            birth_dates=tuple(dict.fromkeys(_eu_birth_dates(node))),
            countries=tuple(dict.fromkeys(c for c in countries if c)),
            identifiers=identifiers,
            programmes=(regulation.get("programme", ""),) if regulation is not None else (),
            listed_on=date.fromisoformat(designated[:10]) if designated else None,
        )


def load_eu_xml(path: Path, xsd: Path, *, strict: bool = True) -> LoadedList:
    """The EU Financial Sanctions Files export (FSF XML, schema 1.1), validated against its XSD."""
    data = _read_bytes(path)
    root, deviations = parse_validated(data, xsd, path.name, strict=strict)
    return _finish("eu_fsf", data, path, _eu_entries(root), deviations)


# --- OFAC SDN advanced XML ----------------------------------------------------------------------

OFAC_ADVANCED_NAMESPACE = "http://www.un.org/sanctions/1.0"
_OA = f"{{{OFAC_ADVANCED_NAMESPACE}}}"


@dataclass(frozen=True, slots=True)
class _OfacReferences:
    values: dict[str, dict[str, str]]  # value set -> id -> text
    party_types: dict[str, str]  # PartySubType id -> PartyType text
    countries: dict[str, str]  # Country id -> ISO2
    locations: dict[str, list[str]]  # Location id -> ISO2 codes
    documents: dict[str, list[Identifier]]  # Identity id -> identifiers
    programmes: dict[str, list[str]]  # Profile id -> programmes
    listed_on: dict[str, date]  # Profile id -> first entry event


def _ofac_value_sets(root: etree._Element) -> dict[str, dict[str, str]]:
    sets: dict[str, dict[str, str]] = {}
    for value_set in root.iterfind(f"{_OA}ReferenceValueSets/*"):
        name = etree.QName(value_set).localname.removesuffix("Values")
        sets[name] = {v.get("ID", ""): (v.text or "").strip() for v in value_set}
    return sets


def _ofac_date(node: etree._Element | None) -> date | None:
    if node is None:
        return None
    try:
        return date(
            int(_text(node.find(f"{_OA}Year"))),
            int(_text(node.find(f"{_OA}Month"))),
            int(_text(node.find(f"{_OA}Day"))),
        )
    except ValueError:
        return None


def _ofac_references(root: etree._Element) -> _OfacReferences:
    values = _ofac_value_sets(root)
    sub_types = root.iterfind(f"{_OA}ReferenceValueSets/{_OA}PartySubTypeValues/{_OA}PartySubType")
    party_types = {
        s.get("ID", ""): values.get("PartyType", {}).get(s.get("PartyTypeID", ""), "") for s in sub_types
    }
    countries = {
        c.get("ID", ""): c.get("ISO2") or (country_code(c.text or "") or "")
        for c in root.iterfind(f"{_OA}ReferenceValueSets/{_OA}CountryValues/{_OA}Country")
    }
    locations = {
        loc.get("ID", ""): [
            countries.get(c.get("CountryID", ""), "") for c in loc.iterfind(f"{_OA}LocationCountry")
        ]
        for loc in root.iterfind(f"{_OA}Locations/{_OA}Location")
    }
    documents: dict[str, list[Identifier]] = {}
    for doc in root.iterfind(f"{_OA}IDRegDocuments/{_OA}IDRegDocument"):
        number = _text(doc.find(f"{_OA}IDRegistrationNo"))
        if number:
            kind = values.get("IDRegDocType", {}).get(doc.get("IDRegDocTypeID", ""), "document")
            country = countries.get(doc.get("IssuedBy-CountryID", "")) or None
            documents.setdefault(doc.get("IdentityID", ""), []).append(Identifier(kind, number, country))
    programmes: dict[str, list[str]] = {}
    listed_on: dict[str, date] = {}
    for entry in root.iterfind(f"{_OA}SanctionsEntries/{_OA}SanctionsEntry"):
        profile = entry.get("ProfileID", "")
        for measure in entry.iterfind(f"{_OA}SanctionsMeasure"):
            if values.get("SanctionsType", {}).get(measure.get("SanctionsTypeID", "")) == "Program":
                programmes.setdefault(profile, []).append(_text(measure.find(f"{_OA}Comment")))
        events = [d for e in entry.iterfind(f"{_OA}EntryEvent") if (d := _ofac_date(e.find(f"{_OA}Date")))]
        if events:
            listed_on[profile] = min(events)
    return _OfacReferences(values, party_types, countries, locations, documents, programmes, listed_on)


def _ofac_names(profile: etree._Element, refs: _OfacReferences) -> tuple[str, list[Alias]]:
    primary = ""
    aliases: list[Alias] = []
    alias_types = refs.values.get("AliasType", {})
    for identity in profile.iterfind(f"{_OA}Identity"):
        for alias in identity.iterfind(f"{_OA}Alias"):
            kind = alias_types.get(alias.get("AliasTypeID", ""), "")
            for documented in alias.iterfind(f"{_OA}DocumentedName"):
                parts = [_text(v) for v in documented.iterfind(f"{_OA}DocumentedNamePart/{_OA}NamePartValue")]
                name = " ".join(p for p in parts if p)
                if not name:
                    continue
                if not primary and alias.get("Primary") == "true" and identity.get("Primary") == "true":
                    primary = name
                    continue
                quality = (
                    AliasQuality.WEAK
                    if alias.get("LowQuality") == "true"
                    else AliasQuality.FORMER
                    if kind == "F.K.A."
                    else AliasQuality.STRONG
                )
                aliases.append(Alias(name, quality))
    if not primary and aliases:
        primary = aliases.pop(0).name
    return primary, aliases


def _ofac_features(profile: etree._Element, refs: _OfacReferences) -> tuple[list[BirthDate], list[str]]:
    births: list[BirthDate] = []
    countries: list[str] = []
    feature_types = refs.values.get("FeatureType", {})
    for feature in profile.iterfind(f"{_OA}Feature"):
        kind = feature_types.get(feature.get("FeatureTypeID", ""), "")
        for version in feature.iterfind(f"{_OA}FeatureVersion"):
            if kind == "Birthdate":
                births.extend(_ofac_period(version.find(f"{_OA}DatePeriod")))
            elif kind in {"Nationality Country", "Citizenship Country"}:
                for location in version.iterfind(f"{_OA}VersionLocation"):
                    countries.extend(c for c in refs.locations.get(location.get("LocationID", ""), []) if c)
    return births, countries


def _ofac_period(period: etree._Element | None) -> list[BirthDate]:
    if period is None:
        return []
    start = _ofac_date(period.find(f"{_OA}Start/{_OA}From"))
    end = _ofac_date(period.find(f"{_OA}End/{_OA}To"))
    if start is None:
        return []
    boundary = period.find(f"{_OA}Start")
    day_fixed = boundary is not None and boundary.get("DayFixed") == "true"
    month_fixed = boundary is not None and boundary.get("MonthFixed") == "true"
    if end is not None and end.year != start.year:
        return _year_range(start.year, end.year)
    if day_fixed and month_fixed and (end is None or end == start):
        return [BirthDate(start.year, start.month, start.day)]
    if month_fixed and (end is None or end.month == start.month):
        return [BirthDate(start.year, start.month)]
    return [BirthDate(start.year)]


def _ofac_advanced_entries(root: etree._Element) -> Iterator[ListEntry]:
    refs = _ofac_references(root)
    kinds = {"Individual": EntryKind.PERSON, "Vessel": EntryKind.VESSEL, "Aircraft": EntryKind.AIRCRAFT}
    for party in root.iterfind(f"{_OA}DistinctParties/{_OA}DistinctParty"):
        for profile in party.iterfind(f"{_OA}Profile"):
            profile_id = profile.get("ID", "")
            name, aliases = _ofac_names(profile, refs)
            if not name:
                continue
            births, countries = _ofac_features(profile, refs)
            identities = [i.get("ID", "") for i in profile.iterfind(f"{_OA}Identity")]
            yield ListEntry(
                list_id="ofac_adv",
                entry_id=profile_id,
                kind=kinds.get(refs.party_types.get(profile.get("PartySubTypeID", ""), ""), EntryKind.ENTITY),
                name=name,
                aliases=tuple(aliases),
                birth_dates=tuple(dict.fromkeys(births)),
                countries=tuple(dict.fromkeys(countries)),
                identifiers=tuple(d for i in identities for d in refs.documents.get(i, [])),
                programmes=tuple(refs.programmes.get(profile_id, [])),
                listed_on=refs.listed_on.get(profile_id),
            )


def load_ofac_advanced_xml(path: Path, xsd: Path, *, strict: bool = True) -> LoadedList:
    """The OFAC SDN list in its advanced XML form, validated against ``sdn_advanced.xsd``."""
    data = _read_bytes(path)
    root, deviations = parse_validated(data, xsd, path.name, strict=strict)
    return _finish("ofac_adv", data, path, _ofac_advanced_entries(root), deviations)


# --- a directory of list files -------------------------------------------------------------------

UN_XSD_NAME = "un_sc-sanctions.xsd"
EU_XSD_NAME = "eu_fsf_schema_1_1.xsd"
OFAC_ADVANCED_XSD_NAME = "ofac_sdn_advanced.xsd"


def load_directory(directory: Path, *, strict: bool = False) -> list[LoadedList]:
    """Every list file found in ``directory``, by name: ``ofac_sdn*.csv``, ``un_sc*.xml``,
    ``eu_fsf*.xml`` and ``ofac_sdn_advanced*.xml``, each XML file with its XSD beside it, and
    OpenSanctions simplified CSVs named ``opensanctions_peps*.csv`` (PEPs) or
    ``opensanctions_sanctions*.csv`` (sanctions).

    Not strict by default: a few schema deviations are tolerated and reported
    in each list's ``schema_deviations``."""
    if not directory.is_dir():
        raise ListFileInvalid(f"no list directory at {directory}", code="sanctions_lists_missing")
    loaded = [load_ofac_csv(p) for p in sorted(directory.glob("ofac_sdn*.csv"))]
    for category in ListCategory:
        for path in sorted(directory.glob(f"opensanctions_{category.value}*.csv")):
            loaded.append(load_opensanctions_csv(path, category=category, list_id=path.stem))
    xml_kinds = (
        ("un_sc*.xml", UN_XSD_NAME, load_un_xml),
        ("eu_fsf*.xml", EU_XSD_NAME, load_eu_xml),
        ("ofac_sdn_advanced*.xml", OFAC_ADVANCED_XSD_NAME, load_ofac_advanced_xml),
    )
    for pattern, xsd_name, loader in xml_kinds:
        for path in sorted(directory.glob(pattern)):
            xsd = directory / xsd_name
            if not xsd.is_file():
                raise ListFileInvalid(
                    f"{path.name} needs its schema {xsd_name} beside it", code="sanctions_schema_missing"
                )
            loaded.append(loader(path, xsd, strict=strict))
    if not loaded:
        raise ListFileInvalid(f"no sanctions list files in {directory}", code="sanctions_lists_missing")
    return loaded
