"""Stored API keys on SQLite and PostgreSQL: life cycle, rotation, expiry, secrecy."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from authmail_relay.db.api_keys_store import ApiKey, ApiKeyStore, CreatedKey
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import metadata
from authmail_relay.exceptions import ConflictError, NotFoundError, ValidationError
from authmail_relay.vocabulary import Scope

TRIALS = 25
ACTOR = "test"


async def _dump(outbox: Outbox) -> str:
    """Every row of every table, as one text."""
    parts: list[str] = []
    async with outbox.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def test_create_read_list_revoke(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    created = await store.create(
        actor=ACTOR,
        name="billing app",
        scopes=["send", Scope.READ],
        allowed_senders=["NoReply@Example.COM.", "*.Mail.Example.com", "bücher.de"],
        allowed_origins=["HTTPS://App.Example.com/login"],
        rate_limit_per_minute=120,
    )
    key = created.key
    assert created.token.startswith(f"amr_{key.id}_")
    assert created.token not in repr(created)
    assert key.scopes == {Scope.SEND, Scope.READ}
    assert key.allowed_senders == ("*.mail.example.com", "noreply@example.com", "xn--bcher-kva.de")
    assert key.allowed_origins == ("https://app.example.com:443",)
    assert key.rate_limit_per_minute == 120
    assert key.revoked_at is None
    assert key.expires_at is None
    assert key.rotated_from is None
    assert await store.get(key.id) == key
    assert [k.id for k in await store.list()] == [key.id]

    used = await store.authenticate(created.token)
    assert used is not None
    assert used.id == key.id
    assert (await store.get(key.id)).last_used_at is not None

    revoked = await store.revoke(key.id, actor=ACTOR)
    assert revoked.revoked_at is not None
    assert await store.authenticate(created.token) is None
    again = await store.revoke(key.id, actor=ACTOR)
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(ConflictError):
        await store.rotate(key.id, actor=ACTOR)


async def test_wrong_secret_and_garbage_are_refused(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    created = await store.create(actor=ACTOR, name="k", scopes=["send"])
    key_id = created.key.id
    for presented in (
        "",
        "amr_",
        created.token + "x",
        created.token[:-1] + ("a" if created.token[-1] != "a" else "b"),
        f"amr_{key_id}_" + "a" * 52,
        "amr_aaaaaaaaaaaa_" + "a" * 52,
        "\udcff\x00 amr_",
        created.token.upper(),
    ):
        assert await store.authenticate(presented) is None


async def test_rotation_keeps_the_old_key_until_revoked(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    old = await store.create(
        actor=ACTOR, name="k", scopes=["send"], allowed_senders=["example.com"], expires_in_days=30
    )
    new = await store.rotate(old.key.id, actor=ACTOR)
    assert new.key.id != old.key.id
    assert new.token != old.token
    assert new.key.rotated_from == old.key.id
    assert new.key.scopes == old.key.scopes
    assert new.key.allowed_senders == old.key.allowed_senders
    assert new.key.expires_at is not None
    assert old.key.expires_at is not None
    assert abs(new.key.expires_at - old.key.expires_at) < 60_000
    assert await store.authenticate(old.token) is not None
    assert await store.authenticate(new.token) is not None
    await store.revoke(old.key.id, actor=ACTOR)
    assert await store.authenticate(old.token) is None
    assert await store.authenticate(new.token) is not None


async def test_expired_key_is_refused(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    created = await store.create(
        actor=ACTOR, name="short", scopes=["read"], expires_in_days=0.2 / 86_400
    )
    assert created.key.expires_at is not None
    await asyncio.sleep(0.4)
    assert await store.authenticate(created.token) is None


async def test_invalid_settings_and_missing_keys(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    bad: list[dict[str, object]] = [
        {"name": "", "scopes": ["send"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": ["send"], "allowed_senders": ["Boss <a@example.com>"]},
        {"name": "x", "scopes": ["send"], "allowed_senders": ["not a domain"]},
        {"name": "x", "scopes": ["send"], "allowed_origins": ["http://evil.example"]},
        {"name": "x", "scopes": ["send"], "expires_in_days": 0},
        {"name": "x", "scopes": ["send"], "rate_limit_per_minute": 0},
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            await store.create(**fields, actor=ACTOR)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await store.get("aaaaaaaaaaaa")
    with pytest.raises(NotFoundError):
        await store.revoke("aaaaaaaaaaaa", actor=ACTOR)
    with pytest.raises(NotFoundError):
        await store.rotate("aaaaaaaaaaaa", actor=ACTOR)


async def test_the_secret_is_never_stored(outbox: Outbox) -> None:
    store = ApiKeyStore(outbox.engine)
    created = await store.create(actor=ACTOR, name="k", scopes=["admin"])
    rotated = await store.rotate(created.key.id, actor=ACTOR)
    dump = await _dump(outbox)
    for token in (created.token, rotated.token):
        secret = token.rsplit("_", 1)[1]
        assert secret not in dump
        assert secret[:20] not in dump


async def test_rotate_racing_revoke_is_as_if_one_ran_first(outbox: Outbox) -> None:
    """Revoke and six rotations of one key at once, many times: each rotation either
    lost (409 key_revoked, nothing made) or finished before the revocation. No key is
    ever made from a key that was already revoked."""
    store = ApiKeyStore(outbox.engine)
    made_before = refused = 0
    for trial in range(TRIALS):
        old = (await store.create(actor=ACTOR, name=f"race {trial}", scopes=["send"])).key
        # Rotations on both sides of the revoke, so some start before it and some after.
        rotations = [store.rotate(old.id, actor=ACTOR) for _ in range(6)]
        results = await asyncio.gather(
            *rotations[:3],
            store.revoke(old.id, actor=ACTOR),
            *rotations[3:],
            return_exceptions=True,
        )
        revoked = results.pop(3)
        assert isinstance(revoked, ApiKey), revoked
        assert revoked.revoked_at is not None
        for result in results:
            if isinstance(result, ConflictError):
                assert result.error_code == "key_revoked"
                refused += 1
                continue
            assert isinstance(result, CreatedKey), result
            assert result.key.created_at <= revoked.revoked_at, "made after the revoke"
            made_before += 1
        children = [key for key in await store.list() if key.rotated_from == old.id]
        assert sorted(k.id for k in children) == sorted(
            r.key.id for r in results if isinstance(r, CreatedKey)
        )
        assert all(child.created_at <= revoked.revoked_at for child in children)
    assert made_before + refused == 6 * TRIALS
