"""netfin.ledger: the verifiable double-entry ledger every other context uses.

Model after TigerBeetle: accounts with four balances and limit flags;
transfers (plain, pending, post_pending, void_pending, balancing, closing)
in batches with linked all-or-nothing chains and exact idempotency.

Invariants: per currency, the sum of debits equals the sum of credits,
pending and posted; no flagged account crosses its limit; replaying the
hash-chained journal gives the stored balances; every checkpoint's signed
Merkle root matches the journal.

Public names: Ledger, Account, Transfer, AccountFlags, TransferFlags,
CreateAccountResult, CreateTransferResult, AccountBalance, Checkpoint,
InclusionProof, VerifyReport, AMOUNT_MAX, verify_proof.
"""

from netfin.ledger.journal import verify_proof
from netfin.ledger.model import (
    AMOUNT_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    Checkpoint,
    CreateAccountResult,
    CreateTransferResult,
    InclusionProof,
    Transfer,
    TransferFlags,
)
from netfin.ledger.service import BalancePage, Ledger, TransferPage
from netfin.ledger.verify import VerifyReport

__all__ = [
    "AMOUNT_MAX",
    "Account",
    "AccountBalance",
    "AccountFlags",
    "BalancePage",
    "Checkpoint",
    "CreateAccountResult",
    "CreateTransferResult",
    "InclusionProof",
    "Ledger",
    "Transfer",
    "TransferFlags",
    "TransferPage",
    "VerifyReport",
    "verify_proof",
]
