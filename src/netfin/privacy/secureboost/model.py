"""SecureBoost's domain types: hyperparameters with their limits, split records, trees, saved models.

A tree is held by the guest as nodes keyed by heap position (root 0, the
children of ``i`` are ``2i+1`` and ``2i+2``). An inner node names only the
party that owns its split and that party's record id; the record itself
(feature, bin, threshold, side of the missing values) lives in the owner's
lookup table. Leaves carry the weight already scaled by the learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from netfin.core.errors import InvalidInput, LimitExceeded

TREES_MAX = 200
DEPTH_MAX = 8
BINS_MAX = 64
ROWS_MAX = 1_000_000
FEATURES_MAX = 1_000
HOSTS_MAX = 8
FIXED_POINT_BITS = 24
MODEL_FORMAT = 1


@dataclass(frozen=True)
class BoostParams:
    """XGBoost-style hyperparameters (the names LightGBM uses are in ``reference.lightgbm_params``)."""

    trees: int = 10
    depth: int = 4
    learning_rate: float = 0.3
    max_bin: int = 32
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0
    min_data_in_leaf: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.trees <= TREES_MAX:
            raise LimitExceeded(f"trees must be 1 to {TREES_MAX}, not {self.trees}")
        if not 1 <= self.depth <= DEPTH_MAX:
            raise LimitExceeded(f"depth must be 1 to {DEPTH_MAX}, not {self.depth}")
        if not 2 <= self.max_bin <= BINS_MAX:
            raise LimitExceeded(f"bins must be 2 to {BINS_MAX}, not {self.max_bin}")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1):
            raise InvalidInput(f"learning rate must lie in (0, 1], not {self.learning_rate}")
        for name in ("reg_lambda", "gamma", "min_child_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1e6):
                raise InvalidInput(f"{name} must lie in [0, 1e6], not {value}")
        if not 1 <= self.min_data_in_leaf <= ROWS_MAX:
            raise InvalidInput(f"min_data_in_leaf must be 1 to {ROWS_MAX}, not {self.min_data_in_leaf}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BoostParams:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise InvalidInput(f"unknown hyperparameters {sorted(unknown)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class SplitRecord:
    """One row of a party's lookup table: rows with ``value <= threshold`` go left.

    ``threshold`` None means every non-missing value goes left (the split
    separates the missing values); missing values go left iff ``missing_left``.
    """

    record: int
    feature: str
    bin: int
    threshold: float | None
    missing_left: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SplitRecord:
        threshold = data["threshold"]
        return cls(
            record=int(data["record"]),
            feature=str(data["feature"]),
            bin=int(data["bin"]),
            threshold=None if threshold is None else float(threshold),
            missing_left=bool(data["missing_left"]),
        )


@dataclass(frozen=True)
class Node:
    """An inner node (``owner``, ``record``) or a leaf (``weight``)."""

    id: int
    owner: str | None = None
    record: int | None = None
    weight: float | None = None

    @property
    def is_leaf(self) -> bool:
        return self.weight is not None

    def to_json(self) -> dict[str, Any]:
        if self.weight is not None:
            return {"id": self.id, "weight": self.weight}
        return {"id": self.id, "owner": self.owner, "record": self.record}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Node:
        if "weight" in data:
            return cls(id=int(data["id"]), weight=float(data["weight"]))
        return cls(id=int(data["id"]), owner=str(data["owner"]), record=int(data["record"]))


@dataclass
class Tree:
    nodes: dict[int, Node] = field(default_factory=dict)

    def to_json(self) -> list[dict[str, Any]]:
        return [self.nodes[i].to_json() for i in sorted(self.nodes)]

    @classmethod
    def from_json(cls, data: list[Mapping[str, Any]]) -> Tree:
        return cls({int(n["id"]): Node.from_json(n) for n in data})


def guest_model_json(
    *,
    model_id: str,
    party: str,
    hosts: list[str],
    params: BoostParams,
    base_score: float,
    trees: list[Tree],
    records: list[SplitRecord],
) -> dict[str, Any]:
    """The guest's saved model: tree structure, split owners, leaf weights and its own lookup table."""
    return {
        "format": MODEL_FORMAT,
        "kind": "secureboost-guest",
        "model_id": model_id,
        "party": party,
        "hosts": hosts,
        "params": params.to_json(),
        "base_score": base_score,
        "trees": [t.to_json() for t in trees],
        "records": [r.to_json() for r in records],
    }


def host_model_json(*, model_id: str, party: str, guest: str, records: list[SplitRecord]) -> dict[str, Any]:
    """A host's saved model: its own lookup table only."""
    return {
        "format": MODEL_FORMAT,
        "kind": "secureboost-host",
        "model_id": model_id,
        "party": party,
        "guest": guest,
        "records": [r.to_json() for r in records],
    }
