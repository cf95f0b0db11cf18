"""Penetrating supervision: the ownership graph of persons and enterprises, and its ultimate owners.

An edge records that a person or an enterprise holds a share (an exact
fraction in (0, 1]) of an enterprise's equity or votes over a period. The
ultimate beneficial owners of an enterprise are the persons whose effective
share (the sum over every chain, loops included, of the product of its
shares) reaches a threshold (25% by default), plus any person who controls
it by holding more than half at every link of a chain.

Invariants: only enterprises are owned and nothing owns itself; on every
date an enterprise's shares of one kind add up to at most 1; no group of
enterprises holds itself entirely (a closed loop is refused, so effective
ownership always converges); shares are never floats on their way in or
out; a regulator reads and never writes, and every read and write is
audited.

Public names: HolderKind, ShareKind, EdgeDraft, OwnershipEdge,
OwnershipPath, BeneficialOwner, UboReport, OwnershipChain,
OwnershipRejected, ClosedOwnershipLoop, DEFAULT_THRESHOLD,
EFFECTIVE_SHARE_PLACES, OwnershipGraph, beneficial_owners,
beneficial_owners_of_all, ultimate_shares, TOLERANCE, OwnershipStore,
aml_ownership_edges, TABLES, OwnershipService.
"""

from netfin.aml.ownership.effective import (
    TOLERANCE,
    OwnershipGraph,
    beneficial_owners,
    beneficial_owners_of_all,
    ultimate_shares,
)
from netfin.aml.ownership.model import (
    DEFAULT_THRESHOLD,
    EFFECTIVE_SHARE_PLACES,
    BeneficialOwner,
    ClosedOwnershipLoop,
    EdgeDraft,
    HolderKind,
    OwnershipChain,
    OwnershipEdge,
    OwnershipPath,
    OwnershipRejected,
    ShareKind,
    UboReport,
)
from netfin.aml.ownership.service import OwnershipService
from netfin.aml.ownership.store import TABLES, OwnershipStore, aml_ownership_edges

__all__ = [
    "DEFAULT_THRESHOLD",
    "EFFECTIVE_SHARE_PLACES",
    "TABLES",
    "TOLERANCE",
    "BeneficialOwner",
    "ClosedOwnershipLoop",
    "EdgeDraft",
    "HolderKind",
    "OwnershipChain",
    "OwnershipEdge",
    "OwnershipGraph",
    "OwnershipPath",
    "OwnershipRejected",
    "OwnershipService",
    "OwnershipStore",
    "ShareKind",
    "UboReport",
    "aml_ownership_edges",
    "beneficial_owners",
    "beneficial_owners_of_all",
    "ultimate_shares",
]
