"""The request guards: signed responses under the OB payment and event paths, and the raw body."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from joserfc import jws as jose
from joserfc.jwk import KeySet
from joserfc.registry import HeaderParameter
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from netfin.api import errors
from netfin.api.middleware import BODY_BYTES_MAX, Guards, raw_body
from netfin.api.openbanking import jws
from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.identity.oauth.keys import jwks

NOW_S = 1_767_225_600
PLATFORM = Ed25519PrivateKey.generate()
_REGISTRY = jose.JWSRegistry(
    header_registry={claim: HeaderParameter(claim, lambda value: None) for claim in jws.OB_CRITICAL_CLAIMS},
    algorithms=["Ed25519"],
)


async def _chunks() -> AsyncIterator[bytes]:
    yield b'{"Data":'
    yield b'{"Status":"ACSC"}}'


async def streamed(request: Request) -> Response:
    return StreamingResponse(_chunks(), media_type="application/json")


async def empty(request: Request) -> Response:
    return Response(status_code=204)


async def echo(request: Request) -> Response:
    await request.body()
    return Response(raw_body(request), media_type="application/json")


def _client() -> TestClient:
    app = Starlette(
        routes=[
            Route("/open-banking/v4.0/pisp/streamed", streamed),
            Route("/open-banking/v4.0/pisp/empty", empty, methods=["DELETE"]),
            Route("/open-banking/v4.0/aisp/streamed", streamed),
            Route("/open-banking/v4.0/event-subscriptions", echo, methods=["POST"]),
        ]
    )
    app.state.ob_response_signer = jws.ResponseSigner(
        PLATFORM,
        issuer="https://bank.example",
        trust_anchor="bank.example",
        clock=ManualClock(NOW_S * NS_PER_SECOND),
    )
    app.add_middleware(Guards)
    return TestClient(app)


def _verify(signature: str, body: bytes) -> dict[str, object]:
    keys = KeySet.import_key_set(jwks(PLATFORM))  # type: ignore[arg-type]
    return dict(jose.deserialize_compact(signature, keys, registry=_REGISTRY, payload=body).headers())


def test_a_streamed_payment_response_is_signed_over_its_whole_body() -> None:
    response = _client().get("/open-banking/v4.0/pisp/streamed")
    assert response.content == b'{"Data":{"Status":"ACSC"}}'
    header = _verify(response.headers["x-jws-signature"], response.content)
    assert header[jws.OB_IAT] == NOW_S
    assert response.headers["x-fapi-interaction-id"]


def test_only_payment_and_event_bodies_are_signed() -> None:
    client = _client()
    assert "x-jws-signature" not in client.get("/open-banking/v4.0/aisp/streamed").headers
    assert "x-jws-signature" not in client.delete("/open-banking/v4.0/pisp/empty").headers


def test_refusals_on_signed_paths_are_signed_too() -> None:
    response = _client().post(
        "/open-banking/v4.0/event-subscriptions", content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415
    _verify(response.headers["x-jws-signature"], response.content)


def test_the_raw_body_is_the_bytes_as_sent() -> None:
    sent = b'{ "Data" : {"Version":"4.0"} }'
    response = _client().post(
        "/open-banking/v4.0/event-subscriptions", content=sent, headers={"Content-Type": "application/json"}
    )
    assert response.content == sent
    _verify(response.headers["x-jws-signature"], sent)


class _Document(BaseModel):
    text: str


def _fastapi_client() -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(Guards)

    @app.post("/documents")
    def create(document: _Document) -> dict[str, int]:
        return {"length": len(document.text)}

    return TestClient(app)


def test_a_body_that_grows_past_the_limit_while_streaming_is_413() -> None:
    padding = b"x" * BODY_BYTES_MAX

    def chunks() -> Iterator[bytes]:
        yield b'{"text":"'
        yield padding
        yield b'"}'

    client = _fastapi_client()
    response = client.post("/documents", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "body_too_large"
    small = client.post("/documents", json={"text": "abc"})
    assert (small.status_code, small.json()) == (200, {"length": 3})
