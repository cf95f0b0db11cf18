"""Every refusal is audited, and only auditors, regulators and compliance read the log.

Each refused request below carries its own ``x-fapi-interaction-id``, so the test
finds exactly the audit entry that request left, then checks who, what, under
which consent and why.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from netfin.bank import Bank
from netfin.identity.model import Role
from netfin.sim import openbanking as ob

from .conftest import World
from .test_security_support import (
    OB,
    assert_problem,
    audit_entries,
    challenge_of,
    idempotency,
    random_hex,
)


class Probe:
    """Sends requests that each carry a fresh interaction id, and finds their audit entries."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: dict[str, str] = {}

    def send(
        self, label: str, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        interaction = f"probe-{label}-{random_hex()[:12]}"
        self.sent[label] = interaction
        wanted = {**(headers or {}), "x-fapi-interaction-id": interaction}
        response = self.world.http.request(method, path, headers=wanted, **kwargs)
        assert response.headers["x-fapi-interaction-id"] == interaction
        return response

    def entry(self, label: str, **filters: str) -> dict[str, Any]:
        """The one refused entry that the request ``label`` left."""
        found = [
            e
            for e in audit_entries(self.world.http, self.world.auditor, outcome="refused", **filters)
            if e["interaction_id"] == self.sent[label]
        ]
        assert len(found) == 1, f"{label}: {found}"
        return found[0]

    def expect_entry(self, label: str, filters: dict[str, str], **expected: str) -> None:
        entry = self.entry(label, **filters)
        assert {k: entry[k] for k in expected} == expected, f"{label}: {entry}"


def _awaiting_consent(world: World) -> str:
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "accounts")
    created = world.http.post(
        f"{OB}/aisp/account-access-consents",
        json={"Data": {"Permissions": ["ReadBalances"]}, "Risk": {}},
        headers=ob.bearer(grant),
    )
    return str(ob.expect(created, 201)["Data"]["ConsentId"])


def _authorise_body(customer: ob.Customer, credential: dict[str, Any]) -> dict[str, Any]:
    return {"account_ids": [customer.account_ids[0]], "credential": credential}


def _step_up_options(world: World, customer: ob.Customer, consent_id: str) -> dict[str, Any]:
    options = world.http.post(
        f"/v1/me/consents/{consent_id}/authorise/options", headers=ob.bearer(customer.session)
    )
    return ob.expect(options, 200)  # type: ignore[no-any-return]


def test_tpp_refusals_are_audited_with_actor_consent_and_reason(world: World) -> None:
    http, alice, tpp_a = world.http, world.alice, world.tpp_a
    client = tpp_a.client_id
    probe = Probe(world)
    consent_id, token = ob.account_access(
        http, tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    grant = tpp_a.client_credentials(http, world.token_url, "accounts")
    bob = world.bob
    b_consent, _ = ob.account_access(
        http, world.tpp_b, bob, world.token_url, account_ids=[bob.account_ids[0]]
    )

    outside = f"{OB}/aisp/accounts/{alice.account_ids[1]}/balances"
    assert_problem(probe.send("outside", "GET", outside, ob.bearer(token)), 404, "account_not_found")
    foreign = f"{OB}/aisp/account-access-consents/{b_consent}"
    assert_problem(probe.send("foreign", "GET", foreign, ob.bearer(grant)), 404, "consent_not_found")
    forged = ob.bearer(token[:-12] + "A" * 12)
    assert_problem(probe.send("token", "GET", f"{OB}/aisp/accounts", forged), 401, "token_invalid")
    pis = f"{OB}/pisp/domestic-payment-consents"
    assert_problem(probe.send("scope", "POST", pis, idempotency(token), json={}), 403, "scope_missing")
    ob.expect(http.post(f"/v1/me/consents/{consent_id}/revoke", headers=ob.bearer(alice.session)), 200)
    balances = f"{OB}/aisp/accounts/{alice.account_ids[0]}/balances"
    assert_problem(probe.send("revoked", "GET", balances, ob.bearer(token)), 403, "consent_revoked")

    probe.expect_entry(
        "outside",
        {"consent_id": consent_id},
        action="ais.balances.read",
        actor_kind="tpp",
        actor_id=client,
        subject_id=alice.account_ids[1],
        reason="account_not_found",
    )
    probe.expect_entry(
        "foreign",
        {"subject_id": b_consent},
        action="consent.read",
        actor_id=client,
        reason="consent_not_found",
    )
    probe.expect_entry(
        "token",
        {},
        action="auth.access_token",
        actor_kind="anonymous",
        subject_id=f"GET {OB}/aisp/accounts",
        reason="token_invalid",
    )
    probe.expect_entry(
        "scope", {"actor_id": client}, action="auth.scope", actor_kind="tpp", reason="scope_missing"
    )
    probe.expect_entry(
        "revoked",
        {"consent_id": consent_id},
        action="ais.balances.read",
        actor_id=client,
        reason="consent_revoked",
    )


def test_customer_and_sign_in_refusals_are_audited(world: World) -> None:
    http, alice = world.http, world.alice
    probe = Probe(world)
    assert_problem(probe.send("role", "GET", "/v1/audit", ob.bearer(alice.session)), 403, "role_missing")
    options = ob.expect(http.post("/v1/auth/passkey/options", json={"party_id": alice.party_id}), 200)
    credential = alice.authenticator.get(options)
    ob.expect(http.post("/v1/auth/passkey", json={"credential": credential}), 200)
    replay = probe.send("passkey", "POST", "/v1/auth/passkey", json={"credential": credential})
    assert_problem(replay, 401, "challenge_replayed")
    wrong = {"party_id": alice.party_id, "password": "certainly-not-hers"}
    assert_problem(probe.send("password", "POST", "/v1/auth/password", json=wrong), 401, "password_invalid")

    form = world.tpp_a.token_form(world.token_url, grant_type="client_credentials", scope="accounts")
    assert http.post(world.token_url, data=form).status_code == 200
    assert_problem(
        probe.send("assertion", "POST", world.token_url, data=form), 401, "client_assertion_replayed"
    )

    # A step-up signed over the (spent) sign-in challenge.
    consent_id = _awaiting_consent(world)
    stale = alice.authenticator.get(
        _step_up_options(world, alice, consent_id), challenge=challenge_of(credential)
    )
    authorise = f"/v1/me/consents/{consent_id}/authorise"
    refused = probe.send(
        "step-up", "POST", authorise, ob.bearer(alice.session), json=_authorise_body(alice, stale)
    )
    assert_problem(refused, 401, "challenge_replayed")

    probe.expect_entry("role", {"actor_id": alice.party_id}, action="auth.role", reason="role_missing")
    probe.expect_entry("passkey", {}, action="auth.passkey.login", reason="challenge_replayed")
    probe.expect_entry(
        "password", {}, action="auth.password.login", actor_id=alice.party_id, reason="password_invalid"
    )
    probe.expect_entry("assertion", {}, action="auth.token", reason="client_assertion_replayed")
    probe.expect_entry(
        "step-up",
        {},
        action="consent.authorise.passkey",
        actor_id=alice.party_id,
        reason="challenge_replayed",
    )


def test_only_auditors_regulators_and_compliance_read_the_audit_log(world: World) -> None:
    http, bank = world.http, world.bank
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    refused_sessions = {
        "customer": world.alice.session,
        "operator": world.operator,
        "tpp role": ob.staff_session(bank, roles=(Role.TPP,), name="TPP desk"),
        "risk analyst": ob.staff_session(bank, roles=(Role.RISK_ANALYST,), name="Risk"),
    }
    readers = [
        ob.staff_session(bank, roles=(role,), name=role.value) for role in (Role.REGULATOR, Role.COMPLIANCE)
    ]
    for path in ("/v1/audit", "/v1/audit/verify"):
        for label, session in refused_sessions.items():
            assert_problem(http.get(path, headers=ob.bearer(session)), 403, "role_missing", f"{label} {path}")
        # A TPP's access token is no session at all.
        assert_problem(http.get(path, headers=ob.bearer(grant)), 401, "token_type_invalid", path)
        assert_problem(http.get(path), 401, "token_missing", path)
        for session in (world.auditor, *readers):
            assert http.get(path, headers=ob.bearer(session)).status_code == 200, path
    # Each read of the entries is itself recorded, with who read; the refused tries are not reads.
    reads = audit_entries(http, world.auditor, action="audit.read")
    assert sorted((e["actor_kind"], e["outcome"]) for e in reads) == [
        ("auditor", "allowed"),
        ("compliance", "allowed"),
        ("regulator", "allowed"),
    ]


def test_refusals_checked_in_the_routes_are_audited(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    probe = Probe(world)
    awaiting = _awaiting_consent(world)
    bobs = bob.authenticator.get(_step_up_options(world, bob, awaiting))
    authorise = f"/v1/me/consents/{awaiting}/authorise"
    mismatch = probe.send(
        "mismatch", "POST", authorise, ob.bearer(alice.session), json=_authorise_body(alice, bobs)
    )
    assert_problem(mismatch, 403, "passkey_party_mismatch")

    pis = world.tpp_a.client_credentials(http, world.token_url, "payments")
    initiation = ob.initiation("1.00", "GBP", bob.ibans[0])
    unbound_id = "pdc-" + random_hex()
    body = {"Data": {"ConsentId": unbound_id, "Initiation": initiation}, "Risk": {}}
    signed = ob.signed(world.tpp_a, body, **idempotency(pis))
    unbound = probe.send("unbound", "POST", f"{OB}/pisp/domestic-payments", **signed)
    assert_problem(unbound, 404, "consent_not_found")

    probe.expect_entry("mismatch", {"actor_id": alice.party_id}, reason="passkey_party_mismatch")
    probe.expect_entry(
        "unbound", {"subject_id": unbound_id}, actor_id=world.tpp_a.client_id, reason="consent_not_found"
    )


def test_customer_consent_refusals_are_audited(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    probe = Probe(world)
    consent_id, _ = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    for label, method, template in (
        ("read", "GET", "/v1/me/consents/{}"),
        ("revoke", "POST", "/v1/me/consents/{}/revoke"),
        ("reject", "POST", "/v1/me/consents/{}/reject"),
        ("options", "POST", "/v1/me/consents/{}/authorise/options"),
    ):
        response = probe.send(label, method, template.format(consent_id), ob.bearer(bob.session))
        assert_problem(response, 404, "consent_not_found", template)
    missing: list[str] = []
    for label in probe.sent:
        try:
            probe.expect_entry(label, {"actor_id": bob.party_id}, reason="consent_not_found")
        except AssertionError:
            missing.append(label)
    assert not missing, f"no audit entry for: {missing}"


def test_refused_consent_authorisation_is_found_by_its_consent(world: World) -> None:
    http, alice = world.http, world.alice
    consent_id = _awaiting_consent(world)
    forged = alice.authenticator.get(_step_up_options(world, alice, consent_id), corrupt_signature=True)
    refused = http.post(
        f"/v1/me/consents/{consent_id}/authorise",
        json=_authorise_body(alice, forged),
        headers=ob.bearer(alice.session),
    )
    assert_problem(refused, 401, "assertion_invalid")
    entries = audit_entries(http, world.auditor, consent_id=consent_id, outcome="refused")
    assert [e["reason"] for e in entries] == ["assertion_invalid"]


def test_refusal_on_a_long_or_odd_path_is_a_401_and_audited(bank: Bank, client: TestClient) -> None:
    auditor = ob.staff_session(bank, roles=(Role.AUDITOR,), name="Audit")
    for path in (f"{OB}/aisp/accounts/{'a' * 128}/balances", f"{OB}/aisp/accounts/a%00b"):
        interaction = "probe-" + random_hex()
        response = client.get(path, headers={"x-fapi-interaction-id": interaction})
        assert_problem(response, 401, "token_missing", path)
        refused = audit_entries(client, auditor, action="auth.access_token", outcome="refused")
        assert [e["reason"] for e in refused if e["interaction_id"] == interaction] == ["token_missing"]
