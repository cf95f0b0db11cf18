"""Locating the configured XSDs and the rejection when one is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from iso20022_support import LT_SEPA, REPO_ROOT, XSD_DIR, repaired

from netfin.core.errors import InvariantViolation
from netfin.payments.iso20022 import SchemaSet, SchemaUnavailable, read_pain001
from netfin.payments.iso20022.document import Builder
from netfin.payments.iso20022.xsd import XSD_DIR_ENV, candidate_directories


def test_the_environment_variable_names_the_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(XSD_DIR_ENV, str(tmp_path))
    assert candidate_directories() == (tmp_path,)
    assert SchemaSet().directory == tmp_path


def test_default_directories_are_next_to_the_working_directory_and_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(XSD_DIR_ENV, raising=False)
    shared = Path("shared") / "data" / "iso20022" / "xsd"
    assert candidate_directories(tmp_path / "work") == (tmp_path / shared, REPO_ROOT.parent / shared)


def test_no_directory_is_schema_unavailable(tmp_path: Path) -> None:
    schemas = SchemaSet(tmp_path / "absent")
    assert schemas.directory is None and not schemas.has("pain.001.001.03")
    with pytest.raises(SchemaUnavailable) as unavailable:
        schemas.problems(Builder("urn:x").document(), "pain.001.001.03")
    assert unavailable.value.code == "iso20022_schema_unavailable"
    assert XSD_DIR_ENV in unavailable.value.message


@pytest.mark.usefixtures("samples_available")
def test_a_missing_xsd_is_schema_unavailable_not_a_refusal(tmp_path: Path) -> None:
    (tmp_path / "pacs.008.001.09.xsd").write_text("<unused/>")
    with pytest.raises(SchemaUnavailable) as unavailable:
        read_pain001(repaired(LT_SEPA), schemas=SchemaSet(tmp_path))
    assert "pain.001.001.03.xsd" in unavailable.value.message
    assert str(tmp_path) in unavailable.value.message


def test_a_built_message_that_fails_its_xsd_is_a_bug(schemas: SchemaSet) -> None:
    builder = Builder("urn:iso:std:iso:20022:tech:xsd:pacs.008.001.09")
    document = builder.document()
    builder.add(document, "FIToFICstmrCdtTrf")
    with pytest.raises(InvariantViolation, match="fails its XSD"):
        schemas.emitted(document, "pacs.008.001.09")


def test_the_shared_directory_is_where_the_tests_look() -> None:
    assert XSD_DIR == REPO_ROOT.parent / "shared" / "data" / "iso20022" / "xsd"
