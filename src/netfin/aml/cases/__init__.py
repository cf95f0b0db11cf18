"""AML cases: alerts grouped per customer, worked, decided and filed with four eyes.

Public names: ``CaseService`` (ingest alerts, list and read cases, assign,
note, add evidence, decide, return, approve and file, ageing against the
SLA), ``Case``, ``CaseStatus``, ``Decision``, ``FilingKind``.

Invariants: one active case per customer collects its alerts; a replayed
alert is stored once; every change compare-and-sets the case's version,
is kept in the case's history and is audited; a report is filed only when a
second compliance officer approves it; regulators and auditors only read,
and their reads are audited.
"""

from netfin.aml.cases.model import Case, CaseStatus, Decision, FilingKind
from netfin.aml.cases.service import CaseService, Filing, Ingested

__all__ = ["Case", "CaseService", "CaseStatus", "Decision", "Filing", "FilingKind", "Ingested"]
