"""Auth mail in progress in this process, so bulk work can step aside for it.

The API and the embedded worker share one event loop. While the worker is busy with a
backlog of bulk mail, every step of an incoming one-time code (rendering, storing,
claiming, sending) queues behind the backlog's callbacks. :class:`Urgency` counts the
high-priority messages between "request validated" and "handed to SMTP"; while any is in
progress the worker claims no bulk mail and holds new bulk sends back (for a bounded
time), so the code goes through an almost idle loop.

The delivery of an urgent message ends its entry whatever the outcome. An entry that is
never ended (another process sends the message) stops counting after ``hold_seconds``,
so bulk mail can never be held back for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable

__all__ = ["Urgency"]


class Urgency:
    """Tracks urgent work by key; tells whether any is in progress."""

    def __init__(
        self, *, hold_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._hold = hold_seconds
        self._clock = clock
        self._started: dict[Hashable, float] = {}
        self._calm = asyncio.Event()
        self._calm.set()
        self._listeners: list[Callable[[], None]] = []

    def on_calm(self, listener: Callable[[], None]) -> None:
        """Call *listener* whenever the last urgent entry ends."""
        self._listeners.append(listener)

    def begin(self, key: Hashable) -> None:
        """Urgent work *key* started."""
        self._started[key] = self._clock()
        self._calm.clear()

    def rename(self, old: Hashable, new: Hashable) -> None:
        """The work known as *old* is now known as *new* (e.g. once it has a message id)."""
        started = self._started.pop(old, None)
        if started is not None:
            self._started[new] = started

    def end(self, key: Hashable) -> None:
        """Urgent work *key* is done (unknown keys are ignored)."""
        if self._started.pop(key, None) is not None:
            self._settle()

    @property
    def active(self) -> bool:
        """Whether urgent work is in progress (entries older than the hold expire)."""
        if self._started:
            cutoff = self._clock() - self._hold
            for key in [k for k, t in self._started.items() if t < cutoff]:
                del self._started[key]
            self._settle()
        return bool(self._started)

    async def calm(self, at_most: float) -> None:
        """Wait until no urgent work is in progress, or *at_most* seconds."""
        if not self.active:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._calm.wait(), at_most)

    def _settle(self) -> None:
        if not self._started and not self._calm.is_set():
            self._calm.set()
            for listener in self._listeners:
                listener()
