"""``/v1/keys``: stored API keys (admin scope).

The full key is returned by create and rotate only; reads show the settings and life
cycle. A revocation takes effect on the next request (keys are not cached).
``PATCH /v1/keys/{id}`` sets a key's oversight mode; a caller cannot change its own
(``403 self_mode_change``). Every change is audited with the caller's key id as actor,
and a key may not hold both ``send`` and ``approve`` (``422 conflicting_scopes``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ..db.api_keys_store import ApiKeyStore
from ..exceptions import NotFoundError
from ..trust.api_keys import is_key_id
from .deps import AdminCaller, SettingsDep
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute
from .schemas_keys import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyUpdate,
    KeyView,
    key_created,
    key_view,
)

router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=CountedRoute)


def get_store(request: Request) -> ApiKeyStore:
    store: ApiKeyStore = request.app.state.api_keys
    return store


StoreDep = Annotated[ApiKeyStore, Depends(get_store)]


def _key_id(value: str) -> str:
    if not is_key_id(value):
        raise NotFoundError(f"no API key {value[:40]!r}")
    return value


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses=problems(*AUTHENTICATED, 400, 422),
    summary="Create a key (the full key is shown in this answer only)",
)
async def create_key(
    body: KeyCreate, caller: AdminCaller, store: StoreDep, settings: SettingsDep
) -> KeyCreated:
    created = await store.create(
        name=body.name,
        scopes=body.scopes,
        allowed_senders=body.allowed_senders,
        allowed_origins=body.allowed_origins,
        expires_in_days=body.expires_in_days,
        rate_limit_per_minute=body.rate_limit_per_minute,
        oversight=body.oversight or settings.oversight_default,
        actor=caller.key_id,
    )
    return key_created(created)


@router.get("", response_model=KeyList, responses=problems(*AUTHENTICATED), summary="Every key")
async def list_keys(caller: AdminCaller, store: StoreDep) -> KeyList:
    return KeyList(data=[key_view(key) for key in await store.list()])


@router.get(
    "/{key_id}",
    response_model=KeyView,
    responses=problems(*AUTHENTICATED, 404),
    summary="One key",
)
async def get_key(key_id: str, caller: AdminCaller, store: StoreDep) -> KeyView:
    return key_view(await store.get(_key_id(key_id)))


@router.patch(
    "/{key_id}",
    response_model=KeyView,
    responses=problems(*AUTHENTICATED, 400, 404, 409, 422),
    summary="Set a key's oversight mode (not the caller's own)",
)
async def update_key(key_id: str, body: KeyUpdate, caller: AdminCaller, store: StoreDep) -> KeyView:
    checked = _key_id(key_id)
    return key_view(await store.set_oversight(checked, body.oversight, actor=caller.key_id))


@router.post(
    "/{key_id}/revoke",
    response_model=KeyView,
    responses=problems(*AUTHENTICATED, 404),
    summary="Revoke a key at once",
)
async def revoke_key(key_id: str, caller: AdminCaller, store: StoreDep) -> KeyView:
    return key_view(await store.revoke(_key_id(key_id), actor=caller.key_id))


@router.post(
    "/{key_id}/rotate",
    status_code=201,
    response_model=KeyCreated,
    responses=problems(*AUTHENTICATED, 404, 409, 422),
    summary="A new key with the same settings; the old one works until revoked",
)
async def rotate_key(key_id: str, caller: AdminCaller, store: StoreDep) -> KeyCreated:
    return key_created(await store.rotate(_key_id(key_id), actor=caller.key_id))
