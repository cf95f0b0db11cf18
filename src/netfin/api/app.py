"""The FastAPI application: guards, error mapping and one router per area."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from netfin.api import errors, oauth
from netfin.api.middleware import Guards
from netfin.api.v1 import customers, operators

if TYPE_CHECKING:
    from netfin.bank import Bank

API_TITLE = "netfin API"
API_VERSION = "0.1.0"


def create_app(
    bank: Bank,
    *,
    close_bank: bool = False,
    background: tuple[list[threading.Thread], threading.Event] | None = None,
) -> FastAPI:
    """Build the application around an open ``Bank``; close it with the app if asked.

    ``background`` threads start with the application and are told to stop
    (and joined) when it shuts down, before the bank closes.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads, stop = background or ([], threading.Event())
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            if close_bank:
                bank.close()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description="netfin: open banking (UK Open Banking v4.0 shapes) and netfin's own /v1 API.",
        lifespan=lifespan,
    )
    app.state.bank = bank
    errors.install(app)
    app.add_middleware(Guards)
    app.include_router(oauth.router)
    app.include_router(customers.router)
    app.include_router(operators.router)
    from netfin.api.openbanking import routes as ob_routes

    for router in ob_routes.routers():
        app.include_router(router)
    return app
