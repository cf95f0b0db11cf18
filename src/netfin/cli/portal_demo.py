"""The demo's last act: the web portal and the operations console, served on the demo's data.

The story's customer gets a password for the portal, an elderly customer is
added with elder mode switched on, and one member of staff holds every staff
role. Their passwords are made fresh for each run and printed once: the demo
database is throwaway, and nothing secret is stored in the project.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from netfin.bank import Bank, BankSettings
from netfin.core.ids import format_id, parse_id
from netfin.identity.model import STAFF_ROLES, Actor, PartyKind, Role
from netfin.web.store import Preferences, PreferenceStore

OPERATOR = Actor("operator", "portal-demo")


@dataclass(frozen=True, slots=True)
class Login:
    who: str
    customer_number: str
    password: str


def prepare_portal(database_url: str, customer_party_id: str, origin: str) -> list[Login]:
    """Passwords for the story's customer, a new elder-mode customer and a member of staff."""
    logins: list[Login] = []
    with Bank(BankSettings(database_url=database_url, origins=(origin,))) as bank:
        if customer_party_id:
            password = secrets.token_urlsafe(12)
            bank.credentials.set_password(parse_id(customer_party_id), password)
            logins.append(Login("customer 客户 (Li Hua 李华)", customer_party_id, password))
        elder = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Wang Guifen 王桂芬", phone="+8613900000001"
        )
        account = bank.identity.open_account(
            OPERATOR, elder.party_id, currency="CNY", nickname="养老金 Pension"
        )
        bank.identity.deposit_cash(OPERATOR, account.account_id, 356_000)
        PreferenceStore(bank.engine).put(elder.party_id, Preferences(True, "zh"), bank.clock.now_ns())
        password = secrets.token_urlsafe(12)
        bank.credentials.set_password(elder.party_id, password)
        logins.append(Login("elder-mode customer 长辈模式客户 (王桂芬)", format_id(elder.party_id), password))
        staff = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Operations desk", phone="+8613900000002",
            roles=tuple(sorted(r for r in STAFF_ROLES if r is not Role.REGULATOR)),
        )  # fmt: skip
        password = secrets.token_urlsafe(12)
        bank.credentials.set_password(staff.party_id, password)
        logins.append(Login("staff 运营人员 (console)", format_id(staff.party_id), password))
    return logins


def serve_portal(database_url: str, host: str, port: int) -> None:
    """``netfin serve`` on the demo database, with passkeys bound to http://localhost:<port>."""
    import uvicorn

    os.environ["NETFIN_DATABASE_URL"] = database_url
    os.environ.setdefault("NETFIN_ISSUER", f"http://localhost:{port}")
    os.environ.setdefault("NETFIN_ORIGINS", f"http://localhost:{port}")
    uvicorn.run("netfin.api.server:application", host=host, port=port, factory=True, access_log=False)
