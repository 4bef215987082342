"""The in-flight work of a claim loop (the delivery worker and the webhook dispatcher).

Both loops claim leased rows, start one task per row, sleep until something happens,
and on shutdown give their tasks a grace period before cancelling them. This class holds
that shared part so the two loops differ only in what they claim and how they send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskPool:
    """A set of running tasks with "wait for any" and "drain with a grace period"."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work``; the task leaves the pool when it ends."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_any(self, wake: asyncio.Event, timeout: float) -> None:
        """Return when ``wake`` is set, any task ends, or ``timeout`` seconds pass."""
        waiting = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait(
                [waiting, *self._tasks], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiting.cancel()

    async def drain(self, grace_seconds: float) -> None:
        """Let the tasks finish for ``grace_seconds``, then cancel the rest and wait for them
        (their own cancellation handlers hand their work back)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
