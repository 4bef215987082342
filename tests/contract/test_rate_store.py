"""Rate-limit buckets on SQLite and PostgreSQL: checked and recorded with the message, in
one transaction, so refused or concurrent requests never overshoot the limit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from authmail_relay.db import create_engine, rate_store
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import rate_events
from authmail_relay.exceptions import RateLimitedError
from authmail_relay.trust.rate_limits import Limit, key_request_limit
from tests.support.db import new_message


def _limit(quota: int = 3, window_ms: int = 60_000, interval_ms: int = 0) -> Limit:
    return Limit("recipient", "recipient:otp:a@example.com", quota, window_ms, interval_ms)


async def test_the_limit_refuses_and_stores_nothing(outbox: Outbox) -> None:
    for _ in range(3):
        await outbox.enqueue(new_message(), limits=[_limit()])
    refused = new_message()
    with pytest.raises(RateLimitedError) as raised:
        await outbox.enqueue(refused, limits=[_limit()])
    assert raised.value.limit == "recipient"
    assert raised.value.quota == 3
    assert raised.value.window_seconds == 60
    assert 1 <= raised.value.retry_after <= 60
    assert len(await outbox.list_messages(limit=10)) == 3
    # Another bucket is unaffected.
    other = Limit("recipient", "recipient:otp:b@example.com", 3, 60_000)
    await outbox.enqueue(new_message(), limits=[other])


async def test_the_minimum_interval(outbox: Outbox) -> None:
    await outbox.enqueue(new_message(), limits=[_limit(quota=0, interval_ms=300)])
    with pytest.raises(RateLimitedError):
        await outbox.enqueue(new_message(), limits=[_limit(quota=0, interval_ms=300)])
    await asyncio.sleep(0.35)
    await outbox.enqueue(new_message(), limits=[_limit(quota=0, interval_ms=300)])


async def test_a_window_frees_up_and_old_events_are_purged(outbox: Outbox) -> None:
    limit = _limit(quota=2, window_ms=200)
    await outbox.enqueue(new_message(), limits=[limit])
    await outbox.enqueue(new_message(), limits=[limit])
    with pytest.raises(RateLimitedError):
        await outbox.enqueue(new_message(), limits=[limit])
    await asyncio.sleep(0.25)
    await outbox.enqueue(new_message(), limits=[limit])


async def test_concurrent_requests_never_overshoot(db_url: str, outbox: Outbox) -> None:
    """20 simultaneous stores on separate connections: exactly the limit is stored."""
    engines = [create_engine(db_url) for _ in range(4)]
    try:
        outboxes = [Outbox(engine) for engine in engines]

        async def one(n: int) -> bool:
            try:
                await outboxes[n % 4].enqueue(new_message(), limits=[_limit(quota=5)])
            except RateLimitedError:
                return False
            return True

        results = await asyncio.gather(*(one(n) for n in range(20)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert results.count(True) == 5
    assert len(await outbox.list_messages(limit=50)) == 5


async def test_expired_events_of_any_bucket_are_purged(db_url: str, outbox: Outbox) -> None:
    """A bucket that is never checked again does not keep its rows."""
    short = Limit("recipient", "recipient:otp:gone@example.com", 5, 100)
    await outbox.enqueue(new_message(), limits=[short])
    await asyncio.sleep(0.15)
    await outbox.enqueue(new_message(), limits=[_limit()])
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            buckets = (await connection.scalars(select(rate_events.c.bucket))).all()
    finally:
        await engine.dispose()
    assert buckets == ["recipient:otp:a@example.com"]


async def test_counting_a_request_reports_what_is_left(outbox: Outbox) -> None:
    """``count`` (a transaction of its own): the decisions while allowed, then
    RateLimitedError with nothing recorded."""
    limit = key_request_limit("k1", 3)
    left = []
    for _ in range(3):
        [(counted, decision)] = await rate_store.count(outbox.engine, [limit])
        assert counted == limit
        assert 0 < decision.reset_ms <= 60_000
        left.append(decision.remaining)
    assert left == [2, 1, 0]
    with pytest.raises(RateLimitedError) as raised:
        await rate_store.count(outbox.engine, [limit])
    assert (raised.value.limit, raised.value.quota) == ("key", 3)
    assert await rate_store.count(outbox.engine, [key_request_limit("k1", 0)]) == []
    [(_, other)] = await rate_store.count(outbox.engine, [key_request_limit("k2", 3)])
    assert other.remaining == 2


async def test_concurrent_counts_never_overshoot_or_repeat(db_url: str, outbox: Outbox) -> None:
    """Twelve simultaneous requests of one key on separate connections: exactly the limit
    passes, and each is told a different remaining count."""
    engines = [create_engine(db_url) for _ in range(4)]
    limit = key_request_limit("busy", 5)
    try:

        async def one(n: int) -> int | None:
            try:
                [(_, decision)] = await rate_store.count(engines[n % 4], [limit])
            except RateLimitedError:
                return None
            return decision.remaining

        results = await asyncio.gather(*(one(n) for n in range(12)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(r for r in results if r is not None) == [0, 1, 2, 3, 4]
    assert results.count(None) == 7
