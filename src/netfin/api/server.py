"""The process entry point for ``uvicorn``: one Bank per worker, plus its background work.

Each worker opens its own ``Bank`` from the environment (``BankSettings.from_env``)
and runs two background loops while it serves: the event-notification
dispatcher (outbox -> deliveries -> signed POSTs) and the bank's housekeeping
(``Bank.housekeeping``: payments and orders left pending by a crash are
finished, expired holds, orders and mandates are closed). Both are safe with
several workers: deliveries are claimed with leases, and every housekeeping
step is a compare-and-set or idempotent in the ledger.
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
            done = bank.housekeeping()
            if any(done.values()):
                logger.info("housekeeping: %s", done)
        except NetfinError as error:  # an expected refusal: keep the loop, the work stays pending
            logger.warning("housekeeping failed: %s", error)
