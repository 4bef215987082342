"""A bounded pool of reusable SMTP connections to one upstream.

Each pooled :class:`~authmail_relay.smtp.session.SmtpSession` holds at most one
connection and is used by one message at a time; a session that ends a message with
its connection still open goes back to the pool, and the next message reuses it after a
``RSET`` health check (see :mod:`authmail_relay.smtp.session`). A session whose
transaction failed has already dropped its connection, so a half-finished transaction is
never carried over to another message.

Capacity: at most ``size`` connections at once, of which ``reserved_for_high`` can only
be used by high-priority mail, so a backlog of other mail can hold every other
connection and an auth mail still finds one free at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable

from ..vocabulary import TlsMode
from .config import SmtpConfig
from .session import SmtpSession

__all__ = ["SessionFactory", "SmtpPool"]

#: Makes one session for an upstream (tests substitute their own).
SessionFactory = Callable[[SmtpConfig, ssl.SSLContext | None], SmtpSession]


def _default_session(config: SmtpConfig, context: ssl.SSLContext | None) -> SmtpSession:
    return SmtpSession(config, context=context)


class SmtpPool:
    """Connections to one upstream, shared by the messages a worker sends at once."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        size: int,
        reserved_for_high: int = 1,
        max_idle_seconds: float = 30.0,
        max_age_seconds: float = 300.0,
        session_factory: SessionFactory | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self.config = config
        self.size = size
        #: Never all of them: other mail must keep at least one connection.
        self.reserved_for_high = min(max(reserved_for_high, 0), size - 1)
        self._max_idle_seconds = max_idle_seconds
        self._max_age_seconds = max_age_seconds
        self._factory = session_factory or _default_session
        # One verifying TLS context for every connection: loading the trust store is slow.
        self._context = config.ssl_context() if config.tls_mode is not TlsMode.NONE else None
        self._any = asyncio.Semaphore(size)
        self._general = asyncio.Semaphore(size - self.reserved_for_high)
        self._idle: list[SmtpSession] = []
        self.in_use = 0
        self._closed = False

    @property
    def idle(self) -> int:
        """Sessions waiting in the pool (each may or may not still hold a connection)."""
        return len(self._idle)

    @contextlib.asynccontextmanager
    async def session(self, *, high: bool = False) -> AsyncIterator[SmtpSession]:
        """Borrow a session for one message; waits while the pool is at its limit.

        A session leaves the pool when its connection is closed or the block raises
        (cancellation included), so the next message starts on a clean connection.
        """
        # Other mail takes a general slot first, so at most size - reserved of it can
        # queue for a connection and the reserved ones stay free for high priority.
        async with contextlib.AsyncExitStack() as slots:
            if not high:
                await slots.enter_async_context(self._general)
            await slots.enter_async_context(self._any)
            self.in_use += 1
            session = self._idle.pop() if self._idle else self._new_session()
            try:
                yield session
            except BaseException:
                await session.close()
                raise
            finally:
                self.in_use -= 1
                if session.is_open and not self._closed:
                    self._idle.append(session)
                elif session.is_open:
                    await session.close()  # came back after close(): do not leak it

    async def close(self) -> None:
        """Close every idle connection; sessions in use close when they come back."""
        self._closed = True
        sessions, self._idle = self._idle, []
        for session in sessions:
            await session.close()

    def _new_session(self) -> SmtpSession:
        session = self._factory(self.config, self._context)
        session.max_idle_seconds = self._max_idle_seconds
        session.max_age_seconds = self._max_age_seconds
        return session
