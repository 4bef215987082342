"""A real HTTP receiver for webhook tests: a small asyncio server on loopback.

It records every request (headers lower-cased, raw body) and answers from a script of
:class:`Reply` values (then with ``default``): a status, extra headers, a body, a delay,
or ``hang`` (never answer). ``connections`` counts accepted TCP connections, so the same
class serves as a canary that must never be reached. Start one with
``async with running_receiver() as receiver:`` (plain HTTP on 127.0.0.1, or HTTPS with an
``ssl_context``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_REASONS = {200: "OK", 204: "No Content", 302: "Found", 410: "Gone", 429: "Too Many Requests"}


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    hang: bool = False


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class HookReceiver:
    """An HTTP/1.1 server that answers each request on its own connection, then closes."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self.connections = 0
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._port = 0
        self._arrived = asyncio.Event()
        self._closing = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> HookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._ssl)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            # Hanging handlers return on their own (cancelling them makes asyncio log).
            self._closing.set()
            self._server.close()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        return self._port

    def url(self, host: str = "127.0.0.1", path: str = "/hooks") -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def reply_with(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order (then with ``default``)."""
        self.script.extend(replies)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least *count* requests arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"got {len(self.requests)} webhook requests, not {count}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                continue
        return list(self.requests)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, path, headers, body, time.monotonic()))
        self._arrived.set()
        reply = self.script.pop(0) if self.script else self.default
        if reply.hang:
            await self._closing.wait()
            return
        if reply.delay:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay)
        reason = _REASONS.get(reply.status, "Status")
        extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
        writer.write(
            f"HTTP/1.1 {reply.status} {reason}\r\nContent-Length: {len(reply.body)}\r\n"
            f"Connection: close\r\n{extra}\r\n".encode("latin-1")
            + reply.body
        )
        await writer.drain()


@contextlib.asynccontextmanager
async def running_receiver(
    *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[HookReceiver]:
    """``async with running_receiver() as receiver:`` — started, and stopped afterwards."""
    receiver = await HookReceiver(ssl_context=ssl_context).start()
    try:
        yield receiver
    finally:
        await receiver.stop()
