"""Vertical federated gradient boosting (SecureBoost) between separate party processes.

The guest (the bank) holds the labels and some features; each host (a
partner) holds other features of the same customers. They align their ids
by PSI, then grow XGBoost-style trees level by level: the guest encrypts the
gradients (additively homomorphic, ``netfin.privacy.he``), the hosts sum them
per bucket of their own features without seeing them, and only the guest
decrypts and chooses splits. ``protocol`` describes the messages and what
each party learns.

Invariants: a party reads only its own file; cut points and thresholds stay
with the party that owns the feature; labels, gradients and leaf weights stay
with the guest; only the guest holds the secret key; the federated trees are
the trees the same algorithm grows on the pooled data (``reference``), split
for split, because both run ``tree.grow_tree`` on exact integer histograms.

Public names: ``guest_party``, ``host_party``, ``run_guest``, ``run_host``
(protocol functions for ``run_parties``), ``BoostParams``, ``train_reference``,
``lightgbm_auc``, ``read_party_csv``, ``stratified_split``.
"""

from netfin.privacy.secureboost.data import PartyTable, read_party_csv, stratified_split
from netfin.privacy.secureboost.model import BoostParams, SplitRecord, Tree
from netfin.privacy.secureboost.protocol import (
    GuestConfig,
    HostConfig,
    guest_party,
    host_party,
    run_guest,
    run_host,
)
from netfin.privacy.secureboost.reference import FeatureBlock, ReferenceResult, lightgbm_auc, train_reference

__all__ = [
    "BoostParams",
    "FeatureBlock",
    "GuestConfig",
    "HostConfig",
    "PartyTable",
    "ReferenceResult",
    "SplitRecord",
    "Tree",
    "guest_party",
    "host_party",
    "lightgbm_auc",
    "read_party_csv",
    "run_guest",
    "run_host",
    "stratified_split",
    "train_reference",
]
