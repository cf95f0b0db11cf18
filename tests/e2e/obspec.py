"""Conformance harness: netfin's UK Open Banking exchanges against the official
v4.0 OpenAPI files.

The files live outside the repository (their licence keeps them out of it), in
``../shared/data/openbanking/uk_obie_v4/`` relative to the repository root.
Each is parsed once per process and cached. Where the folder is absent every
function here skips the calling test with a reason; under ``CI=true`` an absent
folder fails the test instead, so conformance is never skipped silently in CI.

Spec names are the file names without ``-openapi.yaml``: ``account-info``
(``/open-banking/v4.0/aisp``), ``payment-initiation`` (``.../pisp``),
``confirmation-funds`` (``.../cbpii``), ``events`` (``/open-banking/v4.0``:
event-subscriptions) and ``event-notifications``. ``spec_name_for_path`` picks
one from a request path.

Entry points, all raising ``ConformanceError`` (an ``AssertionError`` listing
every finding) when the exchange breaks the file:

* ``validate_request(spec, method, path, *, headers, query, body)``
* ``validate_response(spec, method, path, *, request_headers, status,
  response_headers, body, content_type)``
* ``validate_exchange(spec, response, *, check_request=True,
  undeclared_status=False)`` for an ``httpx.Response`` (what
  ``fastapi.testclient.TestClient`` returns): checks both the request that
  produced it and the response. ``check_request=False`` checks the response
  alone (for a test that sends a deliberately broken request);
  ``undeclared_status=True`` accepts an error status the operation does not
  declare, which the calling test must list with its reason, and still checks
  the document as an ``OBErrorResponse1`` and the interaction id
  (``validate_undeclared_error``).
* ``operation_template(spec, method, path)`` and ``declared_statuses(spec,
  method, path)``: the file's path template for a request and the statuses
  its operation declares.
* ``validate_against_component(spec, schema_name, instance)`` for a plain
  schema check of a JSON value or a pydantic model.

``path`` is the full path under the server URL, e.g.
``/open-banking/v4.0/aisp/accounts/123/balances``. The files declare relative
server URLs (``/open-banking/v4.0/aisp``); openapi-core is given no base URL,
so it matches the server on the path alone and any host works.

What is checked, and the rules that are netfin's own reading of the files:

* Requests: path, method, parameters (headers such as ``Authorization``,
  ``x-idempotency-key``, ``x-jws-signature``, ``x-fapi-auth-date``; query) and
  the body. Security requirements are not evaluated: the files declare OAuth2
  schemes, which openapi-core cannot check (and would warn about); the
  ``Authorization`` header is still required as a declared header parameter.
* Responses: the status must be declared for the operation, declared headers
  must be present and valid (``x-fapi-interaction-id``, and ``x-jws-signature``
  where the payment-initiation file requires it), and the body must match.
  When the request carried ``x-fapi-interaction-id``, the response must echo
  the same value (FAPI).
* JSON is always UTF-8 (RFC 8259 §8.1), so ``application/json`` and
  ``application/json; charset=utf-8`` are the same representation. Where an
  operation declares only the ``charset=utf-8`` form (the events file does),
  a bare ``application/json`` message is validated against that entry.
* Error responses. netfin answers every error with an RFC 9457
  ``application/problem+json`` document that ALSO carries the OB error members
  (``Code``, ``Id``, ``Message``, ``Errors``) as extension members. The files
  declare ``OBErrorResponse1`` under JSON media types (and some error statuses
  with no body at all), so a problem document is not matched by media type.
  Instead the harness checks the status and headers against the operation as
  usual, checks the RFC 9457 members' types (``status`` must equal the HTTP
  status), drops the members in ``PROBLEM_MEMBERS`` (``type``, ``title``,
  ``status``, ``detail``, ``instance``, netfin's ``code`` and
  ``interaction_id``) and validates what remains against the file's
  ``OBErrorResponse1`` component, with ``additionalProperties: false`` in force.
* Formats: ``date-time`` is checked (RFC 3339, via rfc3339-validator); ``uri``
  is checked as an absolute URI with a scheme and a host.
* The files are used as published, without meta-validation: the
  payment-initiation file fails strict OpenAPI 3.0 validation only because one
  of its enums lists ``WEEK`` twice, which does not affect any message check.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
from jsonschema_path import SchemaPath
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.templating.responses.exceptions import ResponseFinderError
from openapi_core.templating.responses.finders import ResponseFinder
from openapi_core.validation.request.validators import (
    V30RequestBodyValidator,
    V30RequestParametersValidator,
)
from openapi_core.validation.response.validators import (
    V30ResponseHeadersValidator,
    V30ResponseValidator,
)
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator.readers import read_from_filename
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from werkzeug.datastructures import Headers, ImmutableMultiDict

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[2]
SPEC_DIR: Final = REPOSITORY_ROOT.parent / "shared" / "data" / "openbanking" / "uk_obie_v4"
SPEC_NAMES: Final = (
    "account-info",
    "payment-initiation",
    "confirmation-funds",
    "events",
    "event-notifications",
    "vrp",
)
# Longest prefix first, so ``/open-banking/v4.0/aisp`` wins over ``/open-banking/v4.0``.
_PATH_PREFIXES: Final = (
    ("/open-banking/v4.0/aisp/", "account-info"),
    ("/open-banking/v4.0/pisp/domestic-vrp", "vrp"),
    ("/open-banking/v4.0/pisp/", "payment-initiation"),
    ("/open-banking/v4.0/cbpii/", "confirmation-funds"),
    ("/open-banking/v4.0/event-subscriptions", "events"),
    ("/open-banking/v4.0/events", "events"),
    ("/open-banking/v4.0/event-notifications", "event-notifications"),
)
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
JSON_MEDIA_TYPE: Final = "application/json"
# RFC 9457 members plus netfin's own extensions; everything else in a problem
# document must be an OB error member.
PROBLEM_MEMBERS: Final = frozenset(
    {"type", "title", "status", "detail", "instance", "code", "interaction_id"}
)
_PROBLEM_TEXT_MEMBERS: Final = ("type", "title", "detail", "instance", "code", "interaction_id")
_ERROR_COMPONENT: Final = "OBErrorResponse1"
# Any host matches: the files' server URLs are relative and no base URL is set.
_HOST_URL: Final = "http://localhost"
_INTERACTION_HEADER: Final = "x-fapi-interaction-id"
_FINDING_LENGTH_MAX: Final = 300


class SentURL(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def params(self) -> Any: ...


class SentRequest(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def url(self) -> SentURL: ...

    @property
    def headers(self) -> Any: ...

    def read(self) -> bytes: ...


class ReceivedResponse(Protocol):
    """What ``httpx.Response`` and ``httpx2.Response`` (``TestClient``'s, when installed) share."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...

    @property
    def content(self) -> bytes: ...

    @property
    def request(self) -> SentRequest: ...


class ConformanceError(AssertionError):
    """An exchange or a document breaks the official file; ``findings`` lists why."""

    def __init__(self, subject: str, findings: Sequence[str]) -> None:
        self.subject = subject
        self.findings = list(findings)
        super().__init__(f"{subject} breaks the UK OB v4.0 file:\n" + "\n".join(self.findings))


# --- loading -----------------------------------------------------------------


def specs_available() -> bool:
    return all((SPEC_DIR / f"{name}-openapi.yaml").is_file() for name in SPEC_NAMES)


def require_specs() -> None:
    """Skip the calling test (fail it under ``CI=true``) when the files are absent."""
    if specs_available():
        return
    reason = f"UK OB v4.0 OpenAPI files not found in {SPEC_DIR} (../shared/ is absent)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@functools.cache
def spec_document(spec_name: str) -> dict[str, Any]:
    """The parsed file, loaded once per process."""
    if spec_name not in SPEC_NAMES:
        raise ValueError(f"unknown spec {spec_name!r}; expected one of {SPEC_NAMES}")
    require_specs()
    # The reader openapi-core's own tooling uses: a safe YAML loader that keeps
    # date-like scalars as strings.
    document, _ = read_from_filename(str(SPEC_DIR / f"{spec_name}-openapi.yaml"))
    if not isinstance(document, dict):
        raise TypeError(f"{spec_name}: not an OpenAPI document")
    return document


@functools.cache
def spec(spec_name: str) -> SchemaPath:
    return SchemaPath.from_dict(spec_document(spec_name))


def spec_name_for_path(path: str) -> str:
    for prefix, name in _PATH_PREFIXES:
        if path.startswith(prefix):
            return name
    raise ValueError(f"{path!r} is not under a UK OB v4.0 server URL")


def _is_absolute_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc) and not any(c.isspace() for c in value)


_EXTRA_FORMATS: Final = {"uri": _is_absolute_uri}


@functools.cache
def _validators(spec_name: str) -> tuple[Any, Any, Any, Any]:
    schema = spec(spec_name)
    options: dict[str, Any] = {"extra_format_validators": _EXTRA_FORMATS}
    return (
        V30RequestParametersValidator(schema, **options),
        V30RequestBodyValidator(schema, **options),
        V30ResponseValidator(schema, **options),
        V30ResponseHeadersValidator(schema, **options),
    )


@functools.cache
def _component_validator(spec_name: str, schema_name: str) -> Any:
    document = spec_document(spec_name)
    if schema_name not in document.get("components", {}).get("schemas", {}):
        raise ValueError(f"{spec_name} has no component schema {schema_name!r}")
    uri = f"urn:netfin:obspec:{spec_name}"
    resource = Resource.from_contents(document, default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    # The OAS 3.0 checker (int32, int64, byte ...) plus netfin's ``uri`` check.
    checker = copy.deepcopy(OAS30Validator.FORMAT_CHECKER)
    for name, check in _EXTRA_FORMATS.items():
        checker.checks(name)(check)
    reference = {"$ref": f"{uri}#/components/schemas/{schema_name}"}
    return OAS30Validator(reference, registry=registry, format_checker=checker)


# --- openapi-core adapters ---------------------------------------------------


@dataclass
class OpenAPIRequest:
    """openapi-core's ``Request`` protocol, built from plain values."""

    method: str
    path: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str
    host_url: str = _HOST_URL


@dataclass
class OpenAPIResponse:
    """openapi-core's ``Response`` protocol, built from plain values."""

    status_code: int
    data: bytes | None
    content_type: str
    headers: Headers = field(default_factory=Headers)


def _header_items(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    # httpx and httpx2 headers keep repeated fields apart in ``multi_items``.
    multi_items = getattr(headers, "multi_items", None)
    if callable(multi_items):
        return [(str(key), str(value)) for key, value in multi_items()]
    if isinstance(headers, Mapping):
        return [(str(key), str(value)) for key, value in headers.items()]
    return [(str(key), str(value)) for key, value in headers]


def _encode_body(body: object) -> bytes | None:
    """``None`` is no body; bytes and text are sent as they are; anything else as JSON."""
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, BaseModel):
        return body.model_dump_json().encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _split_path(
    path: str, query: Mapping[str, Any] | Iterable[tuple[str, str]] | None
) -> tuple[str, list[tuple[str, str]]]:
    pairs: list[tuple[str, str]] = []
    if "?" in path:
        path, _, text = path.partition("?")
        pairs.extend(parse_qsl(text, keep_blank_values=True))
    if isinstance(query, Mapping):
        for key, value in query.items():
            values = value if isinstance(value, list | tuple) else [value]
            pairs.extend((str(key), str(item)) for item in values)
    elif query is not None:
        pairs.extend((str(key), str(value)) for key, value in query)
    return path, pairs


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _negotiate(content_type: str, declared: Sequence[str]) -> str:
    """Map a bare ``application/json`` onto a declared ``charset=utf-8`` entry."""
    if content_type in declared or _media_type(content_type) != JSON_MEDIA_TYPE:
        return content_type
    parameters = [part.strip().lower() for part in content_type.split(";")[1:] if part.strip()]
    if parameters not in ([], ["charset=utf-8"]):
        return content_type
    if any(entry.strip().lower() == JSON_MEDIA_TYPE for entry in declared):
        return content_type
    for entry in declared:
        entry_parameters = [part.strip().lower() for part in entry.split(";")[1:] if part.strip()]
        if _media_type(entry) == JSON_MEDIA_TYPE and entry_parameters == ["charset=utf-8"]:
            return entry
    return content_type


def _operation(spec_name: str, method: str, path: str) -> SchemaPath | None:
    try:
        found = APICallPathFinder(spec(spec_name)).find(method.lower(), urljoin(_HOST_URL, path))
    except PathError:
        return None
    operation: SchemaPath = found.operation
    return operation


def _declared_request_media_types(spec_name: str, method: str, path: str) -> list[str]:
    operation = _operation(spec_name, method, path)
    if operation is None or "requestBody" not in operation:
        return []
    return [str(key) for key in (operation / "requestBody" / "content").keys()]


def _declared_response_media_types(spec_name: str, method: str, path: str, status: int) -> list[str]:
    operation = _operation(spec_name, method, path)
    if operation is None:
        return []
    try:
        response = ResponseFinder(operation / "responses").find(str(status))
    except ResponseFinderError:
        return []
    if "content" not in response:
        return []
    return [str(key) for key in (response / "content").keys()]


def _describe(error: BaseException) -> Iterator[str]:
    # openapi-core's messages quote the whole value; the schema errors below
    # say where the problem is, so the first line is kept short.
    text = f"{type(error).__name__}: {error}"
    yield text if len(text) <= _FINDING_LENGTH_MAX else text[: _FINDING_LENGTH_MAX - 3] + "..."
    cause = error.__cause__
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for schema_error in schema_errors:
                yield f"  at {schema_error.json_path}: {schema_error.message}"
        else:
            yield f"  because {type(cause).__name__}: {cause}"
        cause = cause.__cause__


def _findings(errors: Iterable[BaseException]) -> list[str]:
    return [line for error in errors for line in _describe(error)]


# --- requests ----------------------------------------------------------------


def openapi_request(
    spec_name: str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    query: Mapping[str, Any] | Iterable[tuple[str, str]] | None = None,
    body: object = None,
    content_type: str | None = None,
) -> OpenAPIRequest:
    """An openapi-core request; ``content_type`` defaults to the header, then JSON."""
    header_items = _header_items(headers)
    header_map = Headers(header_items)
    path_only, query_pairs = _split_path(path, query)
    raw = _encode_body(body)
    declared_type = content_type or header_map.get("content-type") or (JSON_MEDIA_TYPE if raw else "")
    return OpenAPIRequest(
        method=method.lower(),
        path=path_only,
        parameters=RequestParameters(query=ImmutableMultiDict(query_pairs), header=header_map),
        body=raw,
        content_type=_negotiate(declared_type, _declared_request_media_types(spec_name, method, path_only)),
    )


def request_findings(spec_name: str, request: OpenAPIRequest) -> list[str]:
    parameters, body, _, _ = _validators(spec_name)
    errors = [*parameters.iter_errors(request)]
    if not any(isinstance(error, PathError) for error in errors):
        errors.extend(body.iter_errors(request))
    return _findings(errors)


def validate_request(
    spec_name: str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    query: Mapping[str, Any] | Iterable[tuple[str, str]] | None = None,
    body: object = None,
    content_type: str | None = None,
) -> None:
    """Check one request against the file; ``body`` is bytes, text, a model or a JSON value."""
    request = openapi_request(
        spec_name, method, path, headers=headers, query=query, body=body, content_type=content_type
    )
    findings = request_findings(spec_name, request)
    if findings:
        raise ConformanceError(f"request {method.upper()} {path}", findings)


# --- responses ---------------------------------------------------------------


def _problem_findings(spec_name: str, status: int, body: bytes | None) -> list[str]:
    """Check an RFC 9457 problem that carries the OB error members (see module doc)."""
    try:
        document = json.loads(body or b"")
    except ValueError as error:
        return [f"problem body is not JSON: {error}"]
    if not isinstance(document, dict):
        return ["problem body is not a JSON object"]
    findings: list[str] = []
    if status < 400:
        findings.append(f"{PROBLEM_MEDIA_TYPE} sent with non-error status {status}")
    if "status" in document and (type(document["status"]) is not int or document["status"] != status):
        findings.append(f"problem member status {document['status']!r} is not the HTTP status {status}")
    for member in _PROBLEM_TEXT_MEMBERS:
        if member in document and not isinstance(document[member], str):
            findings.append(f"problem member {member} is not a string")
    remainder = {key: value for key, value in document.items() if key not in PROBLEM_MEMBERS}
    validator = _component_validator(spec_name, _ERROR_COMPONENT)
    for schema_error in validator.iter_errors(remainder):
        findings.append(f"OB error members at {schema_error.json_path}: {schema_error.message}")
    return findings


def _interaction_findings(
    request_headers: Mapping[str, Any] | Headers, response_headers: Headers
) -> list[str]:
    sent = request_headers.get(_INTERACTION_HEADER)
    if sent is None:
        return []
    echoed = response_headers.get(_INTERACTION_HEADER)
    if echoed != sent:
        return [f"{_INTERACTION_HEADER} {sent!r} was not echoed (got {echoed!r})"]
    return []


def validate_response(
    spec_name: str,
    method: str,
    path: str,
    *,
    request_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    status: int,
    response_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    body: object = None,
    content_type: str | None = None,
) -> None:
    """Check one response to ``method path`` against the file (problem documents as the module doc says)."""
    request = openapi_request(spec_name, method, path, headers=request_headers)
    headers = Headers(_header_items(response_headers))
    raw = _encode_body(body)
    declared_type = content_type or headers.get("content-type") or (JSON_MEDIA_TYPE if raw else "")
    _, _, full, headers_only = _validators(spec_name)
    if _media_type(declared_type) == PROBLEM_MEDIA_TYPE:
        response = OpenAPIResponse(status, raw, declared_type, headers)
        findings = _findings(headers_only.iter_errors(request, response))
        findings.extend(_problem_findings(spec_name, status, raw))
    else:
        declared = _declared_response_media_types(spec_name, method, request.path, status)
        response = OpenAPIResponse(status, raw, _negotiate(declared_type, declared), headers)
        findings = _findings(full.iter_errors(request, response))
    findings.extend(_interaction_findings(request.parameters.header, headers))
    if findings:
        raise ConformanceError(f"response {status} to {method.upper()} {request.path}", findings)


def validate_exchange(
    spec_name: str | None,
    response: httpx.Response | ReceivedResponse,
    *,
    check_request: bool = True,
    undeclared_status: bool = False,
) -> None:
    """Check the request behind an ``httpx.Response`` (e.g. from ``TestClient``) and the response.

    ``spec_name`` may be ``None`` to pick the file from the request path.
    ``check_request=False`` skips the request (one broken on purpose);
    ``undeclared_status=True`` checks an error the operation does not declare
    with ``validate_undeclared_error`` instead of ``validate_response``.
    """
    request = response.request
    path = request.url.path
    name = spec_name or spec_name_for_path(path)
    if check_request:
        validate_request(
            name,
            request.method,
            path,
            headers=request.headers,
            query=list(request.url.params.multi_items()),
            body=request.read() or None,
        )
    if undeclared_status:
        validate_undeclared_error(name, response)
        return
    validate_response(
        name,
        request.method,
        path,
        request_headers=request.headers,
        status=response.status_code,
        response_headers=response.headers,
        body=response.content or None,
    )


def operation_template(spec_name: str, method: str, path: str) -> str | None:
    """The file's path template (``/accounts/{AccountId}``) for a request, or ``None``."""
    try:
        found = APICallPathFinder(spec(spec_name)).find(method.lower(), urljoin(_HOST_URL, path))
    except PathError:
        return None
    return str(found.path_result.pattern)


def declared_statuses(spec_name: str, method: str, path: str) -> frozenset[str]:
    """The response statuses (``"200"``, ``"4XX"``, ``"default"``) the operation declares."""
    operation = _operation(spec_name, method, path)
    if operation is None:
        return frozenset()
    return frozenset(str(status) for status in (operation / "responses").keys())


def validate_undeclared_error(spec_name: str, response: httpx.Response | ReceivedResponse) -> None:
    """Check an error response whose status the operation does not declare.

    The status must really be undeclared (a declared one goes through
    ``validate_response``), an error, sent as a problem document whose OB
    members form an ``OBErrorResponse1``, with ``x-fapi-interaction-id``
    present and echoed.
    """
    request = response.request
    path = request.url.path
    status = response.status_code
    headers = Headers(_header_items(response.headers))
    findings: list[str] = []
    if operation_template(spec_name, request.method, path) is None:
        findings.append("no operation of the file matches the request")
    elif str(status) in declared_statuses(spec_name, request.method, path):
        findings.append(f"status {status} is declared; validate it with validate_response")
    if _media_type(headers.get("content-type")) != PROBLEM_MEDIA_TYPE:
        findings.append(f"an undeclared status must carry {PROBLEM_MEDIA_TYPE}")
    if not headers.get(_INTERACTION_HEADER):
        findings.append(f"{_INTERACTION_HEADER} is missing")
    findings.extend(_problem_findings(spec_name, status, response.content or None))
    findings.extend(_interaction_findings(Headers(_header_items(request.headers)), headers))
    if findings:
        raise ConformanceError(f"undeclared {status} to {request.method.upper()} {path}", findings)


# --- components --------------------------------------------------------------


def component_findings(spec_name: str, schema_name: str, instance: object) -> list[str]:
    if isinstance(instance, BaseModel):
        instance = json.loads(instance.model_dump_json())
    validator = _component_validator(spec_name, schema_name)
    return [f"at {error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


def validate_against_component(spec_name: str, schema_name: str, instance: object) -> None:
    """Check a JSON value, or a pydantic model as it serialises, against a component schema."""
    findings = component_findings(spec_name, schema_name, instance)
    if findings:
        raise ConformanceError(f"{schema_name} instance", findings)
