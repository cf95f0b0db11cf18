"""Who is calling: bearer tokens to principals, with scopes, roles and rate limits.

Every refusal here (no token, a bad token, a missing scope or role) is written
to the audit log before the 401 or 403 goes out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from netfin.core.errors import Forbidden, NetfinError, Unauthenticated
from netfin.identity.model import Role
from netfin.identity.oauth.model import SessionClaims
from netfin.openbanking.service import TppAccess
from netfin.ratelimit.model import RateLimited

if TYPE_CHECKING:
    from netfin.bank import Bank

AUTHORIZATION_LENGTH_MAX = 8192


def bank_of(request: Request) -> Bank:
    return cast("Bank", request.app.state.bank)


def interaction_id(request: Request) -> str | None:
    return cast("str | None", getattr(request.state, "interaction_id", None))


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("an Authorization: Bearer token is required", code="token_missing")
    if len(authorization) > AUTHORIZATION_LENGTH_MAX:
        raise Unauthenticated("the Authorization header is too long", code="token_invalid")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'", code="token_invalid")
    return token.strip()


def _refused(
    request: Request, action: str, error: NetfinError, actor_kind: str = "anonymous", actor_id: str = ""
) -> None:
    bank_of(request).audit.record(
        actor_kind=actor_kind,
        actor_id=actor_id,
        action=action,
        outcome="refused",
        subject_kind="endpoint",
        subject_id=endpoint_of(request),
        interaction_id=interaction_id(request),
        reason=error.code,
    )


def endpoint_of(request: Request) -> str:
    """The route template (``GET /v1/parties/{party_id}``), never the raw path: a caller's
    path may be long or hold control characters, and ids do not belong in this field."""
    route = request.scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    return f"{request.method} {template}"[:SUBJECT_LENGTH_MAX]


SUBJECT_LENGTH_MAX = 128


def _enforce(request: Request, policy: str, key: str, actor_kind: str) -> None:
    try:
        bank_of(request).rate_limiter.enforce(policy, key)
    except RateLimited as error:
        _refused(request, "auth.rate_limit", error, actor_kind, key)
        raise


def tpp(*scopes: str) -> Callable[..., Awaitable[TppAccess]]:
    """A dependency: a TPP access token carrying one of ``scopes``; rate-limited per client."""
    wanted = frozenset(scopes)
    names = " or ".join(repr(s) for s in scopes)

    def checked(request: Request, authorization: str | None) -> TppAccess:
        bank = bank_of(request)
        try:
            claims = bank.oauth.verify_access_token(_bearer(authorization))
        except NetfinError as error:
            _refused(request, "auth.access_token", error)
            raise
        if not claims.scopes & wanted:
            refusal = Forbidden(f"the token lacks the {names} scope", code="scope_missing")
            _refused(request, "auth.scope", refusal, "tpp", claims.client_id)
            raise refusal
        _enforce(request, "tpp_client", claims.client_id, "tpp")
        return TppAccess(claims.client_id, claims.consent_id, interaction_id(request))

    async def dependency(
        request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
    ) -> TppAccess:
        """On the event loop when accepting needs no I/O (``_recognised``), else on a worker
        thread: verification may read the client's status, a refusal waits for its audit entry,
        and Redis-backed rate limits are a network call."""
        access = _recognised(request, authorization, wanted)
        if access is not None:
            return access
        return await run_in_threadpool(checked, request, authorization)

    return dependency


def _recognised(request: Request, authorization: str | None, wanted: frozenset[str]) -> TppAccess | None:
    """A TPP's request accepted from memory alone, or ``None`` for the full check.

    The token's client is known active and the token was verified before or
    verifies now (``OAuth.recognised_access_token``: a signature check, no
    I/O), it carries a wanted scope, and the in-process rate limiter lets it
    through. Anything else, refusals included,
    goes to the full check, which audits what it refuses.
    """
    bank = bank_of(request)
    if not bank.rate_limiter.in_process:
        return None
    try:
        token = _bearer(authorization)
    except Unauthenticated:
        return None
    claims = bank.oauth.recognised_access_token(token)
    if claims is None or not claims.scopes & wanted:
        return None
    if not bank.rate_limiter.check("tpp_client", claims.client_id).allowed:
        return None  # the full check refuses it again, and audits the refusal
    return TppAccess(claims.client_id, claims.consent_id, interaction_id(request))


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in customer or member of staff."""

    party_id: int
    roles: frozenset[str]
    claims: SessionClaims
    interaction_id: str | None

    @property
    def kind(self) -> str:
        for role in (
            Role.CUSTOMER,
            Role.OPERATOR,
            Role.COMPLIANCE,
            Role.RISK_ANALYST,
            Role.AUDITOR,
            Role.REGULATOR,
        ):
            if role.value in self.roles:
                return role.value
        return "customer"


def session(*roles: Role) -> Callable[..., Principal]:
    """A dependency: a session token of a party holding one of ``roles``."""
    wanted = frozenset(r.value for r in roles)

    def dependency(
        request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
    ) -> Principal:
        bank = bank_of(request)
        try:
            claims = bank.oauth.verify_session(_bearer(authorization))
        except NetfinError as error:
            _refused(request, "auth.session", error)
            raise
        held = frozenset(claims.roles)
        if wanted and not held & wanted:
            refusal = Forbidden("your role does not allow this", code="role_missing")
            _refused(
                request,
                "auth.role",
                refusal,
                sorted(held)[0] if held else "anonymous",
                f"{claims.party_id:032x}",
            )
            raise refusal
        _enforce(request, "customer", f"{claims.party_id:032x}", sorted(held)[0] if held else "customer")
        return Principal(claims.party_id, held, claims, interaction_id(request))

    return dependency


Customer = Annotated[Principal, Depends(session(Role.CUSTOMER))]
Staff = Annotated[Principal, Depends(session(Role.OPERATOR))]
AuditReader = Annotated[Principal, Depends(session(Role.AUDITOR, Role.REGULATOR, Role.COMPLIANCE))]
ais_access = tpp("accounts")
AisAccess = Annotated[TppAccess, Depends(ais_access)]
pis_access = tpp("payments")
PisAccess = Annotated[TppAccess, Depends(pis_access)]
CbpiiAccess = Annotated[TppAccess, Depends(tpp("fundsconfirmations"))]
EventsAccess = Annotated[TppAccess, Depends(tpp("accounts", "payments", "fundsconfirmations"))]


async def _bank_dependency(request: Request) -> Bank:
    """``bank_of`` as a dependency; ``async`` because it only reads app state: FastAPI runs a sync
    dependency on the thread pool, a hand-off that costs more than the lookup itself."""
    return bank_of(request)


BankDep = Annotated[Any, Depends(_bank_dependency)]
