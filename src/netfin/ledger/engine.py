"""The state machine of a batch: pure Python over preloaded state, no I/O.

The service loads every account, committed transfer and pending transfer that
a batch can touch, runs the batch here, and writes the outcome in one database
transaction. Keeping the rules free of I/O lets the property tests drive them
against a model and lets ``verify`` replay the journal with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netfin.core.clock import NS_PER_SECOND
from netfin.core.limits import INT64_MAX, UINT16_MAX, UINT32_MAX, UINT128_MAX
from netfin.core.money import is_currency
from netfin.ledger.model import (
    ACCOUNT_FLAGS_CREATABLE,
    AMOUNT_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    PendingState,
    PendingStatus,
    Transfer,
)

R = CreateTransferResult
A = CreateAccountResult

_LINKED = 1
_PENDING = 2
_POST = 4
_VOID = 8
_BAL_DR = 16
_BAL_CR = 32
_CLOSE_DR = 64
_CLOSE_CR = 128
_HISTORY = int(AccountFlags.HISTORY)
_CLOSED = int(AccountFlags.CLOSED)
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)


@dataclass(slots=True)
class TransferBatchOutcome:
    results: list[CreateTransferResult]
    created: list[Transfer] = field(default_factory=list)
    touched: dict[int, Account] = field(default_factory=dict)
    # pending id -> its state after the batch (new pendings and status changes)
    pending_changes: dict[int, PendingState] = field(default_factory=dict)
    pending_new: set[int] = field(default_factory=set)
    history: list[AccountBalance] = field(default_factory=list)


def _in_range_id(value: int) -> bool:
    return 0 < value < UINT128_MAX


def validate_transfer_shape(t: Transfer) -> CreateTransferResult | None:
    """Checks that need no state. Returns a rejection or None."""
    flags = t.flags
    if t.timestamp != 0:
        return R.TIMESTAMP_MUST_BE_ZERO
    if flags < 0 or flags & ~0xFF:
        return R.RESERVED_FLAG
    if t.id == 0:
        return R.ID_MUST_NOT_BE_ZERO
    if t.id == UINT128_MAX:
        return R.ID_MUST_NOT_BE_INT_MAX
    if not 0 < t.id < UINT128_MAX:
        return R.ID_OUT_OF_RANGE
    post_or_void = flags & (_POST | _VOID)
    if post_or_void:
        if flags & _PENDING or flags & (_POST | _VOID) == (_POST | _VOID):
            return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if flags & (_BAL_DR | _BAL_CR | _CLOSE_DR | _CLOSE_CR):
            return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    elif flags & (_CLOSE_DR | _CLOSE_CR) and not flags & _PENDING:
        return R.CLOSING_TRANSFER_MUST_BE_PENDING
    if t.amount < 0:
        return R.AMOUNT_MUST_NOT_BE_NEGATIVE
    if t.amount > AMOUNT_MAX:
        return R.AMOUNT_EXCEEDS_MAX
    if not 0 <= t.code <= UINT16_MAX:
        return R.CODE_OUT_OF_RANGE
    if not (0 <= t.user_data_128 <= UINT128_MAX and 0 <= t.user_data_64 <= INT64_MAX):
        return R.USER_DATA_OUT_OF_RANGE
    if not 0 <= t.user_data_32 <= UINT32_MAX:
        return R.USER_DATA_OUT_OF_RANGE
    if post_or_void:
        return _validate_post_or_void_shape(t)
    return _validate_plain_shape(t)


def _validate_post_or_void_shape(t: Transfer) -> CreateTransferResult | None:
    if t.pending_id == 0:
        return R.PENDING_ID_MUST_NOT_BE_ZERO
    if t.pending_id == t.id:
        return R.PENDING_ID_MUST_BE_DIFFERENT
    if not 0 < t.pending_id < UINT128_MAX:
        return R.PENDING_TRANSFER_NOT_FOUND
    if t.timeout != 0:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if t.debit_account_id and t.debit_account_id == t.credit_account_id:
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    if t.currency and not is_currency(t.currency):
        return R.CURRENCY_MUST_BE_VALID
    if t.amount == 0 and t.flags & _POST:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    return None


def _validate_plain_shape(t: Transfer) -> CreateTransferResult | None:
    if t.pending_id != 0:
        return R.PENDING_ID_MUST_BE_ZERO
    if t.timeout != 0 and not t.flags & _PENDING:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if not 0 <= t.timeout <= UINT32_MAX:
        return R.TIMEOUT_OUT_OF_RANGE
    if t.debit_account_id == 0:
        return R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.credit_account_id == 0:
        return R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.debit_account_id == t.credit_account_id:
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    if t.amount == 0 and not t.flags & (_BAL_DR | _BAL_CR):
        return R.AMOUNT_MUST_NOT_BE_ZERO
    if not is_currency(t.currency):
        return R.CURRENCY_MUST_BE_VALID
    if t.code == 0:
        return R.CODE_MUST_NOT_BE_ZERO
    return None


def compare_existing_transfer(t: Transfer, e: Transfer) -> CreateTransferResult:
    """Idempotency: the same id with the same fields is ``exists``; any other
    field is a distinct rejection. Post/void may leave the fields they inherit
    from the pending transfer empty."""
    flags = t.flags
    inherit = bool(flags & (_POST | _VOID))
    if flags != e.flags:
        return R.EXISTS_WITH_DIFFERENT_FLAGS
    if (t.debit_account_id or not inherit) and t.debit_account_id != e.debit_account_id:
        return R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if (t.credit_account_id or not inherit) and t.credit_account_id != e.credit_account_id:
        return R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    if _amount_differs(t, e):
        return R.EXISTS_WITH_DIFFERENT_AMOUNT
    if t.pending_id != e.pending_id:
        return R.EXISTS_WITH_DIFFERENT_PENDING_ID
    if t.user_data_128 != e.user_data_128:
        return R.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if t.user_data_64 != e.user_data_64:
        return R.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if t.user_data_32 != e.user_data_32:
        return R.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if t.timeout != e.timeout:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT
    if (t.code or not inherit) and t.code != e.code:
        return R.EXISTS_WITH_DIFFERENT_CODE
    if (t.currency or not inherit) and t.currency != e.currency:
        return R.EXISTS_WITH_DIFFERENT_CURRENCY
    return R.EXISTS


def _amount_differs(t: Transfer, e: Transfer) -> bool:
    flags = t.flags
    if flags & _POST:
        return t.amount != AMOUNT_MAX and t.amount != e.amount
    if flags & _VOID:
        return t.amount != 0 and t.amount != e.amount
    if flags & (_BAL_DR | _BAL_CR):
        return t.amount < e.amount
    return t.amount != e.amount


class TransferBatch:
    """Runs one batch of transfers over preloaded state (see module doc)."""

    def __init__(
        self,
        accounts: dict[int, Account],
        existing: dict[int, Transfer],
        pendings: dict[int, PendingState],
        not_pending_ids: set[int],
    ) -> None:
        self.accounts = accounts
        self.existing = existing
        self.pendings = pendings
        self.not_pending_ids = not_pending_ids
        self._snapshots: dict[int, tuple[int, int, int, int, int]] | None = None
        self._pending_undo: list[tuple[PendingState, PendingStatus | None]] = []
        self.outcome = TransferBatchOutcome(results=[])

    def run(self, transfers: list[Transfer], timestamp_start: int) -> TransferBatchOutcome:
        n = len(transfers)
        results: list[CreateTransferResult] = [R.OK] * n
        self.outcome.results = results
        open_chain_start = _open_chain_start(transfers)
        chain_start = -1
        index = 0
        while index < n:
            if index == open_chain_start:
                _fail_open_chain(results, index, R.LINKED_EVENT_FAILED, R.LINKED_EVENT_CHAIN_OPEN)
                break
            t = transfers[index]
            linked = t.flags & _LINKED
            if linked and chain_start < 0:
                chain_start = index
                self._begin_chain()
            result = self._create(t, timestamp_start + index)
            results[index] = result
            if result is not R.OK and chain_start >= 0:
                index = self._fail_chain(transfers, results, chain_start, index)
                chain_start = -1
                continue
            if not linked and chain_start >= 0:
                chain_start = -1
                self._end_chain()
            index += 1
        return self.outcome

    # -- linked chains ----------------------------------------------------

    def _begin_chain(self) -> None:
        self._snapshots = {}
        self._pending_undo = []
        self._chain_created = len(self.outcome.created)
        self._chain_history = len(self.outcome.history)

    def _end_chain(self) -> None:
        self._snapshots = None
        self._pending_undo = []

    def _fail_chain(
        self, transfers: list[Transfer], results: list[CreateTransferResult], start: int, failed: int
    ) -> int:
        """Roll back the chain that ``failed`` broke; return the next index."""
        outcome = self.outcome
        snapshots = self._snapshots or {}
        for account_id, snap in snapshots.items():
            acc = self.accounts[account_id]
            (acc.debits_pending, acc.debits_posted, acc.credits_pending, acc.credits_posted, acc.flags) = snap
        for state, old_status in reversed(self._pending_undo):
            if old_status is None:
                del self.pendings[state.transfer.id]
                outcome.pending_changes.pop(state.transfer.id, None)
                outcome.pending_new.discard(state.transfer.id)
            else:
                state.status = old_status
        for t in outcome.created[self._chain_created :]:
            del self.existing[t.id]
        del outcome.created[self._chain_created :]
        del outcome.history[self._chain_history :]
        self._end_chain()
        for j in range(start, failed):
            results[j] = R.LINKED_EVENT_FAILED
        end = failed
        while end < len(transfers) and transfers[end].flags & _LINKED:
            end += 1
            results[end] = R.LINKED_EVENT_FAILED
        return end + 1

    def _remember(self, acc: Account) -> None:
        self.outcome.touched[acc.id] = acc
        snapshots = self._snapshots
        if snapshots is not None and acc.id not in snapshots:
            snapshots[acc.id] = (
                acc.debits_pending,
                acc.debits_posted,
                acc.credits_pending,
                acc.credits_posted,
                acc.flags,
            )

    # -- one event --------------------------------------------------------

    def _create(self, t: Transfer, timestamp: int) -> CreateTransferResult:
        rejection = validate_transfer_shape(t)
        if rejection is not None:
            return rejection
        existing = self.existing.get(t.id)
        if existing is not None:
            return self._compare_existing(t, existing)
        if t.flags & (_POST | _VOID):
            return self._post_or_void(t, timestamp)
        return self._plain(t, timestamp)

    def _compare_existing(self, t: Transfer, existing: Transfer) -> CreateTransferResult:
        result = compare_existing_transfer(t, existing)
        if result is R.EXISTS and t.flags & _POST and t.amount == AMOUNT_MAX:
            # "post everything" matches a stored post only if it did post everything
            state = self.pendings.get(existing.pending_id)
            if state is not None and existing.amount != state.transfer.amount:
                return R.EXISTS_WITH_DIFFERENT_AMOUNT
        return result

    def _plain(self, t: Transfer, timestamp: int) -> CreateTransferResult:
        dr = self.accounts.get(t.debit_account_id)
        if dr is None:
            return R.DEBIT_ACCOUNT_NOT_FOUND
        cr = self.accounts.get(t.credit_account_id)
        if cr is None:
            return R.CREDIT_ACCOUNT_NOT_FOUND
        if dr.currency != cr.currency:
            return R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY
        if t.currency != dr.currency:
            return R.TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS
        if dr.flags & _CLOSED:
            return R.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr.flags & _CLOSED:
            return R.CREDIT_ACCOUNT_ALREADY_CLOSED
        flags = t.flags
        amount = t.amount
        if flags & _BAL_DR:
            amount = max(0, min(amount, dr.credits_posted - dr.debits_posted - dr.debits_pending))
        if flags & _BAL_CR:
            amount = max(0, min(amount, cr.debits_posted - cr.credits_posted - cr.credits_pending))
        rejection = _check_balances(dr, cr, amount, bool(flags & _PENDING))
        if rejection is not None:
            return rejection
        stored = _copy_transfer(t)
        stored.amount = amount
        self._remember(dr)
        self._remember(cr)
        if flags & _PENDING:
            dr.debits_pending += amount
            cr.credits_pending += amount
            self._new_pending(stored, timestamp)
            if flags & _CLOSE_DR:
                dr.flags |= _CLOSED
            if flags & _CLOSE_CR:
                cr.flags |= _CLOSED
        else:
            dr.debits_posted += amount
            cr.credits_posted += amount
        return self._commit(stored, timestamp, dr, cr)

    def _new_pending(self, t: Transfer, timestamp: int) -> None:
        expires_at = timestamp + t.timeout * NS_PER_SECOND if t.timeout else 0
        state = PendingState(t, PendingStatus.PENDING, expires_at)
        self.pendings[t.id] = state
        self.outcome.pending_changes[t.id] = state
        self.outcome.pending_new.add(t.id)
        if self._snapshots is not None:
            self._pending_undo.append((state, None))

    def _commit(self, t: Transfer, timestamp: int, dr: Account, cr: Account) -> CreateTransferResult:
        t.timestamp = timestamp
        self.existing[t.id] = t
        outcome = self.outcome
        outcome.created.append(t)
        if dr.flags & _HISTORY:
            outcome.history.append(_balance_row(dr, timestamp))
        if cr.flags & _HISTORY:
            outcome.history.append(_balance_row(cr, timestamp))
        return R.OK

    def _post_or_void(self, t: Transfer, timestamp: int) -> CreateTransferResult:
        state = self.pendings.get(t.pending_id)
        if state is None:
            if t.pending_id in self.not_pending_ids or t.pending_id in self.existing:
                return R.PENDING_TRANSFER_NOT_PENDING
            return R.PENDING_TRANSFER_NOT_FOUND
        p = state.transfer
        rejection = _check_matches_pending(t, p)
        if rejection is not None:
            return rejection
        if state.status is PendingStatus.POSTED:
            return R.PENDING_TRANSFER_ALREADY_POSTED
        if state.status is PendingStatus.VOIDED:
            return R.PENDING_TRANSFER_ALREADY_VOIDED
        if state.status is PendingStatus.EXPIRED or 0 < state.expires_at <= timestamp:
            return R.PENDING_TRANSFER_EXPIRED
        post = bool(t.flags & _POST)
        amount = t.amount
        if post:
            if amount == AMOUNT_MAX:
                amount = p.amount
            elif amount > p.amount:
                return R.EXCEEDS_PENDING_TRANSFER_AMOUNT
        elif amount not in (0, p.amount):
            return R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
        else:
            amount = p.amount
        dr = self.accounts[p.debit_account_id]
        cr = self.accounts[p.credit_account_id]
        # A closed account takes no posts, but any hold on it may still be voided
        # (voiding the closing transfer itself reopens the account).
        if post and dr.flags & _CLOSED:
            return R.DEBIT_ACCOUNT_ALREADY_CLOSED
        if post and cr.flags & _CLOSED:
            return R.CREDIT_ACCOUNT_ALREADY_CLOSED
        if post and dr.debits_posted + amount > INT64_MAX:
            return R.OVERFLOWS_DEBITS_POSTED
        if post and cr.credits_posted + amount > INT64_MAX:
            return R.OVERFLOWS_CREDITS_POSTED
        self._remember(dr)
        self._remember(cr)
        dr.debits_pending -= p.amount
        cr.credits_pending -= p.amount
        if post:
            dr.debits_posted += amount
            cr.credits_posted += amount
        else:
            if p.flags & _CLOSE_DR:
                dr.flags &= ~_CLOSED
            if p.flags & _CLOSE_CR:
                cr.flags &= ~_CLOSED
        self._set_pending_status(state, PendingStatus.POSTED if post else PendingStatus.VOIDED)
        stored = _copy_transfer(t)
        stored.debit_account_id = p.debit_account_id
        stored.credit_account_id = p.credit_account_id
        stored.currency = p.currency
        stored.code = t.code or p.code
        stored.amount = amount
        return self._commit(stored, timestamp, dr, cr)

    def _set_pending_status(self, state: PendingState, status: PendingStatus) -> None:
        if self._snapshots is not None:
            self._pending_undo.append((state, state.status))
        state.status = status
        self.outcome.pending_changes[state.transfer.id] = state


def _open_chain_start(transfers: list[Transfer]) -> int:
    """Index where a chain starts that the batch leaves open, or -1."""
    n = len(transfers)
    if n == 0 or not transfers[-1].flags & _LINKED:
        return -1
    start = n - 1
    while start > 0 and transfers[start - 1].flags & _LINKED:
        start -= 1
    return start


def _fail_open_chain(results: list[Any], start: int, failed: Any, chain_open: Any) -> None:
    """A chain still open at the end of the batch fails whole: its last event
    says why, the others that a linked event failed."""
    for j in range(start, len(results) - 1):
        results[j] = failed
    results[-1] = chain_open


def _check_matches_pending(t: Transfer, p: Transfer) -> CreateTransferResult | None:
    if t.debit_account_id and t.debit_account_id != p.debit_account_id:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id and t.credit_account_id != p.credit_account_id:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
    if t.currency and t.currency != p.currency:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY
    if t.code and t.code != p.code:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CODE
    return None


def _check_balances(dr: Account, cr: Account, amount: int, pending: bool) -> CreateTransferResult | None:
    if pending:
        if dr.debits_pending + amount > INT64_MAX:
            return R.OVERFLOWS_DEBITS_PENDING
        if cr.credits_pending + amount > INT64_MAX:
            return R.OVERFLOWS_CREDITS_PENDING
    else:
        if dr.debits_posted + amount > INT64_MAX:
            return R.OVERFLOWS_DEBITS_POSTED
        if cr.credits_posted + amount > INT64_MAX:
            return R.OVERFLOWS_CREDITS_POSTED
    if dr.debits_pending + dr.debits_posted + amount > INT64_MAX:
        return R.OVERFLOWS_DEBITS
    if cr.credits_pending + cr.credits_posted + amount > INT64_MAX:
        return R.OVERFLOWS_CREDITS
    if dr.flags & _DMNEC and dr.debits_pending + dr.debits_posted + amount > dr.credits_posted:
        return R.EXCEEDS_CREDITS
    if cr.flags & _CMNED and cr.credits_pending + cr.credits_posted + amount > cr.debits_posted:
        return R.EXCEEDS_DEBITS
    return None


def _copy_transfer(t: Transfer) -> Transfer:
    return Transfer(
        t.id,
        t.debit_account_id,
        t.credit_account_id,
        t.amount,
        t.currency,
        t.code,
        int(t.flags),
        t.pending_id,
        t.timeout,
        t.user_data_128,
        t.user_data_64,
        t.user_data_32,
        t.timestamp,
    )


def _balance_row(acc: Account, timestamp: int) -> AccountBalance:
    return AccountBalance(
        acc.id, timestamp, acc.debits_pending, acc.debits_posted, acc.credits_pending, acc.credits_posted
    )


def expire_pending(state: PendingState, accounts: dict[int, Account]) -> None:
    """Release a pending transfer's held amount when its timeout passes; a
    closing transfer that expires reopens its account, as a void would."""
    p = state.transfer
    dr = accounts[p.debit_account_id]
    cr = accounts[p.credit_account_id]
    dr.debits_pending -= p.amount
    cr.credits_pending -= p.amount
    if p.flags & _CLOSE_DR:
        dr.flags &= ~_CLOSED
    if p.flags & _CLOSE_CR:
        cr.flags &= ~_CLOSED
    state.status = PendingStatus.EXPIRED


# -- accounts ----------------------------------------------------------------


def validate_account_shape(a: Account) -> CreateAccountResult | None:
    if a.timestamp != 0:
        return A.TIMESTAMP_MUST_BE_ZERO
    if a.flags < 0 or a.flags & ~int(ACCOUNT_FLAGS_CREATABLE):
        return A.RESERVED_FLAG
    if a.id == 0:
        return A.ID_MUST_NOT_BE_ZERO
    if a.id == UINT128_MAX:
        return A.ID_MUST_NOT_BE_INT_MAX
    if not 0 < a.id < UINT128_MAX:
        return A.ID_OUT_OF_RANGE
    if a.flags & _DMNEC and a.flags & _CMNED:
        return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if a.debits_pending or a.debits_posted or a.credits_pending or a.credits_posted:
        return A.BALANCES_MUST_BE_ZERO
    if not is_currency(a.currency):
        return A.CURRENCY_MUST_BE_VALID
    if a.code == 0:
        return A.CODE_MUST_NOT_BE_ZERO
    if not 0 < a.code <= UINT16_MAX:
        return A.CODE_OUT_OF_RANGE
    if not (0 <= a.user_data_128 <= UINT128_MAX and 0 <= a.user_data_64 <= INT64_MAX):
        return A.USER_DATA_OUT_OF_RANGE
    if not 0 <= a.user_data_32 <= UINT32_MAX:
        return A.USER_DATA_OUT_OF_RANGE
    return None


def compare_existing_account(a: Account, e: Account) -> CreateAccountResult:
    if a.flags != e.flags & ~_CLOSED:
        return A.EXISTS_WITH_DIFFERENT_FLAGS
    if a.user_data_128 != e.user_data_128:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if a.user_data_64 != e.user_data_64:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if a.user_data_32 != e.user_data_32:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if a.currency != e.currency:
        return A.EXISTS_WITH_DIFFERENT_CURRENCY
    if a.code != e.code:
        return A.EXISTS_WITH_DIFFERENT_CODE
    return A.EXISTS


def run_account_batch(
    accounts: list[Account], existing: dict[int, Account], timestamp_start: int
) -> tuple[list[CreateAccountResult], list[Account]]:
    """Create accounts (with linked chains); returns results and the created."""
    n = len(accounts)
    results: list[CreateAccountResult] = [A.OK] * n
    created: list[Account] = []
    seen = dict(existing)
    open_start = _open_chain_start(accounts)  # type: ignore[arg-type]
    chain_start = -1
    chain_created = 0
    index = 0
    while index < n:
        if index == open_start:
            _fail_open_chain(results, index, A.LINKED_EVENT_FAILED, A.LINKED_EVENT_CHAIN_OPEN)
            break
        a = accounts[index]
        linked = a.flags & _LINKED
        if linked and chain_start < 0:
            chain_start, chain_created = index, len(created)
        result = validate_account_shape(a)
        if result is None:
            prior = seen.get(a.id)
            result = A.OK if prior is None else compare_existing_account(a, prior)
        results[index] = result
        if result is A.OK:
            stored = Account(
                a.id,
                a.currency,
                a.code,
                int(a.flags),
                a.user_data_128,
                a.user_data_64,
                a.user_data_32,
                timestamp=timestamp_start + index,
            )
            created.append(stored)
            seen[a.id] = stored
        elif chain_start >= 0:
            for b in created[chain_created:]:
                del seen[b.id]
            del created[chain_created:]
            for j in range(chain_start, index):
                results[j] = A.LINKED_EVENT_FAILED
            while index < n - 1 and accounts[index].flags & _LINKED:
                index += 1
                results[index] = A.LINKED_EVENT_FAILED
            chain_start = -1
        if not linked:
            chain_start = -1
        index += 1
    return results, created
