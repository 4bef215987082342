"""One writer at a time per SQLite database within a process, urgent writers first.

SQLite allows a single writer. When two of our own connections both ask for the write
lock (``BEGIN IMMEDIATE``), the loser does not queue: SQLite's busy handler makes it sleep
and retry with growing pauses (up to 100 ms each), so under concurrent requests most of
the time goes to sleeping while the lock is actually free. Queuing the writers of one
process here first hands the lock over the moment it is released. Writers in other
processes still meet the busy timeout, as before.

Writers marked urgent (:func:`urgent_writes`: storing or claiming an auth mail) go
before every waiting ordinary writer, so a backlog of bulk-mail bookkeeping never makes
a one-time code wait for more than the transaction already running.

PostgreSQL has row locks and needs no gate; :func:`write_gate` is a no-op there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import weakref
from collections.abc import AsyncIterator, Iterator

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["urgent_writes", "write_gate"]

_urgent: contextvars.ContextVar[bool] = contextvars.ContextVar("urgent_writes", default=False)


@contextlib.contextmanager
def urgent_writes(urgent: bool = True) -> Iterator[None]:
    """Write transactions started inside this block (in this task) jump the queue (or,
    with ``urgent=False``, explicitly do not)."""
    token = _urgent.set(urgent)
    try:
        yield
    finally:
        _urgent.reset(token)


class _Gate:
    """A lock with two queues: urgent waiters are served before ordinary ones."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[collections.deque[asyncio.Future[None]], ...] = (
            collections.deque(),  # urgent
            collections.deque(),  # ordinary
        )

    async def acquire(self, urgent: bool) -> None:
        if not self._held and not any(self._waiting):
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting[0 if urgent else 1]
        queue.append(future)
        try:
            await future  # resolved by release(), which hands the lock over to us
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # release() may have dropped it
                    queue.remove(future)
            raise

    def release(self) -> None:
        for queue in self._waiting:
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)  # the lock stays held, now by that waiter
                    return
        self._held = False


#: One gate per (connection pool, event loop); views made with ``execution_options``
#: share their engine's pool, so they share its gate.
_gates: weakref.WeakKeyDictionary[object, dict[asyncio.AbstractEventLoop, _Gate]] = (
    weakref.WeakKeyDictionary()
)


def _gate(engine: AsyncEngine) -> _Gate:
    loop = asyncio.get_running_loop()
    per_loop = _gates.setdefault(engine.sync_engine.pool, {})
    gate = per_loop.get(loop)
    if gate is None:
        # Forget gates of loops that have finished (tests run one loop per test).
        for old in [old for old in per_loop if old.is_closed()]:
            del per_loop[old]
        gate = per_loop[loop] = _Gate()
    return gate


@contextlib.asynccontextmanager
async def write_gate(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold this process's write turn for *engine* (SQLite only) while the block runs."""
    if engine.dialect.name != "sqlite":
        yield
        return
    gate = _gate(engine)
    await gate.acquire(_urgent.get())
    try:
        yield
    finally:
        gate.release()
