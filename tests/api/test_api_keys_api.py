"""Stored API keys over real HTTP: the scope matrix of every route, revocation, expiry,
rotation, and the secret never showing up after creation (database, logs, answers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import select

from authmail_relay.api.deps import ScopeRequirement
from authmail_relay.db import create_engine
from authmail_relay.db.schema import metadata
from authmail_relay.vocabulary import Scope
from tests.api.conftest import Api

SEND, READ, ADMIN, APPROVE = Scope.SEND, Scope.READ, Scope.ADMIN, Scope.APPROVE
#: Scopes that also open a route of the scope on the left (admin may read the audit trail).
ALSO_ALLOWED: dict[Scope, frozenset[Scope]] = {Scope.AUDIT: frozenset({ADMIN})}

#: The decision for every route. A route added without a scope decision fails the test.
MATRIX: dict[tuple[str, str], Scope | None] = {
    ("GET", "/health"): None,
    ("GET", "/ready"): None,
    ("POST", "/send"): SEND,
    ("POST", "/send/otp"): SEND,
    ("POST", "/send/magic-link"): SEND,
    ("POST", "/send/password-reset"): SEND,
    ("POST", "/v1/messages"): SEND,
    ("POST", "/v1/messages/batch"): SEND,
    ("GET", "/v1/messages"): READ,
    ("GET", "/v1/messages/{message_id}"): READ,
    ("POST", "/v1/messages/{message_id}/cancel"): SEND,
    ("POST", "/v1/messages/{message_id}/consume"): SEND,
    ("POST", "/v1/messages/{message_id}/approve"): APPROVE,
    ("POST", "/v1/messages/{message_id}/reject"): APPROVE,
    ("GET", "/v1/approvals"): APPROVE,
    ("POST", "/v1/approvals/decide"): APPROVE,
    ("GET", "/v1/templates"): READ,
    ("GET", "/v1/templates/{kind}/preview"): READ,
    ("POST", "/v1/webhooks"): ADMIN,
    ("GET", "/v1/webhooks"): ADMIN,
    ("GET", "/v1/webhooks/{endpoint_id}"): ADMIN,
    ("PATCH", "/v1/webhooks/{endpoint_id}"): ADMIN,
    ("DELETE", "/v1/webhooks/{endpoint_id}"): ADMIN,
    ("POST", "/v1/webhooks/{endpoint_id}/rotate"): ADMIN,
    ("GET", "/v1/webhooks/deliveries"): READ,
    ("GET", "/v1/webhooks/deliveries/{delivery_id}"): READ,
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): ADMIN,
    ("POST", "/v1/keys"): ADMIN,
    ("GET", "/v1/keys"): ADMIN,
    ("GET", "/v1/keys/{key_id}"): ADMIN,
    ("POST", "/v1/keys/{key_id}/revoke"): ADMIN,
    ("POST", "/v1/keys/{key_id}/rotate"): ADMIN,
    ("PATCH", "/v1/keys/{key_id}"): ADMIN,
    ("GET", "/v1/approval-rules"): ADMIN,
    ("POST", "/v1/approval-rules"): ADMIN,
    ("GET", "/v1/approval-rules/{rule_id}"): ADMIN,
    ("PATCH", "/v1/approval-rules/{rule_id}"): ADMIN,
    ("DELETE", "/v1/approval-rules/{rule_id}"): ADMIN,
    ("GET", "/v1/domains/{domain}"): READ,
    ("GET", "/v1/audit"): Scope.AUDIT,
    ("GET", "/v1/audit/verify"): Scope.AUDIT,
    ("GET", "/dev/inbox"): READ,
    ("GET", "/dev/inbox/{mail_id}"): READ,
}


def _scopes_of(dependant: Dependant) -> set[Scope]:
    found: set[Scope] = set()
    for sub in dependant.dependencies:
        if isinstance(sub.call, ScopeRequirement):
            found.add(sub.call.scope)
        found |= _scopes_of(sub)
    return found


Flat = list[tuple[str, APIRoute, set[Scope]]]


def _flat_routes(
    routes: list[Any], prefix: str = "", inherited: frozenset[Scope] = frozenset()
) -> Flat:
    """Every APIRoute with its full path and the scopes its include added (routers may be
    included as wrappers that carry the include's prefix and dependencies)."""
    found: Flat = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route, set(inherited)))
        elif hasattr(route, "original_router"):
            context = getattr(route, "include_context", None)
            extra = getattr(context, "prefix", "")
            added = {
                dep.dependency.scope
                for dep in getattr(context, "dependencies", ())
                if isinstance(dep.dependency, ScopeRequirement)
            }
            found += _flat_routes(
                route.original_router.routes, prefix + extra, inherited | frozenset(added)
            )
    return found


def _app_routes(api: Api) -> dict[tuple[str, str], Scope | None]:
    app: Any = api.server.config.app
    routes: dict[tuple[str, str], Scope | None] = {}
    for path, route, inherited in _flat_routes(app.routes):
        scopes = _scopes_of(route.dependant) | inherited
        assert len(scopes) <= 1, f"{path} needs several scopes"
        for method in route.methods or ():
            routes[(method, path)] = next(iter(scopes), None)
    return routes


async def create_key(api: Api, **fields: Any) -> dict[str, Any]:
    """Create a stored key with the env key; the answer (with the full key)."""
    answer = await api.client.post("/v1/keys", json={"name": "test", **fields})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


@contextlib.asynccontextmanager
async def client_for(api: Api, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api.anonymous(headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def _all_but(scope: Scope) -> list[str]:
    """Every scope but *scope* (and the scopes that also grant its routes), as one stored
    key may hold them (never send with approve)."""
    rest = [s for s in Scope if s is not scope and s not in ALSO_ALLOWED.get(scope, ())]
    if Scope.SEND in rest and Scope.APPROVE in rest:
        rest.remove(Scope.APPROVE)
    return [s.value for s in rest]


def _concrete(path: str) -> str:
    values = {"kind": "otp", "mail_id": "1", "key_id": "aaaaaaaaaaaa", "domain": "example.invalid"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


async def test_every_route_has_its_scope(
    api_factory: Callable[..., contextlib.AbstractAsyncContextManager[Api]], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with api_factory(dev_inbox=inbox, auth_failure_limit=10_000) as api:
        assert _app_routes(api) == MATRIX
        keys = {scope: (await create_key(api, scopes=[scope.value]))["key"] for scope in Scope}
        others = {scope: (await create_key(api, scopes=_all_but(scope)))["key"] for scope in Scope}
        for (method, path), scope in MATRIX.items():
            if scope is None:
                continue
            url = _concrete(path)
            body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
            async with client_for(api, others[scope]) as client:
                refused = await client.request(method, url, json=body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["error_code"] == "forbidden"
            async with client_for(api, keys[scope]) as client:
                allowed = await client.request(method, url, json=body)
            assert allowed.status_code not in {401, 403}, (method, path, allowed.text)
            # The env key has every scope.
            answer = await api.client.request(method, url, json=body)
            assert answer.status_code not in {401, 403}, (method, path, answer.text)


async def test_403_is_documented_on_every_authenticated_route(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    for (method, path), scope in MATRIX.items():
        if scope is None or path.startswith("/dev/"):
            continue
        responses = schema["paths"][path][method.lower()]["responses"]
        assert "403" in responses, (method, path)


async def test_revoked_key_is_refused_on_the_next_request(api: Api) -> None:
    created = await create_key(api, scopes=["read"])
    async with client_for(api, created["key"]) as client:
        assert (await client.get("/v1/messages")).status_code == 200
        revoked = await api.client.post(f"/v1/keys/{created['id']}/revoke")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        answer = await client.get("/v1/messages")
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "unauthorized"


async def test_expired_key_is_refused(api: Api) -> None:
    created = await create_key(api, scopes=["read"], expires_in_days=0.3 / 86_400)
    await asyncio.sleep(0.5)
    async with client_for(api, created["key"]) as client:
        assert (await client.get("/v1/messages")).status_code == 401


async def test_rotation_keeps_both_keys_until_the_old_one_is_revoked(api: Api) -> None:
    old = await create_key(api, scopes=["read", "admin"], allowed_senders=["example.com"])
    rotated = await api.client.post(f"/v1/keys/{old['id']}/rotate")
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["rotated_from"] == old["id"]
    assert new["allowed_senders"] == ["example.com"]
    assert new["scopes"] == ["admin", "read"]
    for token in (old["key"], new["key"]):
        async with client_for(api, token) as client:
            assert (await client.get("/v1/messages")).status_code == 200
    async with client_for(api, new["key"]) as client:
        assert (await client.post(f"/v1/keys/{old['id']}/revoke")).status_code == 200
        assert (await client.get("/v1/messages")).status_code == 200
    async with client_for(api, old["key"]) as client:
        assert (await client.get("/v1/messages")).status_code == 401
    assert (await api.client.post(f"/v1/keys/{old['id']}/rotate")).status_code == 409


async def test_keys_routes_validate_and_404(api: Api) -> None:
    bad = [
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["send"], "allowed_senders": ["Boss <a@example.com>"]},
        {"name": "x", "scopes": ["send"], "allowed_origins": ["javascript:alert(1)"]},
    ]
    for body in bad:
        assert (await api.client.post("/v1/keys", json=body)).status_code == 422
    for path in ("/v1/keys/aaaaaaaaaaaa", "/v1/keys/NOT-AN-ID"):
        assert (await api.client.get(path)).status_code == 404
    assert (await api.client.post("/v1/keys/aaaaaaaaaaaa/revoke")).status_code == 404


async def test_the_secret_is_shown_once_and_never_stored_or_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await create_key(
        api, scopes=["send", "read", "admin"], allowed_senders=["sender.example"]
    )
    token: str = created["key"]
    secret = token.rsplit("_", 1)[1]
    async with client_for(api, token) as client:
        sent = await client.post(
            "/v1/messages", json={"to": "a@example.com", "subject": "hi", "text_body": "hello"}
        )
        assert sent.status_code == 202, sent.text
        answers = [
            await client.get("/v1/keys"),
            await client.get(f"/v1/keys/{created['id']}"),
            await client.get("/v1/messages"),
            await client.get(f"/v1/messages/{sent.json()['id']}"),
            await client.post(f"/v1/keys/{created['id']}/revoke"),
        ]
    for answer in answers:
        assert secret not in answer.text
    assert secret not in caplog.text
    engine = create_engine(api.settings.database_url)
    try:
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in (await connection.execute(select(table))).all():
                    assert secret not in repr(tuple(row)), table.name
    finally:
        await engine.dispose()


async def test_sdk_raises_permission_denied_with_the_error_code(api: Api) -> None:
    from authmail_relay.client import AsyncAuthmailClient
    from authmail_relay.exceptions import PermissionDeniedError

    read_only = (await create_key(api, scopes=["read"]))["key"]
    async with AsyncAuthmailClient(api.url, read_only) as client:
        assert (await client.list_messages()).messages == ()
        with pytest.raises(PermissionDeniedError) as caught:
            await client.cancel("msg_01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert caught.value.error_code == "forbidden"


async def test_key_shaped_garbage_is_a_401_and_counts_towards_the_throttle(
    api_factory: Callable[..., contextlib.AbstractAsyncContextManager[Api]],
) -> None:
    async with api_factory(auth_failure_limit=6) as api:
        created = await create_key(api, scopes=["read"])
        auth_env = {"Authorization": f"Bearer {api.settings.api_key}"}
        wrong_secret = created["key"][:-4] + "aaaa"
        if wrong_secret == created["key"]:
            wrong_secret = created["key"][:-4] + "bbbb"
        headers = [
            f"Bearer {wrong_secret}",
            "Bearer amr_aaaaaaaaaaaa_" + "a" * 52,
            "Bearer amr_" + "\u00ff" * 60,
            "Bearer " + created["key"] + "\u00e9",
            "Basic " + created["key"],
        ]
        for value in headers:
            raw = value.encode("latin-1")
            async with api.anonymous(headers=[(b"Authorization", raw)]) as client:
                answer = await client.get("/v1/messages")
            assert answer.status_code == 401, (value, answer.text)
        async with client_for(api, created["key"]) as client:
            assert (await client.get("/v1/messages")).status_code == 200
            # The sixth different failure from this address: anything but a stored key
            # now waits, the right env key included; the stored key itself still works.
            async with api.anonymous() as nobody:
                await nobody.get("/v1/messages")
                assert (await nobody.get("/v1/messages", headers=auth_env)).status_code == 429
            assert (await client.get("/v1/messages")).status_code == 200
