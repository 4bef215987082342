"""``authmail-relay dev``: the relay on embedded defaults, for trying it out.

SQLite in a local folder, a capture SMTP server instead of a real provider, a worker,
and one sample message so the first run already shows a delivered mail. Every
captured message is written to ``<data-dir>/inbox/<n>.eml`` and announced on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from .capture import CapturedMail, CaptureServer
from .cli_service import stop_on_signals
from .message_request import MessageRequest
from .relay import Relay
from .settings import Settings
from .smtp_config import SmtpConfig
from .vocabulary import TlsMode
from .worker import Worker

DEV_SENDER = "relay@dev.localhost"


def sample_request() -> MessageRequest:
    """The mail queued on start-up, so the capture inbox is never empty."""
    return MessageRequest(
        to="newcomer@example.com",
        from_addr=f"authmail-relay dev <{DEV_SENDER}>",
        subject="Your relay works",
        html=(
            "<h1>It works</h1><p>This message went through the durable outbox, a worker "
            "and SMTP into the capture inbox.</p>"
        ),
        tags=["dev-sample"],
    )


async def run_dev(*, data_dir: str, once: bool = False) -> int:
    """Run until interrupted (or, with ``once``, until the sample mail is captured)."""
    root = Path(data_dir).resolve()  # noqa: ASYNC240 - once, at start-up
    root.mkdir(parents=True, exist_ok=True)
    async with CaptureServer(root / "inbox") as capture:
        smtp = SmtpConfig(
            host="127.0.0.1", port=capture.port, tls=TlsMode.NONE, from_addr=DEV_SENDER, timeout=5
        )
        settings = Settings(
            database_url=f"sqlite:///{root / 'dev.db'}",
            smtp=smtp,
            poll_interval_seconds=0.5,
            retry_base_seconds=1,
            retry_max_seconds=30,
        )
        async with Relay(settings) as relay:
            worker = Worker(relay.outbox, smtp, settings, wake=relay.new_work)
            stop_on_signals(worker.stop)
            running = asyncio.create_task(worker.run())
            sample = await relay.submit(sample_request())
            _banner(root, capture.port, sample.id)
            watcher = asyncio.create_task(
                _announce(capture.received, sample.message_id, worker if once else None)
            )
            try:
                await running
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
    return 0


async def _announce(
    received: asyncio.Queue[CapturedMail], sample_message_id: str, stop_after: Worker | None
) -> None:
    while True:
        mail = await received.get()
        print(f"captured: {mail.path} (to {', '.join(mail.recipients)})", flush=True)
        if stop_after is not None and sample_message_id.encode() in mail.path.read_bytes():
            stop_after.stop()


def _banner(root: Path, port: int, sample_id: str) -> None:
    db = root / "dev.db"
    print(
        "\n".join(
            [
                "authmail-relay dev mode",
                f"  database:      sqlite:///{db}",
                f"  capture SMTP:  127.0.0.1:{port} (mail is kept in {root / 'inbox'}, never sent)",
                f"  sample mail:   {sample_id}",
                "Queue another message from a second terminal:",
                f"  DATABASE_URL=sqlite:///{db} .venv/bin/authmail-relay send \\",
                f"    --from {DEV_SENDER} --to you@example.com --subject Hello --html '<p>Hi</p>'",
                "Stop with Ctrl-C.",
            ]
        ),
        flush=True,
    )
