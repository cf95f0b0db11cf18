"""Open banking: what third parties may read and do under a customer's consent.

Purpose: the use cases behind the UK Open Banking v4.0 resources (account
information, payment initiation, confirmation of funds) and the customer's
side of consenting, on top of identity, consents, payments and the ledger.

Invariants:
- Every TPP operation re-reads its consent, so revocation and expiry take
  effect on the very next request.
- A TPP sees only accounts its authorised, unexpired consent names, and an
  account or consent outside its rights is indistinguishable from one that
  does not exist.
- Every TPP operation, allowed or refused, is written to the audit log with
  its consent and the refusal code.

Public names: ``OpenBanking``, ``TppAccess``, ``Balance``, ``TransactionPage``.
"""

from netfin.openbanking.service import Balance, OpenBanking, TppAccess, TransactionPage

__all__ = ["Balance", "OpenBanking", "TppAccess", "TransactionPage"]
