"""FastAPI dependencies: the relay, the settings and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import WithJsonSchema

from ..db.idempotency import MAX_KEY_CHARS, IdempotencyStore
from ..exceptions import PermissionDeniedError
from ..relay import Relay
from ..settings import Settings
from ..trust.rate_limits import ratelimit_headers
from ..vocabulary import Scope
from .dry_run import DRY_RUN_VALUES
from .routing import set_rate_limit_headers
from .security import Caller, KeyChecker, client_address


def get_relay(request: Request) -> Relay:
    relay: Relay = request.app.state.relay
    return relay


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_idempotency(request: Request) -> IdempotencyStore:
    store: IdempotencyStore = request.app.state.idempotency
    return store


async def authenticated(request: Request) -> Caller:
    """The caller behind a valid Bearer key (401/429 otherwise).

    Every authenticated request counts against its key's requests per minute (the stored
    key's ``rate_limit_per_minute``, else ``KEY_REQUESTS_PER_MINUTE``; 0 is unlimited):
    429 with limit ``key`` when it is used up. A counted request's ``RateLimit`` headers
    are left for :class:`.routing.CountedRoute` to put on a successful answer.
    """
    checker: KeyChecker = request.app.state.key_checker
    caller = await checker.check(request.headers.get("authorization"), client_address(request))
    per_minute = caller.requests_per_minute
    if per_minute is None:
        per_minute = get_settings(request).key_requests_per_minute
    decisions = await get_relay(request).count_key_request(caller.key_id, per_minute)
    for counted, decision in decisions:
        set_rate_limit_headers(request, ratelimit_headers(counted, decision))
    return caller


class ScopeRequirement:
    """The dependency of a route that needs ``scope``: the caller (401), else 403
    ``forbidden`` when its key lacks the scope. ``scope`` is read by the scope-matrix test."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        if self.scope not in caller.scopes:
            raise PermissionDeniedError(f"this API key lacks the {self.scope.value} scope")
        return caller


def require(scope: Scope) -> ScopeRequirement:
    """``Depends(require(Scope.SEND))``: the caller, if its key has ``scope``."""
    return ScopeRequirement(scope)


RelayDep = Annotated[Relay, Depends(get_relay)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CallerDep = Annotated[Caller, Depends(authenticated)]
SendCaller = Annotated[Caller, Depends(require(Scope.SEND))]
ReadCaller = Annotated[Caller, Depends(require(Scope.READ))]
AdminCaller = Annotated[Caller, Depends(require(Scope.ADMIN))]


@dataclass(frozen=True)
class Services:
    """What a create route needs: the relay, the settings, the idempotency store."""

    relay: Relay
    settings: Settings
    idempotency: IdempotencyStore


def get_services(request: Request) -> Services:
    return Services(get_relay(request), get_settings(request), get_idempotency(request))


def documented_headers(
    x_dry_run: Annotated[
        str | None,
        Header(alias="X-Dry-Run", description="true, 1 or yes: validate and render only."),
        WithJsonSchema({"type": "string", "enum": DRY_RUN_VALUES}),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Up to 255 printable ASCII characters; makes a retry safe.",
        ),
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_CHARS,
                "pattern": "^[!-~]([ -~]*[!-~])?$",
            }
        ),
    ] = None,
) -> None:
    """Declares the create routes' optional headers in the OpenAPI schema; the routes
    read and check them themselves (an invalid value is a 400, not a 422), so their
    constraints are published rather than enforced here."""


ServicesDep = Annotated[Services, Depends(get_services)]
