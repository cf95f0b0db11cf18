"""The fraud model: a LightGBM booster with a calibrator, trained on history split by time.

``train`` turns a table of labelled, featurised events into a
``TrainedModel`` (time split, class weighting, early stopping, calibration,
metrics per period, a fingerprint of the data); ``save`` and ``load`` move it
to and from a versioned, hash-checked artefact directory; ``Scorer`` serves
it in-process: one event's calibrated probability in tens of microseconds,
and the features behind a high score.

Invariants: training never sees an event later than any calibration event,
and calibration none later than any test event; every probability served is
calibrated; an artefact whose content hash does not match is never loaded.

Public names: TrainConfig, TrainedModel, FeatureSpec, TimeSplit, train,
split_by_time, save, load, ArtefactRejected, Scorer, fingerprint_table.
"""

from netfin.risk.model.artefact import ArtefactRejected, load, save
from netfin.risk.model.features import FeatureSpec
from netfin.risk.model.fingerprint import fingerprint_table
from netfin.risk.model.scoring import Scorer
from netfin.risk.model.training import TimeSplit, TrainConfig, TrainedModel, split_by_time, train

__all__ = [
    "ArtefactRejected",
    "FeatureSpec",
    "Scorer",
    "TimeSplit",
    "TrainConfig",
    "TrainedModel",
    "fingerprint_table",
    "load",
    "save",
    "split_by_time",
    "train",
]
