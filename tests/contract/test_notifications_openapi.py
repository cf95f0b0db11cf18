"""Notification bodies and subscription resources validate against the official v4.0 schemas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from netfin.core.clock import NS_PER_SECOND
from netfin.notifications import (
    EVENT_TYPES,
    RESOURCE_UPDATE,
    SUBJECT_PATHS,
    OutboxEvent,
    Subscription,
    build_notification,
    subscription_data,
)

SPECS = Path(__file__).resolve().parents[3] / "shared" / "data" / "openbanking" / "uk_obie_v4"


def _components(name: str) -> dict[str, Any]:
    path = SPECS / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the UK Open Banking v4.0 OpenAPI files are missing at {SPECS}")
        pytest.skip(f"the UK Open Banking v4.0 OpenAPI files are not at {SPECS}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text())
    return spec


def _validate(spec: dict[str, Any], schema_name: str, instance: object) -> None:
    schema = {**spec["components"]["schemas"][schema_name], "components": spec["components"]}
    OAS30Validator(schema, format_checker=oas30_format_checker).validate(instance)


def _event(subject_kind: str) -> OutboxEvent:
    return OutboxEvent(
        seq=1,
        event_id=0x0190_0000_0000_7000_8000_0000_0000_0042,
        event_type=RESOURCE_UPDATE,
        client_id="tpp-a",
        subject_kind=subject_kind,
        subject_id="res-42",
        payload={"amount_minor": 5},
        created_ns=1_767_225_600 * NS_PER_SECOND,
        dispatched_ns=None,
    )


@pytest.mark.parametrize("subject_kind", sorted(SUBJECT_PATHS))
def test_a_resource_update_notification_is_an_ob_event_notification(subject_kind: str) -> None:
    spec = _components("event-notifications-openapi.yaml")
    claims = build_notification(
        _event(subject_kind),
        audience="tpp-a",
        issuer="netfin",
        resource_base_url="http://127.0.0.1:8000/open-banking/v4.0",
        issued_at_s=1_767_225_601,
    )
    _validate(spec, "OBEventNotification1", claims)


def test_a_made_up_member_breaks_the_schema_check() -> None:
    """The check itself can fail: the v4.0 schema forbids extra members."""
    spec = _components("event-notifications-openapi.yaml")
    claims = build_notification(
        _event("domestic-payment"),
        audience="tpp-a",
        issuer="netfin",
        resource_base_url="http://127.0.0.1:8000/open-banking/v4.0",
        issued_at_s=1,
    )
    claims["events"][RESOURCE_UPDATE]["amount_minor"] = 5
    with pytest.raises(ValidationError, match="Additional properties"):
        _validate(spec, "OBEventNotification1", claims)


def test_subscription_resources_have_the_ob_shapes() -> None:
    spec = _components("events-openapi.yaml")
    every = Subscription("0" * 31 + "1", "tpp-a", "https://tpp.example/cb", "4.0", None, 1, 1)
    some = Subscription("0" * 31 + "2", "tpp-a", "https://tpp.example/cb", "4.0", EVENT_TYPES[:2], 1, 1)
    links = {"Self": "https://bank.example/open-banking/v4.0/event-subscriptions"}
    for subscription in (every, some):
        _validate(spec, "OBEventSubscriptionResponse1", {"Data": subscription_data(subscription)})
        request = dict(subscription_data(subscription))
        del request["EventSubscriptionId"]
        _validate(spec, "OBEventSubscription1", {"Data": request})
    listing = {
        "Data": {"EventSubscription": [subscription_data(every), subscription_data(some)]},
        "Links": links,
        "Meta": {},
    }
    _validate(spec, "OBEventSubscriptionsResponse1", listing)
