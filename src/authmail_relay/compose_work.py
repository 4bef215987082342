"""Where a message is validated and composed: inline when it is small, in a thread when not.

Validation is linear and capped, but turning a valid message into bytes is not cheap for
every valid input: the :mod:`email` package folds header text at tens of microseconds a
character (a request with every header field at its cap in non-ASCII text takes seconds),
and a body of several megabytes is quoted-printable encoded in pure Python. On the event
loop that the API and the embedded worker share, one such request would stall every
other request and every delivery for that long.

So the relay weighs a request before any work (only ``len()`` of its fields: constant
per field) and runs the whole validate-and-compose step in a worker thread when the
request is large. At most :data:`THREADS` large requests are composed at once; the rest
wait for a slot, and that wait, unlike an event-loop stall, holds up nobody else. Small
requests, and so every ordinary auth mail (its header text is one address and a name of
at most 200 characters; the subject comes from a template), stay inline: they cost a
few milliseconds, and a thread hop would only add latency to the mail that must be
fastest.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .mail.message_request import MessageRequest

__all__ = [
    "INLINE_BODY_CHARS",
    "INLINE_HEADER_CHARS",
    "THREADS",
    "ComposeSlots",
    "is_large",
]

#: Header-bound characters (subject, addresses, custom headers, name…) composed inline:
#: at most about 50 ms of folding even when all of it is non-ASCII display names (the
#: slowest case measured, about 0.1 ms a character); an ordinary message has under 200.
INLINE_HEADER_CHARS = 500
#: Body characters (HTML and text together) composed inline.
INLINE_BODY_CHARS = 64 * 1024
#: Large requests composed at the same time.
THREADS = 2

T = TypeVar("T")


def _chars(value: object) -> int:
    """Characters of one field: a string, or a list or mapping of strings (else 0)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_chars(k) + _chars(v) for k, v in value.items())
    if isinstance(value, Iterable):
        return sum(_chars(item) for item in value)
    return 0


def is_large(request: MessageRequest) -> bool:
    """Whether composing *request* may take long enough to belong off the event loop.

    Looks only at lengths, so it is cheap whatever the request holds (the lists and
    mappings it walks are already capped in size by validation or the HTTP schema).
    """
    header = _chars(
        (
            request.subject,
            request.from_addr or "",
            request.to,
            request.cc,
            request.bcc,
            request.reply_to,
            request.headers,
            request.user_name or "",
        )
    )
    body = _chars(request.html or "") + _chars(request.text or "")
    return header > INLINE_HEADER_CHARS or body > INLINE_BODY_CHARS


class ComposeSlots:
    """Runs the compose step of a request inline or in one of ``threads`` threads.

    The threads are a pool of their own: a request that is cancelled while its message
    is being composed cannot free a slot for another before its thread is done, and the
    shared default executor (DNS look-ups) is never taken up by composing.
    """

    def __init__(self, threads: int = THREADS) -> None:
        self._threads = threads
        self._pool = self._new_pool()

    def _new_pool(self) -> ThreadPoolExecutor:
        # Threads start only when work arrives, so a pool costs nothing until then.
        return ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="compose")

    async def run(self, request: MessageRequest, work: Callable[[], T]) -> T:
        """``work()`` (pure: validation and composing of *request*), off the event loop
        when :func:`is_large` says so; its exceptions propagate unchanged."""
        if not is_large(request):
            return work()
        context = contextvars.copy_context()  # as asyncio.to_thread would
        return await asyncio.get_running_loop().run_in_executor(self._pool, context.run, work)

    def close(self) -> None:
        """Let the threads end once their work is done; later work gets new ones."""
        pool, self._pool = self._pool, self._new_pool()
        pool.shutdown(wait=False)
