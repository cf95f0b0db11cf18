"""Fixtures for the ISO 20022 tests.

The XSDs and published samples are licensed and live outside the repository
(``<repo>/../shared/data/iso20022``); tests that need them skip with the
reason when that directory is absent.
"""

from __future__ import annotations

import pytest
from iso20022_support import SAMPLES_DIR, XSD_DIR
from shared_data import missing

from netfin.payments.iso20022.xsd import SchemaSet


@pytest.fixture(scope="session")
def schemas() -> SchemaSet:
    if not XSD_DIR.is_dir():
        missing(f"ISO 20022 XSDs not found at {XSD_DIR} (licensed; not in the repository)")
    return SchemaSet(XSD_DIR)


@pytest.fixture(scope="session")
def samples_available() -> None:
    if not SAMPLES_DIR.is_dir():
        missing(f"ISO 20022 samples not found at {SAMPLES_DIR} (licensed; not in the repository)")
