"""``/v1/aml`` on both stores: roles, four eyes, audited regulator reads, the dashboard."""

from __future__ import annotations

from netfin.aml.monitoring.config import load_profile
from netfin.aml.monitoring.model import Txn
from netfin.aml.monitoring.stream import StreamMonitor
from netfin.identity.model import Role
from netfin.sim import openbanking as ob
from netfin.sim.openbanking import bearer

from .conftest import World

H = 3_600_000


def _case_for_bob(world: World) -> str:
    account = f"account:{world.bob.account_ids[0]}"
    t0 = world.clock.now_ns() // 1_000_000
    txns = [Txn(f"t{i}", t0 + i * H, f"ext{i}", account, 300_000, "GBP", dst_kind="person") for i in range(3)]
    profile = load_profile()
    alerts = StreamMonitor(profile).observe_many(
        [Txn("c", t0, "cash-desk", account, 6_000_000, "CNY", channel="cash_in", src_kind="external"), *txns]
    )
    assert alerts
    (case_id,) = world.bank.aml.cases.ingest(alerts, party_of={account: world.bob.party_id}).case_ids
    return case_id


def test_case_work_through_the_api_with_four_eyes(world: World) -> None:
    case_id = _case_for_bob(world)
    analyst = ob.staff_session(world.bank, roles=(Role.RISK_ANALYST,), name="Analyst")
    officer = ob.staff_session(world.bank, roles=(Role.COMPLIANCE,), name="Officer")
    second = ob.staff_session(world.bank, roles=(Role.COMPLIANCE,), name="Second")
    http = world.http
    listed = http.get("/v1/aml/cases", headers=bearer(analyst))
    assert listed.status_code == 200 and [c["case_id"] for c in listed.json()["cases"]] == [case_id]
    detail = http.get(f"/v1/aml/cases/{case_id}", headers=bearer(officer)).json()
    assert detail["case"]["party"] == world.bob.party_id and detail["alerts"][0]["reason_zh"]
    assert http.post(f"/v1/aml/cases/{case_id}/notes", json={"text": "cash, then a transfer"},
                     headers=bearer(analyst)).status_code == 200  # fmt: skip
    proposal = {"decision": "report", "reason": "large cash"}
    decided = http.post(f"/v1/aml/cases/{case_id}/decision", json=proposal, headers=bearer(officer))
    assert decided.status_code == 200 and decided.json()["status"] == "pending_approval"
    own = http.post(f"/v1/aml/cases/{case_id}/approval", json={}, headers=bearer(officer))
    assert own.status_code == 403 and own.json()["code"] == "four_eyes_required"
    by_analyst = http.post(f"/v1/aml/cases/{case_id}/approval", json={}, headers=bearer(analyst))
    assert by_analyst.status_code == 403
    # No payment booked here stands behind these alerts: nothing to report, and nothing filed.
    empty = http.post(f"/v1/aml/cases/{case_id}/approval", json={}, headers=bearer(second))
    assert empty.status_code == 409 and empty.json()["code"] == "report_without_transactions"
    assert (
        http.get(f"/v1/aml/cases/{case_id}", headers=bearer(officer)).json()["case"]["status"]
        == "pending_approval"
    )


def test_customers_are_refused_and_regulators_read_aggregates_audited(world: World) -> None:
    case_id = _case_for_bob(world)
    assert world.http.get("/v1/aml/cases", headers=bearer(world.alice.session)).status_code == 403
    regulator = ob.staff_session(world.bank, roles=(Role.REGULATOR,), name="Regulator")
    board = world.http.get("/v1/aml/dashboard", headers=bearer(regulator))
    assert board.status_code == 200
    body = board.json()
    assert body["cases_by_status"] == {"open": 1} and sum(body["alerts_by_scenario"].values()) >= 1
    note = world.http.post(f"/v1/aml/cases/{case_id}/notes", json={"text": "x"}, headers=bearer(regulator))
    assert note.status_code == 403
    world.http.get(f"/v1/aml/cases/{case_id}", headers=bearer(regulator))
    actions = {e.action for e in world.bank.audit.query(actor_kind="regulator").entries}
    assert {"aml.dashboard.read", "aml.case.read"} <= actions
