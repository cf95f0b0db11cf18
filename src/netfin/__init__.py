"""netfin: an open-source digital-finance platform on one verifiable double-entry ledger."""

__version__ = "0.1.0"
