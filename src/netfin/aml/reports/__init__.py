"""Regulatory reports: large-value and suspicious transaction reports as schema-valid XML.

A case that ends in a report fills a ``Filing`` (reporting institution,
subject, transactions, feature or criterion codes, the analysis, the
measures taken, the four-eyes approvers); ``render(filing, layout)`` turns
it into bytes. Layout ``"pboc"`` (the default) follows the People's Bank of
China's rules on large-value and suspicious transaction reports (PBoC
Order [2016] No. 3, amended 2018) in netfin's own documented XML layout;
layout ``"goaml"`` writes goAML-style XML, validated against netfin's
schema for the subset it emits (not UNODC's file). See docs/aml-reports.md.

Invariants: amounts are integer minor units with an ISO 4217 currency,
written as integers (PBoC layout) or as exact decimal strings (goAML),
never through a float; ``render`` never returns a document that fails its
schema; the same filing always renders to the same bytes; every list and
text has a maximum (``TRANSACTIONS_PER_FILING_MAX`` transactions).

Public names: render, validate, schema_path, LAYOUTS, Filing, FilingKind,
ReportingEntity, Subject, ReportTransaction, PartyKind, Direction, Channel,
IdType, LargeValueCriterion, ReportCount, Urgency, ReportInvalid,
GoamlProfile, TRANSACTIONS_PER_FILING_MAX.
"""

from netfin.aml.reports.goaml import GoamlProfile
from netfin.aml.reports.model import (
    TRANSACTIONS_PER_FILING_MAX,
    Channel,
    Direction,
    Filing,
    FilingKind,
    IdType,
    LargeValueCriterion,
    PartyKind,
    ReportCount,
    ReportingEntity,
    ReportInvalid,
    ReportTransaction,
    Subject,
    Urgency,
)
from netfin.aml.reports.render import LAYOUTS, render, schema_path, validate

__all__ = [
    "LAYOUTS",
    "TRANSACTIONS_PER_FILING_MAX",
    "Channel",
    "Direction",
    "Filing",
    "FilingKind",
    "GoamlProfile",
    "IdType",
    "LargeValueCriterion",
    "PartyKind",
    "ReportCount",
    "ReportInvalid",
    "ReportTransaction",
    "ReportingEntity",
    "Subject",
    "Urgency",
    "render",
    "schema_path",
    "validate",
]
