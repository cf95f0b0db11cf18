"""Schemathesis against the API's own /openapi.json: no 5xx, and every response fits the schema.

Each operation is called with the credentials it needs (a consent-bound TPP
token for account reads, a client-credentials token for consents, a customer
session for /v1/me, staff sessions for operator and audit routes), so the
generated requests reach the handlers instead of stopping at 401. Runs on
SQLite; the PostgreSQL run is the same code with another URL and is covered by
the journey and security suites.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.identity.model import Role
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator

BASE_URL = "http://127.0.0.1:8000"
ORIGIN = "http://localhost:8000"
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
_TOKENS: dict[str, str] = {}


# The schema is read from the application at import; the bank behind it is
# opened by the module fixture below (the OpenAPI document does not need one).
APP = create_app(cast(Bank, None))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Schemathesis's coverage phase (boundary and negative values of every field, built when the
# tests are collected) took 30 s of every pytest-xdist worker's collection and most of these
# tests' run time. The fuzzing phase below still draws positive and negative cases
# (GenerationMode.POSITIVE and NEGATIVE, the default), 25 per operation.
schema.config.phases.coverage.enabled = False


@pytest.fixture(scope="module", autouse=True)
def _bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NETFIN_HOME", str(tmp_path_factory.mktemp("schemathesis-home")))
    monkeypatch.setenv("NETFIN_RATE_LIMITS", "tpp_client=1000000:1000000,customer=1000000:1000000")
    monkeypatch.delenv("NETFIN_REDIS_URL", raising=False)
    db = Path(tmp_path_factory.mktemp("schemathesis")) / "api.db"
    bank = Bank(BankSettings(database_url=f"sqlite:///{db}"))
    APP.state.bank = bank
    with TestClient(APP, base_url=BASE_URL) as http:
        _TOKENS.update(_credentials(bank, http))
    yield
    bank.close()
    monkeypatch.undo()


def _credentials(bank: Bank, http: TestClient) -> dict[str, str]:
    operator = ob.staff_session(bank)
    auditor = ob.staff_session(bank, roles=(Role.AUDITOR,), name="Audit")
    alice = ob.sign_up(http, SoftwareAuthenticator("localhost", ORIGIN), name="Alice", phone="+447700900123")
    account = ob.open_funded_account(http, alice, operator, "GBP", "100.00")
    tpp = ob.register_tpp(
        http, operator, "Fuzz app", ["accounts", "payments", "fundsconfirmations"], "https://t.example/cb"
    )
    token_url = BASE_URL + "/oauth2/token"
    _, ais = ob.account_access(http, tpp, alice, token_url, account_ids=[account])
    return {
        "operator": operator,
        "auditor": auditor,
        "customer": alice.session,
        "ais": ais,
        "accounts": tpp.client_credentials(http, token_url, "accounts"),
        "payments": tpp.client_credentials(http, token_url, "payments"),
        "funds": tpp.client_credentials(http, token_url, "fundsconfirmations"),
    }


def _token_for(path: str) -> str | None:
    if path.startswith("/oauth2") or path.startswith("/v1/signup") or path.startswith("/v1/auth"):
        return None
    if "/aisp/accounts" in path:
        return _TOKENS["ais"]
    for marker, name in (
        ("/aisp/", "accounts"),
        ("/pisp/", "payments"),
        ("/cbpii/", "funds"),
        ("/event-", "accounts"),
    ):
        if marker in path:
            return _TOKENS[name]
    if path.startswith("/v1/me"):
        return _TOKENS["customer"]
    if path.startswith("/v1/audit"):
        return _TOKENS["auditor"]
    return _TOKENS["operator"]


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_has_no_5xx_and_answers_by_its_schema(case: schemathesis.Case) -> None:
    token = _token_for(case.path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    case.call_and_validate(headers=headers, checks=CHECKS, base_url=BASE_URL)
    time.sleep(0)  # yield to the audit writer thread between calls
