"""One running dispatcher per database: the lease that ``Notifications.run`` holds while it works.

Every ``netfin serve`` worker starts a dispatcher loop. Their claims are
already safe together (``FOR UPDATE SKIP LOCKED``), but N loops poll the
outbox N times as often, and under a steady stream of payments each round
found a handful of events and paid for a transaction of its own. On
PostgreSQL the loop therefore works only while it holds a session-level
advisory lock, taken with ``pg_try_advisory_lock`` on a connection kept for
the purpose; the others wait and try again every interval, so when the holder
stops or its process dies (its session ends, and the server releases the
lock) another takes over within one interval. The lock's second key is a
hash of the connection's current schema, so netfin instances in separate
schemas of one database do not wait for each other.

On SQLite there is nothing to take: every loop works, as before (a SQLite
bank is normally one process, and its claims run under the write lock).

Session advisory locks need a session that lives as long as the loop: behind
a pooler in transaction mode (PgBouncer's ``pool_mode = transaction``) point
the dispatcher at the server directly.
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa

logger = logging.getLogger(__name__)

# pg_try_advisory_lock(int4, int4): this constant, then hashtext(current_schema()).
DISPATCH_LOCK_CLASS = 0x6E666E31  # "nfn1"
# How often the holder checks that its lock's session is still alive.
CHECK_INTERVAL_S = 5.0

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(:class_id, hashtext(current_schema()))")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:class_id, hashtext(current_schema()))")


class DispatchLease:
    """Whether this dispatcher may work now; ``release`` gives the lease back."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._exclusive = engine.dialect.name == "postgresql"
        self._connection: sa.Connection | None = None
        self._checked_s = 0.0
        # The loop's thread takes and checks the lease; close() may give it back from another.
        self._lock = threading.Lock()

    @property
    def holding(self) -> bool:
        return not self._exclusive or self._connection is not None

    def held(self) -> bool:
        """True when this dispatcher holds the lease (taking it if it is free)."""
        if not self._exclusive:
            return True
        with self._lock:
            return self._held()

    def _held(self) -> bool:
        if self._connection is not None:
            return self._still_held(self._connection)
        try:
            connection = self._engine.connect()
        except sa.exc.OperationalError:
            return False
        try:
            taken = bool(connection.execute(_TRY_LOCK, {"class_id": DISPATCH_LOCK_CLASS}).scalar())
            connection.commit()  # the lock is the session's; no transaction stays open
        except sa.exc.OperationalError:
            self._drop(connection)
            return False
        if not taken:
            connection.close()
            return False
        self._connection = connection
        self._checked_s = time.monotonic()
        logger.info("notification dispatcher: this process now dispatches")
        return True

    def _still_held(self, connection: sa.Connection) -> bool:
        if time.monotonic() - self._checked_s < CHECK_INTERVAL_S:
            return True
        try:
            connection.execute(sa.text("SELECT 1"))
            connection.commit()
        except sa.exc.OperationalError:
            # The session is gone and its lock with it: another dispatcher may hold it now.
            self._drop(connection)
            return False
        self._checked_s = time.monotonic()
        return True

    def release(self) -> None:
        """Give the lease back (unlock, then close the session); harmless when not held."""
        with self._lock:
            connection = self._connection
            if connection is not None:
                self._unlock(connection)

    def _unlock(self, connection: sa.Connection) -> None:
        try:
            connection.execute(_UNLOCK, {"class_id": DISPATCH_LOCK_CLASS})
            connection.commit()
        except sa.exc.OperationalError as error:  # the session is gone, and its lock with it
            logger.info("notification dispatcher: the lease's session had ended: %s", str(error.orig)[:200])
        self._drop(connection)

    def _drop(self, connection: sa.Connection) -> None:
        self._connection = None
        # Closed for good, not returned to the pool: a pooled session could still hold the lock.
        connection.invalidate()
        connection.close()
