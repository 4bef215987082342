"""The failed-authentication throttle over HTTP: one client's failures never lock out a
working key on the same address, and guessing from one address is still capped."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable

import pytest

from tests.api.conftest import Api
from tests.api.test_api_keys_api import client_for, create_key

ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]
LIMIT = 5

pytestmark = pytest.mark.slow


def _wrong_stored_key() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "amr_" + "".join(secrets.choice(alphabet) for _ in range(12)) + "_" + "a" * 52


async def test_a_revoked_key_retrying_never_locks_out_a_valid_key(api_factory: ApiFactory) -> None:
    """App A retries with its revoked key; app B and the env key, from the same address,
    are answered 200 every time, and A itself is slowed down with 429s."""
    async with api_factory(auth_failure_limit=LIMIT) as api:
        stale = await create_key(api, scopes=["read"])
        valid = await create_key(api, scopes=["read"])
        assert (await api.client.post(f"/v1/keys/{stale['id']}/revoke")).status_code == 200
        stale_answers, valid_answers, env_answers = [], [], []
        async with client_for(api, stale["key"]) as app_a, client_for(api, valid["key"]) as app_b:
            for _ in range(4 * LIMIT):
                stale_answers.append((await app_a.get("/v1/messages")).status_code)
                valid_answers.append((await app_b.get("/v1/messages")).status_code)
                env_answers.append((await api.client.get("/v1/messages")).status_code)
    assert stale_answers == [401] * LIMIT + [429] * 3 * LIMIT
    assert valid_answers == [200] * 4 * LIMIT
    assert env_answers == [200] * 4 * LIMIT


async def test_guessing_from_one_address_is_throttled_but_stored_keys_still_work(
    api_factory: ApiFactory,
) -> None:
    """A new wrong key each time, env-style or stored-style: after LIMIT of them the
    address gets 429, the right env key too (a 200 would confirm a guess), while a valid
    stored key from that address keeps working."""
    async with api_factory(auth_failure_limit=LIMIT) as api:
        valid = await create_key(api, scopes=["read"])
        answers = []
        async with api.anonymous() as guesser:
            for i in range(6 * LIMIT):
                guess = _wrong_stored_key() if i % 2 else f"guess-{secrets.token_hex(12)}"
                headers = {"Authorization": f"Bearer {guess}"}
                answers.append((await guesser.get("/v1/messages", headers=headers)).status_code)
            env = await guesser.get(
                "/v1/messages", headers={"Authorization": f"Bearer {api.settings.api_key}"}
            )
        async with client_for(api, valid["key"]) as app:
            stored = await app.get("/v1/messages")
    assert answers == [401] * LIMIT + [429] * 5 * LIMIT
    assert env.status_code == 429
    assert 1 <= int(env.headers["retry-after"]) <= 60
    assert stored.status_code == 200
