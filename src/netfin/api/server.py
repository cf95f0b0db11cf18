"""The process entry point for ``uvicorn``: one Bank per worker, plus its background work.

Each worker opens its own ``Bank`` from the environment (``BankSettings.from_env``)
and runs two background loops while it serves: the event-notification
dispatcher (outbox -> deliveries -> signed POSTs) and the resumer of payments
left pending by a crash. Both are safe with several workers: deliveries are
claimed with leases, and a pending payment is finished by compare-and-set.
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.core.errors import NetfinError

logger = logging.getLogger(__name__)
RESUME_INTERVAL_S = 30.0


def application() -> FastAPI:
    bank = Bank(BankSettings.from_env())
    stop = threading.Event()
    workers = [
        threading.Thread(target=bank.notifications.run, args=(stop,), name="netfin-notify", daemon=True),
        threading.Thread(target=_resume_loop, args=(bank, stop), name="netfin-resume", daemon=True),
    ]
    return create_app(bank, close_bank=True, background=(workers, stop))


def _resume_loop(bank: Bank, stop: threading.Event) -> None:
    while not stop.wait(RESUME_INTERVAL_S):
        try:
            bank.payments.resume_pending()
        except NetfinError as error:  # an expected refusal: keep the loop, the order stays pending
            logger.warning("resuming pending payments failed: %s", error)
