"""Tests that read ../shared/data: skip with a reason where it is absent, fail under CI=true.

The data's licences keep it out of the repository; CI always has it, so a
missing file there is a broken checkout, never a reason to pass quietly.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI") == "true"


def missing(reason: str) -> None:
    """Skip the calling test (fail it under ``CI=true``) because shared data is absent."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def skip_unless(present: bool, reason: str) -> pytest.MarkDecorator:
    """A ``skipif`` that never skips under ``CI=true`` (the test then runs and fails)."""
    return pytest.mark.skipif(not present and not IN_CI, reason=reason)
