"""The demo's portal logins: each signs in and lands where it should, elder mode already on."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.cli.portal_demo import prepare_portal

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def test_prepared_logins_sign_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    logins = prepare_portal(url, "", "http://localhost:8000")
    assert [login.who.split()[0] for login in logins] == ["elder-mode", "staff"]
    assert len({login.password for login in logins}) == 2 and all(len(x.password) >= 16 for x in logins)
    with Bank(BankSettings(database_url=url)) as bank:
        for login, landing in zip(logins, ("/home", "/console"), strict=True):
            http = TestClient(create_app(bank), base_url="https://testserver", follow_redirects=False)
            token = _CSRF.search(http.get("/").text)
            assert token is not None
            response = http.post(
                "/sign-in",
                data={"csrf": token.group(1), "party_id": login.customer_number, "password": login.password},
            )
            assert response.status_code == 303 and response.headers["location"] == landing
            page = http.get(landing)
            assert page.status_code == 200
            if landing == "/home":
                assert 'class="elder"' in page.text and "3,560.00" in page.text
