"""Waiting for a stored message to reach a status: the one loop behind the compatible
``/send`` wait and the long poll of ``GET /v1/messages/{id}?wait=``.

A waiter re-reads the message when something in this process wakes it (an in-process
worker finished it, a cancel went through this relay) and, because a worker in another
process wakes nobody here, every ``poll_seconds`` as well. Each read is the caller's
``read`` coroutine, which borrows a database connection and gives it back: nothing is
held while waiting. Standard library only.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from .vocabulary import MessageStatus

#: How often a waiter re-reads the message when nothing in this process wakes it.
POLL_SECONDS = 0.25
#: How many lately finished message ids are remembered (oldest forgotten first).
REMEMBERED = 4096


class _HasStatus(Protocol):
    @property
    def status(self) -> MessageStatus: ...


R = TypeVar("R", bound=_HasStatus)


class StatusWaits:
    """The requests waiting on messages in one process, and the messages finished lately
    (so a waiter that registers after the fact reads at once instead of sleeping first)."""

    def __init__(self, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        #: One event per waiting request, by message id (several may wait on one message).
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._finished: collections.OrderedDict[str, None] = collections.OrderedDict()

    def wake(self, message_id: str) -> None:
        """Wake every request waiting on *message_id*, to read it again at once."""
        for waiter in self._waiters.get(message_id, ()):
            waiter.set()

    def finished(self, message_id: str) -> None:
        """*message_id* reached a final status: wake its waiters and remember it."""
        self.wake(message_id)
        self._finished[message_id] = None
        if len(self._finished) > REMEMBERED:
            self._finished.popitem(last=False)

    async def wait(
        self,
        message_id: str,
        read: Callable[[], Awaitable[R]],
        timeout: float,
        *,
        until: Callable[[MessageStatus], bool],
        read_first: bool,
    ) -> R:
        """What ``read()`` returns once ``until(status)`` holds, or when ``timeout``
        seconds have passed (the last read, whatever its status). Errors of ``read``
        (e.g. NotFoundError) are raised as they are.

        Without ``read_first`` the first read waits for a wake-up or the first poll: the
        caller has just stored the message, so there is nothing new to read yet.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter = asyncio.Event()
        self._waiters.setdefault(message_id, set()).add(waiter)
        try:
            if not read_first and message_id not in self._finished:
                await self._sleep(waiter, min(timeout, self.poll_seconds))
            while True:
                # Cleared before the read, so a wake-up during the read is not lost.
                waiter.clear()
                record = await read()
                remaining = deadline - loop.time()
                if until(record.status) or remaining <= 0:
                    return record
                await self._sleep(waiter, min(remaining, self.poll_seconds))
        finally:
            waiting = self._waiters.get(message_id)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[message_id]

    @staticmethod
    async def _sleep(waiter: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(waiter.wait(), seconds)
