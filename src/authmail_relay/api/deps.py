"""FastAPI dependencies: the relay, the settings and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from ..idempotency import IdempotencyStore
from ..relay import Relay
from ..settings import Settings
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


def authenticated(request: Request) -> Caller:
    """The caller behind a valid Bearer key (401/429 otherwise)."""
    checker: KeyChecker = request.app.state.key_checker
    return checker.check(request.headers.get("authorization"), client_address(request))


RelayDep = Annotated[Relay, Depends(get_relay)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
IdempotencyDep = Annotated[IdempotencyStore, Depends(get_idempotency)]
CallerDep = Annotated[Caller, Depends(authenticated)]


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
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Up to 255 printable ASCII characters; makes a retry safe.",
        ),
    ] = None,
) -> None:
    """Declares the create routes' optional headers in the OpenAPI schema; the routes
    read and check them themselves (an invalid value is a 400, not a 422)."""


ServicesDep = Annotated[Services, Depends(get_services)]
