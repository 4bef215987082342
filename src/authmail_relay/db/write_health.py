"""Whether this process's writes to a database are currently failing (for ``/ready``).

Reads can keep working while every write fails — a full disk, a read-only file system, a
lock held elsewhere for longer than the busy timeout — so a probe that only reads says
"ok" while nothing can be stored. Every write transaction reports here, under the name
of what it does (:func:`authmail_relay.db.sql.write_transaction`): a failure
marks that kind of write as failing, its next success clears it. Kinds are kept apart
because a full disk fails only the writes that need room: an empty claim still commits
while every result write fails. A failure is remembered for
:data:`FAILURE_MEMORY_SECONDS` at most: a process that stops writing (it is out of the
load balancer because it reported the failure, say) is not kept out for ever; the
worker's retries and claims keep the state fresh where they run.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["FAILURE_MEMORY_SECONDS", "WriteHealth", "write_health"]

#: How long a failed write, not followed by a successful one, counts as "failing".
FAILURE_MEMORY_SECONDS = 60.0


class WriteHealth:
    """The latest failure of each kind of write, on an injected monotonic clock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        memory_seconds: float = FAILURE_MEMORY_SECONDS,
    ) -> None:
        self._clock = clock
        self._memory = memory_seconds
        #: Kind of write → when it last failed (while its latest outcome is a failure).
        #: The kinds are the fixed action names of the code, so this stays small.
        self._failed_at: dict[str, float] = {}

    def succeeded(self, action: str) -> None:
        self._failed_at.pop(action, None)

    def failed(self, action: str) -> None:
        self._failed_at[action] = self._clock()

    @property
    def failing(self) -> bool:
        """True while some kind of write failed last time, less than the memory ago."""
        now = self._clock()
        return any(now - at < self._memory for at in self._failed_at.values())


#: One record per connection pool: views made with ``execution_options`` share it.
_health: weakref.WeakKeyDictionary[object, WriteHealth] = weakref.WeakKeyDictionary()


def write_health(engine: AsyncEngine) -> WriteHealth:
    """The write health of *engine*'s database, as seen by this process."""
    pool = engine.sync_engine.pool
    health = _health.get(pool)
    if health is None:
        health = _health[pool] = WriteHealth()
    return health
