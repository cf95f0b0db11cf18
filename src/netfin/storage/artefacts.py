"""Immutable, content-hashed artefact directories (trained models, scorecards).

An artefact is ``ROOT/<version>/``: its part files plus ``metadata.json``,
whose ``content_sha256`` covers every part and the rest of the metadata
(SHA-256 over the SHA-256 of each part, in order, then of the canonical
metadata). It is written aside and renamed into place, never overwritten;
a reader recomputes the hash and refuses any difference.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from netfin.core.errors import Conflict

METADATA_FILE = "metadata.json"


def canonical_json(data: Any) -> bytes:
    """One byte string per value: sorted keys, no whitespace, no NaN (metrics use None)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


def content_sha256(parts: Sequence[bytes], metadata: Mapping[str, Any]) -> str:
    body = {k: v for k, v in metadata.items() if k != "content_sha256"}
    hasher = hashlib.sha256()
    for part in (*parts, canonical_json(body)):
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()


def write_artefact(
    root: Path, version: str, parts: Mapping[str, bytes], metadata: Mapping[str, Any], *, what: str
) -> Path:
    """Write ``root/version/`` with ``parts`` (name -> bytes, hashed in this order) and the metadata."""
    target = root / version
    if target.exists():
        raise Conflict(
            f"{what} artefact {target} already exists; artefacts are immutable", code="model_exists"
        )
    root.mkdir(parents=True, exist_ok=True)
    stamped = {**metadata, "content_sha256": content_sha256(list(parts.values()), metadata)}
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    for name, data in parts.items():
        (staging / name).write_bytes(data)
    (staging / METADATA_FILE).write_text(
        json.dumps(stamped, indent=2, sort_keys=True, allow_nan=False) + "\n"
    )
    os.replace(staging, target)
    return target


def read_part(path: Path, missing: Callable[[str], Exception]) -> bytes:
    """A part's bytes; ``missing(message)`` is raised when the file is absent."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise missing(f"artefact incomplete: {path} is missing") from None
