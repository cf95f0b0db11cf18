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

import json
from pathlib import Path

import lightgbm as lgb

from netfin.core.errors import InvalidInput
from netfin.risk.model.calibration import calibrator_from_json
from netfin.risk.model.features import FeatureSpec
from netfin.risk.model.training import ARTEFACT_FORMAT, ARTEFACT_KIND, TrainedModel
from netfin.storage.artefacts import canonical_json, read_artefact, write_artefact

MODEL_FILE = "model.txt"
CALIBRATOR_FILE = "calibrator.json"


class ArtefactRejected(InvalidInput):
    """A model artefact that is incomplete, of an unknown format, or altered since it was saved."""

    code = "model_artefact_rejected"


def save(model: TrainedModel, directory: str | Path) -> Path:
    """Write the artefact to ``directory/<version>/`` and return that path."""
    parts = {
        MODEL_FILE: model.model_text.encode(),
        CALIBRATOR_FILE: canonical_json(model.calibrator.to_json()),
    }
    return write_artefact(Path(directory), model.version, parts, model.metadata, what="model")


def load(directory: str | Path) -> TrainedModel:
    """Read and verify an artefact directory written by ``save``."""
    root = Path(directory)
    parts, metadata = read_artefact(
        root,
        (MODEL_FILE, CALIBRATOR_FILE),
        what="model",
        kind=ARTEFACT_KIND,
        fmt=ARTEFACT_FORMAT,
        rejected=lambda message, code: ArtefactRejected(message, code=code),
    )
    model_bytes = parts[MODEL_FILE]
    try:
        calibrator_data = json.loads(parts[CALIBRATOR_FILE])
    except json.JSONDecodeError as error:
        raise ArtefactRejected(f"model artefact {root} holds malformed JSON: {error}") from None
    model_text = model_bytes.decode()
    features = tuple(FeatureSpec.from_json(f) for f in metadata["features"])
    return TrainedModel(
        lgb.Booster(model_str=model_text),
        model_text,
        features,
        calibrator_from_json(calibrator_data),
        metadata,
    )
