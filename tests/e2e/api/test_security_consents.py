"""Consents bound what a TPP may do: revocation and expiry take effect on the very next
request, permissions narrow what is read, and a payment consent pays once, exactly as
consented."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from netfin.core.clock import NS_PER_SECOND, iso_from_ns
from netfin.sim import openbanking as ob

from .conftest import World
from .test_security_support import OB, assert_problem, idempotency, random_hex, read

EXPIRY_S = 5


def _resources(account_id: str) -> list[str]:
    """The AIS resources one account-access consent opens."""
    base = f"{OB}/aisp/accounts"
    return [
        base,
        f"{base}/{account_id}",
        f"{base}/{account_id}/balances",
        f"{base}/{account_id}/transactions",
    ]


def _assert_all_readable(world: World, token: str, account_id: str) -> None:
    for path in _resources(account_id):
        assert world.http.get(path, headers=ob.bearer(token)).status_code == 200, path


def _assert_all_refused(world: World, token: str, account_id: str, code: str) -> None:
    for path in _resources(account_id):
        assert_problem(world.http.get(path, headers=ob.bearer(token)), 403, code, path)


def _consent_status(world: World, consent_id: str) -> tuple[str, str]:
    """The status as the TPP and as the customer see it."""
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "accounts")
    tpp_view = read(world.http, f"{OB}/aisp/account-access-consents/{consent_id}", grant)
    customer_view = read(world.http, f"/v1/me/consents/{consent_id}", world.alice.session)
    return tpp_view["Data"]["Status"], customer_view["status"]


def test_revoked_consents_stop_access_on_the_next_request(world: World) -> None:
    http, alice = world.http, world.alice
    account_id = alice.account_ids[0]
    revoked, revoked_token = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[account_id]
    )
    deleted, deleted_token = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[account_id]
    )
    _assert_all_readable(world, revoked_token, account_id)
    _assert_all_readable(world, deleted_token, account_id)

    # The customer revokes one consent; the other is untouched.
    ob.expect(http.post(f"/v1/me/consents/{revoked}/revoke", headers=ob.bearer(alice.session)), 200)
    _assert_all_refused(world, revoked_token, account_id, "consent_revoked")
    _assert_all_readable(world, deleted_token, account_id)

    # The TPP deletes the other one.
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    deletion = http.delete(f"{OB}/aisp/account-access-consents/{deleted}", headers=ob.bearer(grant))
    assert deletion.status_code == 204
    _assert_all_refused(world, deleted_token, account_id, "consent_revoked")

    assert _consent_status(world, revoked) == ("CANC", "CANC")
    assert _consent_status(world, deleted) == ("CANC", "CANC")
    # A revoked consent stays revoked: neither side can revoke it a second time.
    again = http.post(f"/v1/me/consents/{revoked}/revoke", headers=ob.bearer(alice.session))
    assert_problem(again, 409, "consent_revoked")
    deleted_again = http.delete(f"{OB}/aisp/account-access-consents/{deleted}", headers=ob.bearer(grant))
    assert_problem(deleted_again, 409, "consent_revoked")


def test_expired_consents_stop_access_on_the_next_request(world: World) -> None:
    http, alice = world.http, world.alice
    account_id = alice.account_ids[0]
    expiration = iso_from_ns(world.clock.now_ns() + EXPIRY_S * NS_PER_SECOND)
    consent_id, token = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[account_id], expiration=expiration
    )
    _assert_all_readable(world, token, account_id)
    # A second consent with the same expiry still awaits authorisation when it runs out.
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    data = {"Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": expiration}
    awaiting = http.post(
        f"{OB}/aisp/account-access-consents", json={"Data": data, "Risk": {}}, headers=ob.bearer(grant)
    )
    awaiting_id = ob.expect(awaiting, 201)["Data"]["ConsentId"]
    options = ob.expect(
        http.post(f"/v1/me/consents/{awaiting_id}/authorise/options", headers=ob.bearer(alice.session)), 200
    )

    world.advance(EXPIRY_S)
    # The access token itself is still within its lifetime: only the consent has run out.
    _assert_all_refused(world, token, account_id, "consent_expired")
    assert _consent_status(world, consent_id) == ("EXPD", "EXPD")
    body = {"account_ids": [account_id], "credential": alice.authenticator.get(options)}
    late = http.post(f"/v1/me/consents/{awaiting_id}/authorise", json=body, headers=ob.bearer(alice.session))
    assert_problem(late, 409, "consent_expired")


def test_permissions_narrow_what_a_consent_reads(world: World) -> None:
    http, alice = world.http, world.alice
    account_id = alice.account_ids[0]

    def consent(*permissions: str) -> str:
        return ob.account_access(
            http, world.tpp_a, alice, world.token_url, account_ids=[account_id], permissions=list(permissions)
        )[1]

    basic = consent("ReadAccountsBasic")
    [account] = read(http, f"{OB}/aisp/accounts", basic)["Data"]["Account"]
    assert account["AccountId"] == account_id
    assert "Account" not in account  # no identification block (IBAN, sort code) with Basic
    [single] = read(http, f"{OB}/aisp/accounts/{account_id}", basic)["Data"]["Account"]
    assert "Account" not in single
    for path in (
        f"{OB}/aisp/accounts/{account_id}/balances",
        f"{OB}/aisp/accounts/{account_id}/transactions",
    ):
        assert_problem(http.get(path, headers=ob.bearer(basic)), 403, "permission_missing", path)

    detail = consent("ReadAccountsDetail")
    [account] = read(http, f"{OB}/aisp/accounts", detail)["Data"]["Account"]
    assert alice.ibans[0] in {block["Identification"] for block in account["Account"]}
    balances = http.get(f"{OB}/aisp/accounts/{account_id}/balances", headers=ob.bearer(detail))
    assert_problem(balances, 403, "permission_missing")

    balances_only = consent("ReadBalances")
    assert read(http, f"{OB}/aisp/accounts/{account_id}/balances", balances_only)["Data"]["Balance"]
    for path in (f"{OB}/aisp/accounts", f"{OB}/aisp/accounts/{account_id}"):
        assert_problem(http.get(path, headers=ob.bearer(balances_only)), 403, "permission_missing", path)


def test_tokens_without_a_fitting_authorised_consent_read_and_pay_nothing(world: World) -> None:
    http, alice = world.http, world.alice
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    created = http.post(
        f"{OB}/aisp/account-access-consents",
        json={"Data": {"Permissions": ob.AIS_PERMISSIONS}, "Risk": {}},
        headers=ob.bearer(grant),
    )
    assert ob.expect(created, 201)["Data"]["Status"] == "AWAU"
    for path in _resources(alice.account_ids[0]):
        assert_problem(http.get(path, headers=ob.bearer(grant)), 403, "consent_required", path)

    # A token bound to an account-access consent cannot pay.
    bob = world.bob
    _, ais_token = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    initiation = ob.initiation("1.00", "GBP", bob.ibans[0])
    consent_body = {"Data": {"Initiation": initiation}, "Risk": {}}
    payment_body = {"Data": {"ConsentId": "pdc-" + "0" * 32, "Initiation": initiation}, "Risk": {}}
    for path, body in (
        (f"{OB}/pisp/domestic-payment-consents", consent_body),
        (f"{OB}/pisp/domestic-payments", payment_body),
    ):
        signed = ob.signed(world.tpp_a, body, **idempotency(ais_token))
        assert_problem(http.post(path, **signed), 403, "scope_missing", path)
    assert read(http, "/v1/me/accounts", alice.session)[0]["booked"]["amount"] == "100.00"


def _payment_consent(world: World, initiation: dict[str, Any]) -> tuple[str, str]:
    """A payment consent authorised by Alice over her first account: (consent id, token)."""
    http = world.http
    grant = world.tpp_a.client_credentials(http, world.token_url, "payments")
    document = {"Data": {"Initiation": initiation}, "Risk": {}}
    created = http.post(
        f"{OB}/pisp/domestic-payment-consents", **ob.signed(world.tpp_a, document, **idempotency(grant))
    )
    consent_id = ob.expect(created, 201)["Data"]["ConsentId"]
    approval = ob.authorise(http, world.alice, consent_id, [world.alice.account_ids[0]])
    token = world.tpp_a.exchange_code(
        http, world.token_url, approval["authorization_code"], approval["redirect_uri"]
    )
    return consent_id, token


def _changed(initiation: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(initiation)
    if field == "amount":
        changed["InstructedAmount"]["Amount"] = value
    elif field == "creditor":
        changed["CreditorAccount"]["Identification"] = value
    elif field == "reference":
        changed["RemittanceInformation"]["Unstructured"] = [value]
    else:
        changed[field] = value
    return changed


def test_payment_consent_pays_once_and_only_as_consented(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    initiation = ob.initiation("12.34", "GBP", bob.ibans[0], reference="invoice 42")
    consent_id, token = _payment_consent(world, initiation)
    other_consent_id, _ = _payment_consent(world, ob.initiation("1.00", "GBP", bob.ibans[0]))

    def pay(document: dict[str, Any], consent: str = consent_id) -> Any:
        body = {"Data": {"ConsentId": consent, "Initiation": document}, "Risk": {}}
        return http.post(f"{OB}/pisp/domestic-payments", **ob.signed(world.tpp_a, body, **idempotency(token)))

    for field, value in (
        ("amount", "12.35"),
        ("amount", "12.340"),
        ("creditor", alice.ibans[1]),
        ("reference", "invoice 43"),
        ("EndToEndIdentification", "another-e2e-id"),
    ):
        assert_problem(pay(_changed(initiation, field, value)), 400, "consent_mismatch", f"{field}={value}")
    # A token bound to one consent does not reach another consent of the same TPP.
    assert_problem(pay(initiation, other_consent_id), 404, "consent_not_found")
    assert read(http, "/v1/me/accounts", alice.session)[0]["booked"]["amount"] == "100.00"

    assert ob.expect(pay(initiation), 201)["Data"]["Status"] == "ACSC"
    assert_problem(pay(initiation), 403, "consent_consumed")
    assert read(http, "/v1/me/accounts", alice.session)[0]["booked"]["amount"] == "87.66"
    assert read(http, "/v1/me/accounts", bob.session)[0]["booked"]["amount"] == "12.34"


def test_a_payment_consent_pays_once_when_payments_race(world: World) -> None:
    """Four payments under one consent at the same moment, past every check that reads the
    consent: the consent is consumed by exactly one, the others are refused, money moves once."""
    import threading

    from netfin.api.openbanking import schemas
    from netfin.api.openbanking.routes import _initiation
    from netfin.core.errors import Conflict
    from netfin.identity.model import Actor

    http, alice, bob = world.http, world.alice, world.bob
    document = ob.initiation("5.00", "GBP", bob.ibans[0])
    consent_id, _ = _payment_consent(world, document)
    bank = world.bank
    consent = bank.consents.get(consent_id)
    [debtor] = bank.identity.get_accounts(consent.account_ids)
    initiation = _initiation(schemas.OBDomesticInitiation.model_validate(document))
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def pay() -> None:
        start.wait(10)
        try:
            payment = bank.payments.initiate_domestic(
                Actor("tpp", consent.client_id), consent=consent, debtor=debtor, initiation=initiation
            )
            outcomes.append(payment.status.value)
        except Conflict as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=pay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ACSC", "consent_consumed", "consent_consumed", "consent_consumed"]
    assert read(http, "/v1/me/accounts", alice.session)[0]["booked"]["amount"] == "95.00"
    assert read(http, "/v1/me/accounts", bob.session)[0]["booked"]["amount"] == "5.00"


def test_a_payment_answers_only_once_its_audit_entries_are_committed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payment's audit entries commit beside its last writes (answer_after_audit), but the
    201 still waits for them: with the audit writer slowed down, they are there when it arrives."""
    import time

    from netfin.audit.service import AuditLog

    http, bob = world.http, world.bob
    initiation = ob.initiation("2.00", "GBP", bob.ibans[0])
    consent_id, token = _payment_consent(world, initiation)
    write_batch = AuditLog._write_batch

    def slow_write_batch(self: AuditLog, batch: Any) -> None:
        time.sleep(0.2)
        write_batch(self, batch)

    monkeypatch.setattr(AuditLog, "_write_batch", slow_write_batch)
    body = {
        "Data": {"ConsentId": consent_id, "Initiation": initiation},
        "Risk": {},
    }
    paid = ob.expect(
        http.post(f"{OB}/pisp/domestic-payments", **ob.signed(world.tpp_a, body, **idempotency(token))), 201
    )
    monkeypatch.undo()
    entries = world.bank.audit.query(consent_id=consent_id).entries
    actions = {(e.action, e.subject_id) for e in entries}
    assert ("pis.payment.create", consent_id) in actions
    assert ("payment.create", paid["Data"]["DomesticPaymentId"]) in actions
    # The outcome's entry (the system's, under no consent) is waited for the same way.
    outcome = world.bank.audit.query(action="payment.status", subject_id=paid["Data"]["DomesticPaymentId"])
    assert [e.detail["status"] for e in outcome.entries] == ["ACSC"]


def test_a_payments_answer_is_stored_in_the_commit_that_finishes_it(world: World) -> None:
    """On PostgreSQL the idempotency record is completed in the statement that moves the order
    out of pending (``Idempotency.riding_completion``); on SQLite just after it. Either way a
    replay answers the same bytes, and a payment without a key completes no record."""
    import hashlib

    import sqlalchemy as sa

    from netfin.payments.service import Payments
    from netfin.storage.idempotency import idempotency_records

    http, bank = world.http, world.bank
    initiation = ob.initiation("3.00", "GBP", world.bob.ibans[0])
    consent_id, token = _payment_consent(world, initiation)
    scope, key = "tpp:" + world.tpp_a.client_id, "riding-" + random_hex()[:12]
    states: list[str] = []
    finish = Payments._finish

    def state() -> str:
        key_hash = hashlib.sha256(scope.encode() + b"\x00" + key.encode()).digest()
        where = (idempotency_records.c.scope == scope, idempotency_records.c.key_hash == key_hash)
        with bank.engine.connect() as connection:
            return str(connection.execute(sa.select(idempotency_records.c.state).where(*where)).scalar_one())

    def watched_finish(self: Payments, *args: Any, **kwargs: Any) -> Any:
        done = finish(self, *args, **kwargs)
        states.append(state())
        return done

    body = {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}}
    request = ob.signed(world.tpp_a, body, **idempotency(token, key))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Payments, "_finish", watched_finish)
        first = http.post(f"{OB}/pisp/domestic-payments", **request)
    assert first.status_code == 201, first.text
    assert states == ["done" if bank.engine.dialect.name == "postgresql" else "started"]
    assert state() == "done"
    again = http.post(f"{OB}/pisp/domestic-payments", **request)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]


def test_a_payments_consent_debtor_and_creditor_are_read_together(world: World) -> None:
    """``Consents.get_for_payment``: the consent, the accounts it names and the account with the
    creditor's IBAN (one statement on PostgreSQL; the same answers on SQLite)."""
    from netfin.core.errors import NotFound

    bank, alice, bob = world.bank, world.alice, world.bob
    consent_id, _ = _payment_consent(world, ob.initiation("1.00", "GBP", bob.ibans[0]))
    consent, debtors, creditor = bank.consents.get_for_payment(consent_id, bob.ibans[0])
    assert consent.consent_id == consent_id and consent == bank.consents.get(consent_id)
    assert [d.account_id for d in debtors] == [alice.account_ids[0]]
    assert creditor is not None and creditor.iban == bob.ibans[0]
    assert bank.consents.get_for_payment(consent_id, None)[2] is None
    assert bank.consents.get_for_payment(consent_id, "GB00NOTANACCOUNT0000000000")[2] is None
    # A consent over two accounts (an AIS consent) names both.
    two, _ = ob.account_access(
        world.http, world.tpp_a, alice, world.token_url, account_ids=alice.account_ids[:2]
    )
    assert sorted(a.account_id for a in bank.consents.get_for_payment(two, None)[1]) == sorted(
        alice.account_ids[:2]
    )
    with pytest.raises(NotFound):
        bank.consents.get_for_payment("no-such-consent", bob.ibans[0])


def test_a_payment_is_recorded_allowed_once_its_order_exists(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pis.payment.create`` is recorded "allowed" as soon as the order exists (it then commits
    while the payment is booked). A refusal before that leaves only "refused"; an error after it
    leaves both, the refusal with its code."""
    from netfin.core.errors import Conflict

    http, bob, bank = world.http, world.bob, world.bank

    def outcomes(consent_id: str) -> list[tuple[str, str | None]]:
        entries = bank.audit.query(consent_id=consent_id, action="pis.payment.create").entries
        return [(e.outcome, e.reason) for e in entries]

    def pay(initiation: dict[str, Any], consent_id: str, token: str) -> Any:
        body = {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}}
        return http.post(f"{OB}/pisp/domestic-payments", **ob.signed(world.tpp_a, body, **idempotency(token)))

    initiation = ob.initiation("1.00", "GBP", bob.ibans[0])
    consent_id, token = _payment_consent(world, initiation)
    assert_problem(pay(_changed(initiation, "amount", "1.01"), consent_id, token), 400, "consent_mismatch")
    assert outcomes(consent_id) == [("refused", "consent_mismatch")]
    assert ob.expect(pay(initiation, consent_id, token), 201)["Data"]["Status"] == "ACSC"
    assert outcomes(consent_id) == [("refused", "consent_mismatch"), ("allowed", None)]

    second = ob.initiation("1.00", "GBP", bob.ibans[0])
    second_id, second_token = _payment_consent(world, second)

    def broken_book(*_args: Any, **_kwargs: Any) -> Any:
        raise Conflict("booking broke", code="injected_after_the_order")

    monkeypatch.setattr(bank.payments, "_book", broken_book)
    assert_problem(pay(second, second_id, second_token), 409, "injected_after_the_order")
    assert outcomes(second_id) == [("allowed", None), ("refused", "injected_after_the_order")]
