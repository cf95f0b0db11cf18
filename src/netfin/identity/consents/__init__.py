"""Open-banking consents (UK Open Banking Read/Write API v4.0 semantics).

Purpose: record what a third party (TPP) may do for a customer — read which
accounts and fields, make which one payment, confirm funds on which account —
and decide, on every request, whether the consent still covers it.

Invariants:
- A TPP sees only its own consents; a consent of another TPP is "not found".
- Only the customer, after a passkey assertion, authorises a consent, and only
  over accounts that are theirs.
- States move only along ``model.TRANSITIONS`` (AWAU -> AUTH -> CANC/EXPD, or
  RJCT; a payment consent AUTH -> COND once, atomically with its payment).
- Expiry is evaluated on every read; revocation is effective on the next request.

Public names: ``Consent``, ``ConsentKind``, ``ConsentStatus``, ``Permission``,
``Consents`` (the service).
"""

from netfin.identity.consents.model import Consent, ConsentKind, ConsentStatus, Permission
from netfin.identity.consents.service import Consents

__all__ = ["Consent", "ConsentKind", "ConsentStatus", "Consents", "Permission"]
