"""A trained model on disk: a versioned directory of text files, checked when loaded.

Layout of ``<directory>/<version>/``:

* ``model.txt``: LightGBM's own text format (readable, diffable, portable
  across LightGBM versions that read it).
* ``calibrator.json``: the calibrator's numbers (no pickle: loading a model
  must never run code that came with it).
* ``metadata.json``: version, creation time, features and vocabularies,
  parameters, the time split, metrics per period, the training-data
  fingerprint, and ``content_sha256``.

``content_sha256`` is the sha256 over the sha256 of ``model.txt``, that of
``calibrator.json`` and that of the canonical JSON of the metadata without
this field. ``load`` recomputes it and refuses the artefact on any
difference, so an edited threshold, a swapped model file or a truncated copy
cannot be served silently. It detects changes, it does not authenticate:
whoever can write the directory can recompute the hash, so deployment still
has to control who writes artefacts (or sign ``content_sha256``).

Artefacts are immutable: ``save`` refuses to overwrite a version, and writes
into a temporary directory renamed into place, so a reader never sees half
an artefact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb

from netfin.core.errors import Conflict, InvalidInput
from netfin.risk.model.calibration import calibrator_from_json
from netfin.risk.model.features import FeatureSpec
from netfin.risk.model.training import ARTEFACT_FORMAT, ARTEFACT_KIND, TrainedModel

MODEL_FILE = "model.txt"
CALIBRATOR_FILE = "calibrator.json"
METADATA_FILE = "metadata.json"


class ArtefactRejected(InvalidInput):
    """A model artefact that is incomplete, of an unknown format, or altered since it was saved."""

    code = "model_artefact_rejected"


def _canonical_json(data: Any) -> bytes:
    """One byte string per value: sorted keys, no whitespace, no NaN (metrics use None)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


def _content_sha256(model_bytes: bytes, calibrator_bytes: bytes, metadata: dict[str, Any]) -> str:
    body = {k: v for k, v in metadata.items() if k != "content_sha256"}
    hasher = hashlib.sha256()
    for part in (model_bytes, calibrator_bytes, _canonical_json(body)):
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()


def save(model: TrainedModel, directory: str | Path) -> Path:
    """Write the artefact to ``directory/<version>/`` and return that path."""
    root = Path(directory)
    target = root / model.version
    if target.exists():
        raise Conflict(
            f"model artefact {target} already exists; artefacts are immutable", code="model_exists"
        )
    root.mkdir(parents=True, exist_ok=True)
    model_bytes = model.model_text.encode()
    calibrator_bytes = _canonical_json(model.calibrator.to_json())
    metadata = dict(model.metadata)
    metadata["content_sha256"] = _content_sha256(model_bytes, calibrator_bytes, metadata)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.version}-", dir=root))
    (staging / MODEL_FILE).write_bytes(model_bytes)
    (staging / CALIBRATOR_FILE).write_bytes(calibrator_bytes)
    (staging / METADATA_FILE).write_text(
        json.dumps(metadata, indent=2, sort_keys=True, allow_nan=False) + "\n"
    )
    os.replace(staging, target)
    return target


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtefactRejected(
            f"model artefact incomplete: {path} is missing", code="model_artefact_incomplete"
        ) from None


def load(directory: str | Path) -> TrainedModel:
    """Read and verify an artefact directory written by ``save``."""
    root = Path(directory)
    model_bytes = _read(root / MODEL_FILE)
    calibrator_bytes = _read(root / CALIBRATOR_FILE)
    try:
        metadata = json.loads(_read(root / METADATA_FILE))
        calibrator_data = json.loads(calibrator_bytes)
    except json.JSONDecodeError as error:
        raise ArtefactRejected(f"model artefact {root} holds malformed JSON: {error}") from None
    if metadata.get("kind") != ARTEFACT_KIND or metadata.get("format") != ARTEFACT_FORMAT:
        raise ArtefactRejected(
            f"{root} is not a fraud-model artefact of format {ARTEFACT_FORMAT}", code="model_artefact_format"
        )
    recorded = metadata.get("content_sha256")
    actual = _content_sha256(model_bytes, calibrator_bytes, metadata)
    if recorded != actual:
        raise ArtefactRejected(
            f"model artefact {root} was altered after it was saved: content hash {actual} "
            f"does not match the recorded {recorded}; refusing to load it",
            code="model_artefact_tampered",
        )
    model_text = model_bytes.decode()
    features = tuple(FeatureSpec.from_json(f) for f in metadata["features"])
    metadata.pop("content_sha256")
    return TrainedModel(
        lgb.Booster(model_str=model_text),
        model_text,
        features,
        calibrator_from_json(calibrator_data),
        metadata,
    )
