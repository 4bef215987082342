"""Waking workers in other processes: PostgreSQL ``LISTEN``/``NOTIFY``.

Inside one process, :attr:`Relay.new_work <authmail_relay.relay.Relay.new_work>` wakes
the worker the moment a message is stored. Across processes (``serve --no-worker`` plus
``worker`` processes on one PostgreSQL database) this module does the same job:

* :func:`announce_due` runs ``pg_notify`` on :data:`OUTBOX_CHANNEL` inside the
  transaction that makes a message claimable now (storing it, handing it back; the
  outbox calls :func:`~authmail_relay.db.sql.notify` on the channel itself, one call
  fewer on its hot path). The
  server delivers the notification only when that transaction commits, so a rolled-back
  message wakes nobody and a woken worker always finds the committed row.
* :class:`WakeupListener` holds one dedicated asyncpg connection (outside the SQLAlchemy
  pool), runs ``LISTEN`` on the channel and sets the given events on every
  notification. When the connection drops it reconnects with a growing delay and,
  once listening again, sets the events once, since notifications sent in the meantime
  were lost. Nothing it meets ends the worker: failures are logged (without the URL's
  password) and retried.

Polling (``POLL_INTERVAL_SECONDS``) stays the safety net: a missed notification costs at
most one poll interval. On SQLite both halves do nothing; several processes sharing one
SQLite file find each other's messages by polling. ``LISTEN`` needs a session of its own,
so behind PgBouncer in transaction mode ``DATABASE_URL`` must point at a session-mode pool
or at the server itself (see ``docs/storage.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import random
from types import TracebackType
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from .engine import asyncpg_connect_args
from .sql import notify

__all__ = ["APPLICATION_NAME", "OUTBOX_CHANNEL", "WakeupListener", "announce_due"]

log = logging.getLogger("authmail_relay.wakeups")

#: The channel that says "a message is due now"; the payload is its priority (or empty).
OUTBOX_CHANNEL = "authmail_relay_outbox"
#: ``application_name`` of the listening connection, as shown in ``pg_stat_activity``.
APPLICATION_NAME = "authmail-relay wakeups"


async def announce_due(connection: AsyncConnection, payload: str = "") -> None:
    """Tell listening workers, when the caller's transaction commits, that a message is
    due now. *payload* must be small and hold no secrets (the priority, say).

    Does nothing on SQLite.
    """
    await notify(connection, OUTBOX_CHANNEL, payload)


class WakeupListener:
    """Sets *events* whenever another process announces due work on PostgreSQL.

    Use ``async with WakeupListener(url, event):`` or :meth:`start` / :meth:`close`.
    :meth:`start` returns at once; the connection is made in the background, and
    :attr:`listening` is set while ``LISTEN`` is in effect. On SQLite it does nothing.

    A reconnect waits *retry_min_s*, doubling up to *retry_max_s* (with jitter, so many
    workers do not reconnect in step after a server restart). Every *check_interval_s*
    an idle connection is checked with a query, so one that died silently (no reset from
    the network) is noticed and replaced.
    """

    def __init__(
        self,
        database_url: str | URL,
        *events: asyncio.Event,
        channel: str = OUTBOX_CHANNEL,
        connect_timeout_s: float = 10.0,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        check_interval_s: float = 30.0,
    ) -> None:
        self._options = asyncpg_connect_args(database_url, connect_timeout_s=connect_timeout_s)
        self._events = events
        self._channel = channel
        self._timeout = connect_timeout_s
        self._retry_min = retry_min_s
        self._retry_max = retry_max_s
        self._check_interval = check_interval_s
        self._task: asyncio.Task[None] | None = None
        #: Set while the connection is listening; cleared when it is lost.
        self.listening = asyncio.Event()
        #: How many times a connection started listening (1 after the first connect).
        self.connections = 0

    @property
    def enabled(self) -> bool:
        """Whether the database supports cross-process wake-ups (PostgreSQL)."""
        return self._options is not None

    async def __aenter__(self) -> WakeupListener:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Begin listening in the background (no-op on SQLite or when already started)."""
        if self._options is None or self._task is not None:
            return
        try:
            asyncpg = importlib.import_module("asyncpg")  # optional and untyped
        except ImportError:
            log.warning("asyncpg is not installed: workers in other processes wake by polling")
            return
        self._task = asyncio.create_task(self._run(asyncpg), name="authmail-relay wakeups")

    async def close(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def _wake(self, *_args: object) -> None:
        for event in self._events:
            event.set()

    async def _run(self, asyncpg: Any) -> None:
        loop = asyncio.get_running_loop()
        delay = self._retry_min
        while True:
            began = loop.time()
            try:
                await self._listen_once(asyncpg)
                problem = "connection lost"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the listener take the worker down
                problem = _describe(exc)
            if loop.time() - began >= self._retry_max:
                delay = self._retry_min  # it held for a while: start the backoff afresh
            pause = delay * random.uniform(0.5, 1.0)
            log.warning(
                "wake-up listener on %s: %s; reconnecting in %.1fs", self._where(), problem, pause
            )
            await asyncio.sleep(pause)
            delay = min(delay * 2, self._retry_max)

    async def _listen_once(self, asyncpg: Any) -> None:
        """Connect, listen until the connection is lost, then return (errors raise)."""
        options = dict(self._options or {})
        options["server_settings"] = {"application_name": APPLICATION_NAME}
        connection = await asyncpg.connect(**options)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(self._channel, self._wake)
            self.connections += 1
            self.listening.set()
            log.info("listening for wake-ups on %s", self._where())
            # Whatever was announced while nobody listened was lost: look once.
            self._wake()
            while not connection.is_closed():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._check_interval)
                if lost.is_set() or connection.is_closed():
                    return
                await asyncio.wait_for(connection.fetchval("SELECT 1"), self._timeout)
        finally:
            self.listening.clear()
            await _discard(connection, self._timeout)

    def _where(self) -> str:
        """``host:port/database`` of the server, never the user or password."""
        options = self._options or {}
        hosts = options.get("host") or "localhost"
        ports = options.get("port")
        if not isinstance(hosts, list):  # several hosts come with one port each
            hosts, ports = [hosts], [ports]
        where = ",".join(
            f"{host}:{port}" if port else str(host)
            for host, port in zip(hosts, ports or [None] * len(hosts), strict=True)
        )
        return f"{where}/{options.get('database') or ''}"


async def _discard(connection: Any, timeout: float) -> None:
    """Close *connection* politely if it is still open, abruptly if that fails."""
    if connection.is_closed():
        return
    try:
        await connection.close(timeout=timeout)
    except asyncio.CancelledError:
        connection.terminate()
        raise
    except Exception:  # the connection is going away either way
        connection.terminate()


def _describe(exc: BaseException) -> str:
    """The error's class and the first line of its message (no SQL, no parameters)."""
    message = str(exc).strip()
    first = message.splitlines()[0][:200] if message else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
