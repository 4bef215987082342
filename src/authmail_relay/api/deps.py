"""FastAPI dependencies: the relay, the settings and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
