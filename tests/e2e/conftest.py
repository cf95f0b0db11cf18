"""Fixtures for the end-to-end suites."""

from __future__ import annotations

from types import ModuleType

import pytest

from . import obspec as obspec_module


@pytest.fixture
def obspec() -> ModuleType:
    """The UK OB v4.0 conformance harness (``tests/e2e/obspec.py``).

    Skips the test with a reason where ``../shared/`` holds no OpenAPI files,
    and fails it instead under ``CI=true``.
    """
    obspec_module.require_specs()
    return obspec_module
