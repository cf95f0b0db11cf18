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


def read_artefact(
    root: Path,
    names: Sequence[str],
    *,
    what: str,
    kind: str,
    fmt: object,
    rejected: Callable[[str, str], Exception],
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Read the parts ``names`` and the metadata of ``root``; check its kind, format and content hash.

    Returns the parts and the metadata without its hash. ``rejected(message, code)`` builds the
    refusal; codes are ``<what>_artefact_incomplete``, ``_malformed``, ``_format`` and ``_tampered``.
    """
    parts = {name: read_part(root / name, lambda m: rejected(f"{what} {m}", f"{what}_artefact_incomplete"))
             for name in names}  # fmt: skip
    raw = read_part(root / METADATA_FILE, lambda m: rejected(f"{what} {m}", f"{what}_artefact_incomplete"))
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise rejected(
            f"{what} artefact {root} holds malformed JSON: {error}", f"{what}_artefact_malformed"
        ) from None
    if not isinstance(metadata, dict):
        raise rejected(f"{what} artefact {root} is malformed", f"{what}_artefact_malformed")
    if metadata.get("kind") != kind or metadata.get("format") != fmt:
        raise rejected(f"{root} is not a {kind} artefact of format {fmt}", f"{what}_artefact_format")
    recorded = metadata.pop("content_sha256", None)
    actual = content_sha256(list(parts.values()), metadata)
    if recorded != actual:
        raise rejected(
            f"{what} artefact {root} was altered after it was saved: content hash {actual} does not match "
            f"the recorded {recorded}; refusing to load it",
            f"{what}_artefact_tampered",
        )
    return parts, metadata
