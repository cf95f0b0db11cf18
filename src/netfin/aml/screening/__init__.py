"""Sanctions and PEP screening: public lists loaded, names normalised, candidates retrieved and scored.

Lists: OFAC SDN (legacy CSV and advanced XML), the UN Security Council
consolidated list and the EU Financial Sanctions Files, each XML file
validated against its XSD, and OpenSanctions' simplified CSV, whose PEP
collection gives entries of category ``pep`` (``lists``). A PEP match asks
for enhanced due diligence; it never holds a payment. Names on both sides pass through one
normaliser (``normalise.fold``/``forms``: Han to pinyin, other scripts to
ASCII, honorifics and legal forms dropped, token order ignored). The index
(``index.ScreeningIndex``) retrieves broadly (tokens, phonetic keys,
single-typo keys) and scores carefully (token alignment with rapidfuzz, a
phonetic key, dates of birth, countries and identifiers as evidence).
Thresholds and weights live in ``config/default.yaml``.

Invariants: a list version is the SHA-256 of its file, and a new version
means everyone is screened again (``ScreeningService.update_lists``); every
stored result names the list versions it was screened against; only
compliance resolves a potential match, and every screening and resolution is
audited; nothing here downloads anything.

Public names: ``fold``, ``forms``, ``ScreeningIndex``, ``Screener``,
``ScreeningService``, ``ScreeningStore``, ``ScreeningResult``,
``SubjectRecord``, ``CounterpartyDecision``, ``ListEntry``,
``ScreeningSubject``, ``BirthDate``, ``Identifier``, ``Candidate``,
``Evidence``, ``Decision``, ``ScreeningStatus``, ``ScreeningReason``,
``SubjectKind``, ``ScreeningConfig``, ``load_config``, ``LoadedList``,
``load_directory``, ``load_ofac_csv``, ``load_un_xml``, ``load_eu_xml``,
``load_ofac_advanced_xml``, ``load_opensanctions_csv``, ``ListCategory``.
"""

from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.lists import (
    LoadedList,
    load_directory,
    load_eu_xml,
    load_ofac_advanced_xml,
    load_ofac_csv,
    load_opensanctions_csv,
    load_un_xml,
)
from netfin.aml.screening.model import (
    BirthDate,
    Candidate,
    Decision,
    Evidence,
    Identifier,
    ListCategory,
    ListEntry,
    ScreeningConfig,
    ScreeningReason,
    ScreeningStatus,
    ScreeningSubject,
    SubjectKind,
    load_config,
)
from netfin.aml.screening.normalise import fold, forms
from netfin.aml.screening.service import (
    CounterpartyDecision,
    Screener,
    ScreeningService,
    SubjectRecord,
)
from netfin.aml.screening.store import ScreeningResult, ScreeningStore

__all__ = [
    "BirthDate",
    "Candidate",
    "CounterpartyDecision",
    "Decision",
    "Evidence",
    "Identifier",
    "ListCategory",
    "ListEntry",
    "LoadedList",
    "Screener",
    "ScreeningConfig",
    "ScreeningIndex",
    "ScreeningReason",
    "ScreeningResult",
    "ScreeningService",
    "ScreeningStatus",
    "ScreeningStore",
    "ScreeningSubject",
    "SubjectKind",
    "SubjectRecord",
    "fold",
    "forms",
    "load_config",
    "load_directory",
    "load_eu_xml",
    "load_ofac_advanced_xml",
    "load_ofac_csv",
    "load_opensanctions_csv",
    "load_un_xml",
]
