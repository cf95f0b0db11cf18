"""Every router of the web layer, in the order the application includes them."""

from __future__ import annotations

from fastapi import APIRouter

from netfin.web import console, onboarding, pay, portal, wallet

ROUTERS: tuple[APIRouter, ...] = (portal.router, onboarding.router, pay.router, wallet.router, console.router)
