"""Idempotency keys: every answer of begin, lock takeover, expiry, and the link to enqueue."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import func, select

from authmail_relay.db import create_engine
from authmail_relay.db.idempotency import (
    Begin,
    IdempotencyLink,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Recovered,
    Replay,
    Started,
)
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import idempotency_keys
from authmail_relay.exceptions import ConflictError, NotFoundError, ValidationError
from tests.support.db import new_message

SCOPE = "key_fp_1"
TTL = 86_400_000
LOCK = 30_000
SHORT_LOCK = 50
SHORT_WAIT = 0.15  # comfortably longer than SHORT_LOCK


def _hash(request: str) -> str:
    return hashlib.sha256(request.encode()).hexdigest()


HASH_A = _hash("POST /v1/messages {a}")
HASH_B = _hash("POST /v1/messages {b}")


async def _begin(
    store: IdempotencyStore,
    key: str = "k1",
    request_hash: str = HASH_A,
    *,
    scope: str = SCOPE,
    ttl_ms: int = TTL,
    lock_ms: int = LOCK,
) -> Begin:
    return await store.begin(scope, key, request_hash, ttl_ms=ttl_ms, lock_ms=lock_ms)


async def _started(store: IdempotencyStore, key: str = "k1", **options: int) -> IdempotencyLink:
    outcome = await _begin(store, key, **options)  # type: ignore[arg-type]
    assert isinstance(outcome, Started), outcome
    return outcome.link


async def _row_count(outbox: Outbox) -> int:
    async with outbox.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(idempotency_keys))
    return int(count or 0)


async def test_a_new_key_is_started_and_then_in_flight(
    idempotency_store: IdempotencyStore,
) -> None:
    link = await _started(idempotency_store)
    assert (link.scope, link.key) == (SCOPE, "k1")
    assert len(link.lock_token) >= 24

    assert await _begin(idempotency_store) == InFlight()
    # A different request under the same key is a mismatch even while the first runs.
    assert await _begin(idempotency_store, request_hash=HASH_B) == Mismatch()


async def test_a_completed_key_replays_its_response(idempotency_store: IdempotencyStore) -> None:
    link = await _started(idempotency_store)
    body = '{"id":"msg_1","status":"queued"}'
    headers = {"Location": "/v1/messages/msg_1"}
    assert await idempotency_store.complete(link, status=202, body=body, headers=headers)

    replay = await _begin(idempotency_store)
    assert replay == Replay(status=202, body=body, headers=headers)
    assert await _begin(idempotency_store, request_hash=HASH_B) == Mismatch()
    # Completing again with the same (now released) token changes nothing.
    assert not await idempotency_store.complete(link, status=500, body="{}")
    assert await _begin(idempotency_store) == replay


async def test_headers_default_to_none(idempotency_store: IdempotencyStore) -> None:
    link = await _started(idempotency_store)
    assert await idempotency_store.complete(link, status=422, body='{"error":"x"}')
    assert await _begin(idempotency_store) == Replay(422, '{"error":"x"}', {})


async def test_keys_are_per_scope(idempotency_store: IdempotencyStore) -> None:
    mine = await _started(idempotency_store)
    theirs = await _begin(idempotency_store, scope="key_fp_2", request_hash=HASH_B)
    assert isinstance(theirs, Started)
    assert theirs.link.lock_token != mine.lock_token


async def test_an_expired_lock_is_taken_over(idempotency_store: IdempotencyStore) -> None:
    old = await _started(idempotency_store, lock_ms=SHORT_LOCK)
    await asyncio.sleep(SHORT_WAIT)

    taken = await _begin(idempotency_store)
    assert isinstance(taken, Started)
    assert taken.link.lock_token != old.lock_token
    assert await _begin(idempotency_store) == InFlight()  # the new holder's lock is live

    # The old holder lost the key: none of its calls change anything.
    assert not await idempotency_store.complete(old, status=202, body="{}")
    await idempotency_store.abandon(old)
    assert await _begin(idempotency_store) == InFlight()
    assert await idempotency_store.complete(taken.link, status=201, body='{"new":1}')
    assert await _begin(idempotency_store) == Replay(201, '{"new":1}', {})


async def test_a_takeover_recovers_the_stored_message(
    outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    old = await _started(idempotency_store, lock_ms=SHORT_LOCK)
    record = await outbox.enqueue(new_message(), idempotency=old)
    await asyncio.sleep(SHORT_WAIT)  # ... and the process died before answering

    recovered = await _begin(idempotency_store)
    assert isinstance(recovered, Recovered)
    assert recovered.message_id == record.id
    assert recovered.link.lock_token != old.lock_token
    assert not await idempotency_store.complete(old, status=202, body="{}")
    assert await idempotency_store.complete(recovered.link, status=202, body='{"id":1}')
    assert await _begin(idempotency_store) == Replay(202, '{"id":1}', {})


async def test_a_mismatch_wins_over_a_stale_lock(idempotency_store: IdempotencyStore) -> None:
    await _started(idempotency_store, lock_ms=SHORT_LOCK)
    await asyncio.sleep(SHORT_WAIT)
    assert await _begin(idempotency_store, request_hash=HASH_B) == Mismatch()


async def test_abandon_forgets_the_key(outbox: Outbox, idempotency_store: IdempotencyStore) -> None:
    link = await _started(idempotency_store)
    await idempotency_store.abandon(link)
    assert await _row_count(outbox) == 0
    # A retry, even a different request, starts afresh.
    retry = await _begin(idempotency_store, request_hash=HASH_B)
    assert isinstance(retry, Started)


async def test_abandon_keeps_a_key_that_points_at_a_message(
    outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    link = await _started(idempotency_store)
    record = await outbox.enqueue(new_message(), idempotency=link)
    await idempotency_store.abandon(link)

    # Forgetting the key would let the retry store the message twice; it recovers it.
    retry = await _begin(idempotency_store)
    assert isinstance(retry, Recovered)
    assert retry.message_id == record.id


async def test_an_expired_key_is_replaced(
    outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    link = await _started(idempotency_store, ttl_ms=SHORT_LOCK, lock_ms=SHORT_LOCK)
    await outbox.enqueue(new_message(), idempotency=link)
    assert await idempotency_store.complete(link, status=202, body="{}")
    await asyncio.sleep(SHORT_WAIT)

    fresh = await _begin(idempotency_store, request_hash=HASH_B)
    assert isinstance(fresh, Started)  # not Mismatch, not Replay, not Recovered
    assert await _begin(idempotency_store, request_hash=HASH_B) == InFlight()
    assert await _row_count(outbox) == 1


async def test_purge_expired_deletes_only_expired_keys(
    outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    assert await idempotency_store.purge_expired() == 0
    done = await _started(idempotency_store, "short-done", ttl_ms=SHORT_LOCK, lock_ms=SHORT_LOCK)
    assert await idempotency_store.complete(done, status=202, body="{}")
    await _started(idempotency_store, "short-open", ttl_ms=SHORT_LOCK, lock_ms=SHORT_LOCK)
    await _started(idempotency_store, "long")
    await asyncio.sleep(SHORT_WAIT)

    assert await idempotency_store.purge_expired() == 2
    assert await _row_count(outbox) == 1
    assert await _begin(idempotency_store, "long") == InFlight()
    assert isinstance(await _begin(idempotency_store, "short-done"), Started)


async def test_a_takeover_never_lets_the_key_expire_under_its_lock(
    idempotency_store: IdempotencyStore,
) -> None:
    await _started(idempotency_store, ttl_ms=200, lock_ms=SHORT_LOCK)
    await asyncio.sleep(SHORT_WAIT)
    taken = await _begin(idempotency_store, ttl_ms=200, lock_ms=200)
    assert isinstance(taken, Started)
    await asyncio.sleep(0.1)  # past the original expiry, inside the new lock
    assert await _begin(idempotency_store, request_hash=HASH_B) == Mismatch()
    assert await idempotency_store.purge_expired() == 0


# --- enqueue with a link ----------------------------------------------------------------


async def test_enqueue_with_a_stale_link_stores_nothing(
    outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    old = await _started(idempotency_store, lock_ms=SHORT_LOCK)
    await asyncio.sleep(SHORT_WAIT)
    taken = await _begin(idempotency_store)
    assert isinstance(taken, Started)

    message = new_message()
    with pytest.raises(ConflictError) as caught:
        await outbox.enqueue(message, idempotency=old)
    assert caught.value.error_code == "idempotency_key_in_use"
    with pytest.raises(NotFoundError):
        await outbox.get_message(message.id)
    assert await outbox.list_messages() == []

    # The new holder's link works, once.
    await outbox.enqueue(message, idempotency=taken.link)
    with pytest.raises(ConflictError):
        await outbox.enqueue(new_message(), idempotency=taken.link)
    assert [m.id for m in await outbox.list_messages()] == [message.id]


async def test_enqueue_with_a_link_for_a_forgotten_or_finished_key(
    outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    abandoned = await _started(idempotency_store, "gone")
    await idempotency_store.abandon(abandoned)
    finished = await _started(idempotency_store, "done")
    assert await idempotency_store.complete(finished, status=202, body="{}")
    unknown = IdempotencyLink(scope=SCOPE, key="never", lock_token="x" * 24)
    for link in (abandoned, finished, unknown):
        with pytest.raises(ConflictError):
            await outbox.enqueue(new_message(), idempotency=link)
    assert await outbox.list_messages() == []


# --- concurrency ------------------------------------------------------------------------


async def _race(url: str, contenders: int, **options: int) -> list[Begin]:
    """*contenders* begins for one key, each on its own engine, released together."""
    engines = [create_engine(url, busy_timeout_ms=30_000) for _ in range(contenders)]
    go = asyncio.Event()

    async def contender(store: IdempotencyStore) -> Begin:
        await go.wait()
        return await _begin(store, "raced", **options)  # type: ignore[arg-type]

    try:
        stores = [IdempotencyStore(engine) for engine in engines]
        for engine in engines:  # connect before the race starts
            async with engine.connect():
                pass
        tasks = [asyncio.ensure_future(contender(store)) for store in stores]
        await asyncio.sleep(0.01)
        go.set()
        return list(await asyncio.gather(*tasks))
    finally:
        for engine in engines:
            await engine.dispose()


async def test_concurrent_begins_start_exactly_once(
    db_url: str, idempotency_store: IdempotencyStore
) -> None:
    outcomes = await _race(db_url, 20)
    assert sum(isinstance(o, Started) for o in outcomes) == 1
    assert [o for o in outcomes if not isinstance(o, Started)] == [InFlight()] * 19


async def test_concurrent_takeovers_take_over_exactly_once(
    db_url: str, outbox: Outbox, idempotency_store: IdempotencyStore
) -> None:
    old = await _begin(idempotency_store, "raced", lock_ms=SHORT_LOCK)
    assert isinstance(old, Started)
    record = await outbox.enqueue(new_message(), idempotency=old.link)
    await asyncio.sleep(SHORT_WAIT)

    outcomes = await _race(db_url, 10)
    winners = [o for o in outcomes if isinstance(o, Recovered)]
    assert len(winners) == 1
    assert winners[0].message_id == record.id
    assert [o for o in outcomes if not isinstance(o, Recovered)] == [InFlight()] * 9


# --- input checks -----------------------------------------------------------------------


async def test_keys_must_be_1_to_255_characters(idempotency_store: IdempotencyStore) -> None:
    assert isinstance(await _begin(idempotency_store, "k" * 255), Started)
    assert isinstance(await _begin(idempotency_store, "ключ ✓"), Started)
    for key in ("", "k" * 256):
        with pytest.raises(ValidationError) as caught:
            await _begin(idempotency_store, key)
        assert caught.value.field == "idempotency_key"


async def test_bad_times_and_statuses_are_refused(idempotency_store: IdempotencyStore) -> None:
    with pytest.raises(ValueError, match="lock_ms"):
        await _begin(idempotency_store, ttl_ms=1_000, lock_ms=2_000)
    with pytest.raises(ValueError, match="lock_ms"):
        await _begin(idempotency_store, lock_ms=0)
    link = await _started(idempotency_store)
    with pytest.raises(ValueError, match="status"):
        await idempotency_store.complete(link, status=42, body="{}")
    assert await _begin(idempotency_store) == InFlight()
