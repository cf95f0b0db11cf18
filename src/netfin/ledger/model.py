"""Ledger domain types, after TigerBeetle's data model.

An account belongs to one currency (its ledger) and carries four balances:
``debits_pending``, ``debits_posted``, ``credits_pending``, ``credits_posted``.
A transfer moves an amount from a debit account to a credit account of the
same currency. Amounts are integers in minor units, at most ``2**63 - 1`` so
that every balance fits a signed 64-bit column on both stores.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from netfin.core.limits import INT64_MAX

# ``post_pending`` with this amount posts whatever is still pending.
AMOUNT_MAX = INT64_MAX


class AccountFlags(enum.IntFlag):
    NONE = 0
    LINKED = 1 << 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3
    # Set by the ledger while a closing transfer is pending (voiding or expiry
    # reopens the account), never by the caller.
    CLOSED = 1 << 5


_CLOSED_BIT = int(AccountFlags.CLOSED)

ACCOUNT_FLAGS_CREATABLE = (
    AccountFlags.LINKED
    | AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    | AccountFlags.HISTORY
)


class TransferFlags(enum.IntFlag):
    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING = 1 << 2
    VOID_PENDING = 1 << 3
    BALANCING_DEBIT = 1 << 4
    BALANCING_CREDIT = 1 << 5
    CLOSING_DEBIT = 1 << 6
    CLOSING_CREDIT = 1 << 7


TRANSFER_FLAGS_ALL = 0xFF


@dataclass(slots=True)
class Account:
    id: int
    currency: str
    code: int
    flags: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0

    @property
    def closed(self) -> bool:
        return bool(self.flags & _CLOSED_BIT)  # a plain int: IntFlag arithmetic is slow

    def balance(self) -> int:
        """Posted credits minus posted debits (a liability-style balance)."""
        return self.credits_posted - self.debits_posted


@dataclass(slots=True)
class Transfer:
    id: int
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int = 0
    currency: str = ""
    code: int = 0
    flags: int = 0
    pending_id: int = 0
    timeout: int = 0  # seconds; only for pending transfers
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's balances right after one transfer (accounts with HISTORY)."""

    account_id: int
    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


class CreateAccountResult(enum.StrEnum):
    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    TIMESTAMP_MUST_BE_ZERO = "timestamp_must_be_zero"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    ID_OUT_OF_RANGE = "id_out_of_range"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    BALANCES_MUST_BE_ZERO = "balances_must_be_zero"
    CURRENCY_MUST_BE_VALID = "currency_must_be_valid"
    CODE_MUST_NOT_BE_ZERO = "code_must_not_be_zero"
    CODE_OUT_OF_RANGE = "code_out_of_range"
    USER_DATA_OUT_OF_RANGE = "user_data_out_of_range"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_USER_DATA_128 = "exists_with_different_user_data_128"
    EXISTS_WITH_DIFFERENT_USER_DATA_64 = "exists_with_different_user_data_64"
    EXISTS_WITH_DIFFERENT_USER_DATA_32 = "exists_with_different_user_data_32"
    EXISTS_WITH_DIFFERENT_CURRENCY = "exists_with_different_currency"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS = "exists"


class CreateTransferResult(enum.StrEnum):
    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    TIMESTAMP_MUST_BE_ZERO = "timestamp_must_be_zero"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    ID_OUT_OF_RANGE = "id_out_of_range"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "debit_account_id_must_not_be_zero"
    CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "credit_account_id_must_not_be_zero"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    PENDING_ID_MUST_NOT_BE_ZERO = "pending_id_must_not_be_zero"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    TIMEOUT_OUT_OF_RANGE = "timeout_out_of_range"
    CLOSING_TRANSFER_MUST_BE_PENDING = "closing_transfer_must_be_pending"
    AMOUNT_MUST_NOT_BE_ZERO = "amount_must_not_be_zero"
    AMOUNT_MUST_NOT_BE_NEGATIVE = "amount_must_not_be_negative"
    AMOUNT_EXCEEDS_MAX = "amount_exceeds_max"
    CURRENCY_MUST_BE_VALID = "currency_must_be_valid"
    CODE_MUST_NOT_BE_ZERO = "code_must_not_be_zero"
    CODE_OUT_OF_RANGE = "code_out_of_range"
    USER_DATA_OUT_OF_RANGE = "user_data_out_of_range"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY = "accounts_must_have_the_same_currency"
    TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS = "transfer_must_have_the_same_currency_as_accounts"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = "pending_transfer_has_different_debit_account_id"
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = "pending_transfer_has_different_credit_account_id"
    PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY = "pending_transfer_has_different_currency"
    PENDING_TRANSFER_HAS_DIFFERENT_CODE = "pending_transfer_has_different_code"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = "exists_with_different_debit_account_id"
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = "exists_with_different_credit_account_id"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_PENDING_ID = "exists_with_different_pending_id"
    EXISTS_WITH_DIFFERENT_USER_DATA_128 = "exists_with_different_user_data_128"
    EXISTS_WITH_DIFFERENT_USER_DATA_64 = "exists_with_different_user_data_64"
    EXISTS_WITH_DIFFERENT_USER_DATA_32 = "exists_with_different_user_data_32"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS_WITH_DIFFERENT_CURRENCY = "exists_with_different_currency"
    EXISTS = "exists"
    OVERFLOWS_DEBITS_PENDING = "overflows_debits_pending"
    OVERFLOWS_CREDITS_PENDING = "overflows_credits_pending"
    OVERFLOWS_DEBITS_POSTED = "overflows_debits_posted"
    OVERFLOWS_CREDITS_POSTED = "overflows_credits_posted"
    OVERFLOWS_DEBITS = "overflows_debits"
    OVERFLOWS_CREDITS = "overflows_credits"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"
    DEBIT_ACCOUNT_ALREADY_CLOSED = "debit_account_already_closed"
    CREDIT_ACCOUNT_ALREADY_CLOSED = "credit_account_already_closed"


class PendingStatus(enum.IntEnum):
    PENDING = 1
    POSTED = 2
    VOIDED = 3
    EXPIRED = 4


@dataclass(slots=True)
class PendingState:
    """The lifecycle of one pending transfer (derivable from the journal)."""

    transfer: Transfer
    status: PendingStatus
    expires_at: int  # ledger timestamp (ns); 0 = never


class JournalKind(enum.IntEnum):
    ACCOUNT = 1
    TRANSFER = 2
    EXPIRY = 3


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int  # 1-based position in the journal; also its Merkle leaf index (pymerkle counts from 1)
    kind: JournalKind
    ref_id: int
    timestamp: int
    leaf_hash: bytes
    chain_hash: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: "the journal's first ``tree_size`` entries have this
    Merkle root and this chain head"."""

    seq: int
    tree_size: int
    root: bytes
    chain_hash: bytes
    timestamp: int
    public_key: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that one transfer is the journal entry at ``leaf_index`` of the
    tree a checkpoint signs. Serialisable; verifiable without a database."""

    transfer_id: int
    leaf_index: int
    tree_size: int
    checkpoint_seq: int
    merkle: dict[str, Any] = field(default_factory=dict)
