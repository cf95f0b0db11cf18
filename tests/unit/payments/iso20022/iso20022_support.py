"""Shared test support for the ISO 20022 tests: where the licensed files are, and
in-memory edits of the published samples (the samples are never copied)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from shared_data import missing

REPO_ROOT = Path(__file__).resolve().parents[4]
ISO_DATA = REPO_ROOT.parent / "shared" / "data" / "iso20022"
XSD_DIR = ISO_DATA / "xsd"
SAMPLES_DIR = ISO_DATA / "samples"

LT_SEPA = "lt_sepa_pain.001.001.03_sample.xml"
LT_INTL_USD = "lt_intl_usd_pain.001.001.03_sample.xml"
SIX_CH = "six_ch_pain.001.001.03.ch.02_sample.xml"
CBPR_PAIN001 = "cbprplus_2026_pain001_credit_initiation_sample.xml"
CBPR_PACS008 = "cbprplus_2026_pacs008_credit_transfer_sample.xml"
CBPR_PACS002 = "cbprplus_2026_pacs002_status_report_sample.xml"
CAMT053_SAMPLES = (
    "camt.053.001.02_statement_1.xml",
    "fi_camt.053.001.02_sample.xml",
    "postfinance_camt.053.001.04_sample.xml",
)
# IBANs in the samples whose BBAN does not even have the country's structure.
REPLACEMENT_IBANS = {"IT1122334455667788991122334": "IT60X0542811101000000123456"}


def sample(name: str) -> bytes:
    path = SAMPLES_DIR / name
    if not path.is_file():
        missing(f"ISO 20022 sample {path} not found (licensed; not in the repository)")
    return path.read_bytes()


def with_check_digits(iban: str) -> str:
    """The same IBAN with correct ISO 13616 check digits (the samples use 00)."""
    body = iban[4:] + iban[:2] + "00"
    number = int("".join(str(int(char, 36)) for char in body))
    return f"{iban[:2]}{98 - number % 97:02d}{iban[4:]}"


def edit(data: bytes, change: Callable[[Any, str], None]) -> bytes:
    """Parse ``data``, let ``change(document, namespace)`` edit it, serialize.
    Text-only edits keep every line where it was."""
    root = etree.fromstring(data.lstrip(b"\xef\xbb\xbf"))
    document = root if etree.QName(root).localname == "Document" else root.find("{*}Document")
    change(document, etree.QName(document).namespace)
    return bytes(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))


def find(document: Any, path: str) -> Any:
    """``path`` with ``p:`` prefixes in the document's namespace."""
    found = document.xpath(path, namespaces={"p": etree.QName(document).namespace})
    return found[0] if found else None


def find_all(document: Any, path: str) -> list[Any]:
    return list(document.xpath(path, namespaces={"p": etree.QName(document).namespace}))


def _repair(document: Any, namespace: str) -> None:
    for element in find_all(document, "//p:IBAN"):
        text = element.text.strip()
        element.text = REPLACEMENT_IBANS.get(text, with_check_digits(text))
    transfers = find_all(document, "//p:CdtTrfTxInf")
    find(document, "p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs").text = str(len(transfers))


def repaired(name: str) -> bytes:
    """A published pain.001 sample with its placeholder IBANs given valid
    check digits and its group NbOfTxs matching its transfers."""
    return edit(sample(name), _repair)


def relabelled(data: bytes, old: str, new: str) -> bytes:
    """The same message under another version's namespace (for validating a
    published sample of a version whose XSD is not configured)."""
    return data.replace(f"xsd:{old}".encode(), f"xsd:{new}".encode())


def duplicate_first_transfer(document: Any, namespace: str) -> None:
    """Append a copy of the first transfer to its PmtInf and fix the counts and sums."""
    transfer = find(document, "//p:CdtTrfTxInf")
    transfer.addnext(copy.deepcopy(transfer))
    amount = transfer.find(f"{{{namespace}}}Amt/{{{namespace}}}InstdAmt").text
    for path in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        header = find(document, path)
        header.find(f"{{{namespace}}}NbOfTxs").text = str(
            int(header.find(f"{{{namespace}}}NbOfTxs").text) + 1
        )
        control = header.find(f"{{{namespace}}}CtrlSum")
        control.text = str(Decimal(control.text) + Decimal(amount))
