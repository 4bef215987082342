"""Rate-limit buckets in the database: check and record in the caller's transaction.

:func:`check_and_record` runs inside a write transaction (the one that stores the
message), so the check, the recorded event and the message commit or roll back together:
a refused message leaves nothing behind, and a message that fails to store uses up no
quota. Concurrent checks of one bucket are serialised: SQLite write transactions begin
``IMMEDIATE`` (one writer at a time); on PostgreSQL a transaction-scoped advisory lock
keyed by the bucket name is taken first. Every check also deletes the events of any
bucket that are past their ``expires_at`` (the end of their window when recorded).
:func:`count` is the same check in a transaction of its own, for events that store
nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import RateLimitedError
from ..trust.rate_limits import Decision, Limit, decide, seconds_up
from .schema import rate_events
from .sql import lock_until_commit, write_transaction

__all__ = ["check_and_record", "count", "purge_expired", "record", "reserve"]

# The advisory-lock key of the global purge (an arbitrary constant; bucket locks use
# hashtext of the bucket name, a 32-bit value, so a 64-bit key cannot collide with them).
_PURGE_LOCK = 0x616D725F70757267


async def _recent(connection: AsyncConnection, now_ms: int, limit: Limit) -> list[int]:
    """The times of *limit*'s bucket's events that still matter to it. (Deleting is left
    to :func:`purge_expired`, so only one transaction at a time deletes rows.)"""
    query = select(rate_events.c.at_ms).where(
        rate_events.c.bucket == limit.bucket, rate_events.c.at_ms > now_ms - limit.keep_ms
    )
    return list((await connection.scalars(query)).all())


async def reserve(connection: AsyncConnection, now_ms: int, limit: Limit, wanted: int) -> int:
    """How many of *wanted* events fit in *limit*'s window now (0 to *wanted*); the
    bucket stays locked until the caller's transaction ends, and the caller records the
    ones it uses with :func:`record`. A limit without a quota grants everything."""
    if limit.quota <= 0 or wanted <= 0:
        return max(0, wanted)
    if await lock_until_commit(connection, limit.bucket, then_try=_PURGE_LOCK):
        await _delete_expired(connection, now_ms)
    times = await _recent(connection, now_ms, limit)
    in_window = sum(1 for t in times if t > now_ms - limit.window_ms)
    return max(0, min(wanted, limit.quota - in_window))


async def record(connection: AsyncConnection, now_ms: int, limit: Limit, count: int) -> None:
    """Record *count* events in *limit*'s bucket at *now_ms*, each expiring when it
    leaves the limit's window (``keep_ms``)."""
    if count > 0:
        row = {"bucket": limit.bucket, "at_ms": now_ms, "expires_at": now_ms + limit.keep_ms}
        await connection.execute(insert(rate_events), [dict(row) for _ in range(count)])


async def purge_expired(connection: AsyncConnection, now_ms: int) -> None:
    """Delete every event past its ``expires_at``, in any bucket. On PostgreSQL only one
    transaction at a time purges (a non-blocking advisory lock; the others skip it), so
    concurrent purges never wait on or deadlock with each other."""
    if await lock_until_commit(connection, then_try=_PURGE_LOCK):
        await _delete_expired(connection, now_ms)


async def _delete_expired(connection: AsyncConnection, now_ms: int) -> None:
    # Only under the purge lock (see purge_expired); the bucket checks take it together
    # with their bucket locks.
    await connection.execute(delete(rate_events).where(rate_events.c.expires_at <= now_ms))


async def check_and_record(
    connection: AsyncConnection, now_ms: int, limits: Sequence[Limit]
) -> list[tuple[Limit, Decision]]:
    """Record one event in every bucket of *limits*, or raise RateLimitedError.

    Every limit is checked before anything is recorded; the first that refuses raises
    RateLimitedError naming it (``limit``, ``quota``, ``window_seconds``,
    ``retry_after``), and the caller's transaction must then roll back. Limits with
    neither a quota nor a minimum interval are skipped. Returns each checked limit with
    its (allowing) decision: what remains of it after this event.
    """
    active = [limit for limit in limits if limit.quota > 0 or limit.min_interval_ms > 0]
    if not active:
        return []
    # Lock in a fixed order so two requests sharing buckets cannot deadlock.
    buckets = sorted({limit.bucket for limit in active})
    if await lock_until_commit(connection, *buckets, then_try=_PURGE_LOCK):
        await _delete_expired(connection, now_ms)
    decisions = []
    for limit in active:
        times = await _recent(connection, now_ms, limit)
        decision = decide(limit, times, now_ms)
        decisions.append((limit, decision))
        if not decision.allowed:
            raise RateLimitedError(
                f"over the {limit.name} rate limit; try again later",
                retry_after=seconds_up(decision.retry_after_ms),
                limit=limit.name,
                quota=limit.quota,
                window_seconds=seconds_up(limit.window_ms),
            )
    recorded = set()
    for limit in active:
        if limit.bucket not in recorded:
            recorded.add(limit.bucket)
            await record(connection, now_ms, limit, 1)
    return decisions


async def count(engine: AsyncEngine, limits: Sequence[Limit]) -> list[tuple[Limit, Decision]]:
    """:func:`check_and_record` in a write transaction of its own, for events that store
    nothing else (a request counted against its key): the decisions, or RateLimitedError
    with nothing recorded; StorageError when the database cannot commit."""
    async with write_transaction(engine, "count the request") as (connection, now_ms):
        return await check_and_record(connection, now_ms, limits)
