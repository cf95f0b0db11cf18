"""YAML parsing with libyaml's C loader where PyYAML was built with it.

The pure-Python ``yaml.safe_load`` takes about 0.1 s for each of netfin's
packaged profiles (risk rules, AML monitoring, credit products), and a
``Bank`` reads several of them when it opens; the C loader reads the same
documents into the same values about ten times faster. Both are *safe*
loaders: plain scalars, lists and mappings only, never Python objects.
Errors are ``yaml.YAMLError`` either way.
"""

from __future__ import annotations

from typing import Any

import yaml

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str | bytes) -> Any:
    """Parse one YAML document with the safe loader (C when available)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader, C or Python


def compose(text: str | bytes) -> Any:
    """The document's node tree (marks included), for checks the loader would not make."""
    return yaml.compose(text, Loader=_SAFE_LOADER)
