"""Group-commit for payment orders: concurrent callers' orders booked together.

One order booked alone pays for three platform commits, the ledger's commit
and the audit writer's commit. ``OrderGateway.submit`` instead puts the
order on a queue and waits; one booking thread takes everything waiting (up
to ``batch_max``), books it with ``PaymentOrders.submit_mixed`` — one
transaction per step and one ledger call for all — and wakes each caller
with its own result. Under load the cost of the commits is shared by the
whole batch; a lone caller waits for nothing (the thread starts a batch as
soon as one order is there).

Invariants: each caller gets exactly its own result or error; a batch that
fails as a whole (a database error) fails each of its callers with that
error and leaves nothing half-written beyond what ``submit_mixed`` itself
guarantees (orders it wrote ``authorised`` are finished by ``resume``);
``close`` books what is queued, then stops.

Public names: ``OrderGateway``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from netfin.core.errors import LimitExceeded, NetfinError
from netfin.identity.model import Actor
from netfin.payments.orders.model import OrderRequest, PaymentOrder
from netfin.payments.orders.service import BATCH_MAX, PaymentOrders, Submission

BATCH_DEFAULT = 256
QUEUE_DEFAULT = 10_000


class GatewayClosed(NetfinError):
    code = "order_gateway_closed"


@dataclass(slots=True)
class _Waiting:
    submission: Submission
    done: threading.Event = field(default_factory=threading.Event)
    result: PaymentOrder | NetfinError | None = None
    failure: BaseException | None = None


class OrderGateway:
    def __init__(
        self, orders: PaymentOrders, *, batch_max: int = BATCH_DEFAULT, queue_max: int = QUEUE_DEFAULT
    ) -> None:
        if not 1 <= batch_max <= BATCH_MAX or not batch_max <= queue_max:
            raise ValueError(f"batch_max is 1..{BATCH_MAX} and at most queue_max")
        self._orders = orders
        self._batch_max = batch_max
        self._queue_max = queue_max
        self._waiting: deque[_Waiting] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="netfin-order-gateway", daemon=True)
        self._thread.start()

    def submit(
        self,
        actor: Actor,
        party_id: int,
        request: OrderRequest,
        *,
        idempotency_key: str,
        pre_authorised_by: str | None = None,
    ) -> PaymentOrder:
        """As ``PaymentOrders.submit``, booked together with whatever else is waiting."""
        waiting = _Waiting(Submission(actor, party_id, request, idempotency_key, pre_authorised_by))
        with self._condition:
            if self._closed:
                raise GatewayClosed("the order gateway is closed")
            if len(self._waiting) >= self._queue_max:
                raise LimitExceeded(
                    f"{self._queue_max} orders are already waiting to be booked", code="order_queue_full"
                )
            self._waiting.append(waiting)
            self._condition.notify()
        waiting.done.wait()
        if waiting.failure is not None:
            raise waiting.failure
        if isinstance(waiting.result, NetfinError):
            raise waiting.result
        if waiting.result is None:  # pragma: no cover - the loop always answers
            raise RuntimeError("the order gateway answered nothing")
        return waiting.result

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._waiting and not self._closed:
                    self._condition.wait()
                if not self._waiting and self._closed:
                    return
                batch = [self._waiting.popleft() for _ in range(min(len(self._waiting), self._batch_max))]
            self._book(batch)

    def _book(self, batch: list[_Waiting]) -> None:
        try:
            results = self._orders.submit_mixed([w.submission for w in batch])
        except BaseException as error:  # noqa: BLE001 - handed to every caller of the batch
            for waiting in batch:
                waiting.failure = error
                waiting.done.set()
            return
        for waiting, result in zip(batch, results, strict=True):
            waiting.result = result
            waiting.done.set()
