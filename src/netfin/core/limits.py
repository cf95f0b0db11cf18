"""Named maxima, checked at the boundary of every context."""

from __future__ import annotations

# Integers stored in signed 64-bit columns on both stores (SQLite INTEGER,
# PostgreSQL bigint). Amounts and balances never exceed this.
INT64_MAX = 2**63 - 1
UINT128_MAX = 2**128 - 1
UINT32_MAX = 2**32 - 1
UINT16_MAX = 2**16 - 1

# Events in one create_accounts / create_transfers batch (TigerBeetle's
# batch size minus the two it reserves).
BATCH_EVENTS_MAX = 8190
# Rows in one page of account_transfers / account_balances / journal reads.
PAGE_LIMIT_MAX = 8190
# Ids in one lookup_accounts / lookup_transfers call.
LOOKUP_IDS_MAX = 8190
# Longest pending timeout, in seconds (TigerBeetle uses a u32 of seconds).
PENDING_TIMEOUT_SECONDS_MAX = UINT32_MAX
