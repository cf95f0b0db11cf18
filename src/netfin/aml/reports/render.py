"""Render a filing in a layout, and validate any document against its schema.

``render`` never returns a document that fails its schema: it validates
what it built and raises ``ReportInvalid`` (listing every failure) instead.
Output is UTF-8 with an XML declaration, and the same filing always gives
the same bytes (transactions in time order, codes sorted, no clock read).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from lxml import etree  # type: ignore[import-untyped]

from netfin.aml.reports import goaml, pboc
from netfin.aml.reports.model import Filing, FilingKind, ReportInvalid
from netfin.core.errors import InvalidInput, LimitExceeded

Layout = Literal["pboc", "goaml"]
LAYOUTS: tuple[Layout, ...] = ("pboc", "goaml")
DOCUMENT_BYTES_MAX = 16 * 1024 * 1024
SCHEMA_DIR = Path(__file__).parent / "schemas"
_SCHEMA_FILES = {
    ("pboc", FilingKind.LARGE_VALUE): "pboc-large-value.xsd",
    ("pboc", FilingKind.SUSPICIOUS): "pboc-suspicious.xsd",
    ("goaml", FilingKind.LARGE_VALUE): "goaml-subset.xsd",
    ("goaml", FilingKind.SUSPICIOUS): "goaml-subset.xsd",
}


def schema_path(layout: Layout, kind: FilingKind) -> Path:
    if layout not in LAYOUTS:
        raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}", code="report_layout_unknown")
    return SCHEMA_DIR / _SCHEMA_FILES[(layout, FilingKind(kind))]


@functools.cache
def _schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def render(filing: Filing, layout: Layout = "pboc", *, profile: goaml.GoamlProfile | None = None) -> bytes:
    """The filing as a schema-valid XML document in ``layout`` ("pboc" or "goaml")."""
    path = schema_path(layout, filing.kind)
    root = pboc.build(filing) if layout == "pboc" else goaml.build(filing, profile or goaml.GoamlProfile())
    document: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    validate(document, path)
    return document


def validate(document: bytes, schema: Path) -> None:
    """Raise ``ReportInvalid`` with every schema failure (line and message) unless ``document`` is valid."""
    if len(document) > DOCUMENT_BYTES_MAX:
        raise LimitExceeded(f"a report is at most {DOCUMENT_BYTES_MAX} bytes", code="report_too_large")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        tree = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as error:
        raise ReportInvalid(
            "the document is not well-formed XML", (str(error),), code="report_malformed"
        ) from None
    checker = _schema(schema)
    if not checker.validate(tree):
        errors = tuple(f"line {e.line}: {e.message}" for e in checker.error_log)
        raise ReportInvalid(f"the document fails {schema.name}", errors, code="report_schema_invalid")
