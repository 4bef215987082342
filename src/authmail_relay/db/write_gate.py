"""One writer at a time per SQLite database within a process.

SQLite allows a single writer. When two of our own connections both ask for the write
lock (``BEGIN IMMEDIATE``), the loser does not queue: SQLite's busy handler makes it sleep
and retry with growing pauses (up to 100 ms each), so under concurrent requests most of
the time goes to sleeping while the lock is actually free. Queuing the writers of one
process on an :class:`asyncio.Lock` first hands the lock over the moment it is released,
in arrival order. Writers in other processes still meet the busy timeout, as before.

PostgreSQL has row locks and needs no gate; :func:`write_gate` is a no-op there.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["write_gate"]

#: One lock per (connection pool, event loop); a pool outlives no engine, and views made
#: with ``execution_options`` share their engine's pool, so they share its gate.
_gates: weakref.WeakKeyDictionary[object, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _gate(engine: AsyncEngine) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    per_loop = _gates.setdefault(engine.sync_engine.pool, {})
    lock = per_loop.get(loop)
    if lock is None:
        # Forget locks of loops that have finished (tests run one loop per test).
        for old in [old for old in per_loop if old.is_closed()]:
            del per_loop[old]
        lock = per_loop[loop] = asyncio.Lock()
    return lock


@contextlib.asynccontextmanager
async def write_gate(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold this process's write turn for *engine* (SQLite only) while the block runs."""
    if engine.dialect.name != "sqlite":
        yield
        return
    async with _gate(engine):
        yield
