"""Behavioural features: one catalogue, computed online per event and offline over history.

``catalogue`` defines every feature once; ``online.OnlineFeatures`` computes
them per event from state kept in-process or in Redis; ``offline.compute_offline``
computes them over a whole history for training. Both give the same values.
"""

from netfin.risk.features.catalogue import FEATURE_NAMES, FeatureConfig, variable_types
from netfin.risk.features.offline import compute_offline
from netfin.risk.features.online import MemoryStateStore, OnlineFeatures, RedisStateStore

__all__ = [
    "FEATURE_NAMES",
    "FeatureConfig",
    "MemoryStateStore",
    "OnlineFeatures",
    "RedisStateStore",
    "compute_offline",
    "variable_types",
]
