"""``authmail-relay dev``: the whole relay on embedded defaults, for trying it out.

SQLite in a local folder, a capture SMTP server instead of a real provider, the HTTP
API with its embedded worker, a generated API key (kept in the data folder so it stays
the same between runs), and one sample message so the first run already shows a
delivered mail. Captured mail is written to ``<data-dir>/inbox/<n>.eml``, announced on
stdout, and readable at ``GET /dev/inbox``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import socket
from pathlib import Path

import uvicorn

from ..api import create_app
from ..file_modes import private_dir
from ..mail.message_request import MessageRequest
from ..relay import Relay
from ..settings import Settings
from ..smtp.config import SmtpConfig
from ..vocabulary import TlsMode
from .capture import CapturedMail, CaptureServer
from .service_setup import server_config

DEV_SENDER = "relay@dev.localhost"
DEV_LINK_BASE = "http://localhost:3000"


def sample_request() -> MessageRequest:
    """The mail queued on start-up, so the capture inbox is never empty."""
    return MessageRequest(
        to="newcomer@example.com",
        from_addr=f"authmail-relay dev <{DEV_SENDER}>",
        subject="Your relay works",
        html=(
            "<h1>It works</h1><p>This message went through the HTTP service's core, the "
            "durable outbox, a worker and SMTP into the capture inbox.</p>"
        ),
        tags=["dev-sample"],
    )


def dev_api_key(root: Path) -> str:
    """The data folder's API key, created on first use (readable by the owner only)."""
    path = root / "api-key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    key = "dev_" + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(key + "\n", encoding="ascii")
    return key


def bind_socket(host: str, port: int) -> socket.socket:
    """Listen on ``port``, or on a free port when it is taken (told in the banner)."""
    for candidate in (port, 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        sock.setblocking(False)
        return sock
    raise OSError(f"cannot listen on {host}")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until interrupted (or, with ``--once``, until the sample mail is captured).

    *settings* (the environment's) are not used: dev mode runs on its own embedded
    defaults, whatever the environment says.
    """
    return await serve_dev(data_dir=args.data_dir, host=args.host, port=args.port, once=args.once)


async def serve_dev(*, data_dir: str, host: str, port: int, once: bool = False) -> int:
    """Run the relay on embedded defaults in *data_dir* and serve it on *host*:*port*.

    The worker, webhook dispatcher and wake-ups run in the application's lifespan
    (:mod:`authmail_relay.background`), as they do for ``serve``.
    """
    root = Path(data_dir).resolve()  # noqa: ASYNC240 - once, at start-up
    private_dir(root)  # the dev database, its key file and captured mail: owner-only
    api_key = dev_api_key(root)
    async with CaptureServer(root / "inbox") as capture:
        smtp = SmtpConfig(
            host="127.0.0.1", port=capture.port, tls=TlsMode.NONE, from_addr=DEV_SENDER, timeout=5
        )
        settings = Settings(
            database_url=f"sqlite:///{root / 'dev.db'}",
            smtp=smtp,
            api_key=api_key,
            host=host,
            port=port,
            magic_link_base_url=DEV_LINK_BASE,
            poll_interval_seconds=0.5,
            retry_base_seconds=1,
            retry_max_seconds=30,
        )
        async with Relay(settings) as relay:
            app = create_app(settings, relay=relay, dev_inbox=root / "inbox")
            sock = bind_socket(host, port)
            # No proxy is trusted here (FORWARDED_ALLOW_IPS is unset): the peer is the client.
            server = uvicorn.Server(server_config(app, settings, log_level="warning"))
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            # uvicorn offers no start-up event; its `started` flag is the documented signal.
            while not server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if serving.done():
                return 1
            sample = await relay.submit(sample_request())
            _banner(root, capture.port, sock.getsockname()[1], host, api_key, sample.id)
            watcher = asyncio.create_task(
                _announce(capture.received, sample.message_id, server if once else None)
            )
            try:
                await serving
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                sock.close()
    return 0


async def _announce(
    received: asyncio.Queue[CapturedMail], sample_message_id: str, stop: uvicorn.Server | None
) -> None:
    while True:
        mail = await received.get()
        print(f"captured: {mail.path} (to {', '.join(mail.recipients)})", flush=True)
        if stop is not None and sample_message_id.encode() in mail.path.read_bytes():
            stop.should_exit = True


def _banner(
    root: Path, smtp_port: int, http_port: int, host: str, api_key: str, sample_id: str
) -> None:
    base = f"http://{host}:{http_port}"
    auth = f'-H "Authorization: Bearer {api_key}"'
    print(
        "\n".join(
            [
                "authmail-relay dev mode",
                f"  API:           {base}   (docs: {base}/docs)",
                f"  API key:       {api_key}   (kept in {root / 'api-key'})",
                f"  database:      sqlite:///{root / 'dev.db'}",
                f"  capture SMTP:  127.0.0.1:{smtp_port} (kept in {root / 'inbox'}, never sent)",
                f"  sample mail:   {sample_id}",
                "Send a mail:",
                f"  curl -s {base}/send {auth} -H 'Content-Type: application/json' \\",
                '    -d \'{"to": "you@example.com", "subject": "Hello", '
                '"html_body": "<p>Hi!</p>"}\'',
                "Send a one-time code:",
                f"  curl -s {base}/send/otp {auth} -H 'Content-Type: application/json' \\",
                '    -d \'{"to": "you@example.com", "user_name": "Ada", "code": "123456"}\'',
                "Read what was sent:",
                f"  curl -s {base}/dev/inbox {auth}",
                "Stop with Ctrl-C.",
            ]
        ),
        flush=True,
    )
