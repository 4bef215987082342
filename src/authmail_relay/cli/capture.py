"""A capture SMTP server for development: accepts every message and keeps it on disk.

It runs inside the relay's own event loop (``aiosmtpd``'s protocol on an asyncio
server), listens on loopback only, and writes each message to ``INBOX/<n>.eml`` so a
newcomer can open exactly what the relay sent. It is never used in production.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class CapturedMail:
    """One captured message: where it is stored and who it was for."""

    path: Path
    mail_from: str
    recipients: tuple[str, ...]


class _Handler:
    def __init__(self, inbox: Path, queue: asyncio.Queue[CapturedMail]) -> None:
        self.inbox = inbox
        self.queue = queue
        existing = (int(p.stem) for p in inbox.glob("*.eml") if p.stem.isdigit())
        self._numbers = itertools.count(max(existing, default=0) + 1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        path = self.inbox / f"{next(self._numbers)}.eml"
        path.write_bytes(raw)
        mail_from = envelope.mail_from or ""
        await self.queue.put(CapturedMail(path, mail_from, tuple(envelope.rcpt_tos)))
        return "250 OK: captured"


class CaptureServer:
    """``async with CaptureServer(inbox) as capture:`` → ``capture.port``, ``capture.received``."""

    def __init__(self, inbox: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.inbox = inbox
        self.host = host
        self.port = port
        self.received: asyncio.Queue[CapturedMail] = asyncio.Queue()
        self._server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> CaptureServer:
        self.inbox.mkdir(parents=True, exist_ok=True)
        handler = _Handler(self.inbox, self.received)
        loop = asyncio.get_running_loop()

        def protocol() -> Any:
            return SMTP(handler, hostname="capture.localhost", ident="authmail-relay capture")

        self._server = await loop.create_server(protocol, host=self.host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
