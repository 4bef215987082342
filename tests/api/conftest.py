"""A real HTTP server for API tests: uvicorn in the test's event loop on a free port,
over a fresh SQLite database (or PostgreSQL via ``db_url``), delivering to a real SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("fastapi") is None:  # the library-mode run has no service extra
    collect_ignore_glob = ["test_*.py"]
else:
    import httpx
    import uvicorn

    from authmail_relay.api import create_app
    from authmail_relay.cli.service_setup import server_config
    from authmail_relay.db import create_engine, upgrade
    from authmail_relay.relay import Relay
    from authmail_relay.settings import Settings
    from tests.support.db import secrets_key_for
from tests.support.smtpd import SmtpServer

API_KEY = "test-key-0123456789abcdef"


@dataclass
class Api:
    """A running service: its URL, settings, relay and an authenticated client."""

    url: str
    settings: Settings
    relay: Relay
    client: httpx.AsyncClient
    sink: SmtpServer
    server: uvicorn.Server

    def anonymous(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings, sink: SmtpServer, *, webhook_resolver: Any = None, **app_options: Any
) -> AsyncIterator[Api]:
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()
    async with Relay(settings, webhook_resolver=webhook_resolver) as relay:
        app = create_app(settings, relay=relay, **app_options)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        # Configured as `serve` configures it (proxy headers believed from no one).
        server = uvicorn.Server(server_config(app, settings, log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {settings.api_key}"}
        try:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                yield Api(url, settings, relay, client, sink, server)
        finally:
            server.should_exit = True
            await task
            sock.close()


def api_settings(database_url: str, sink: SmtpServer, **changes: Any) -> Settings:
    base = Settings(
        database_url=database_url,
        secrets_key=secrets_key_for(database_url),
        smtp=sink.config(),
        api_key=API_KEY,
        magic_link_base_url="https://app.example.com",
        send_wait_seconds=5,
        poll_interval_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        shutdown_grace_seconds=1,
        # Many tests mail the same address; the limits are tested with them switched on.
        recipient_max_per_window=0,
        recipient_min_interval_seconds=0,
        domain_max_per_window=0,
    )
    return replace(base, **changes)


@pytest.fixture
async def api(tmp_path: Path, smtp_sink: SmtpServer) -> AsyncIterator[Api]:
    async with running_api(
        api_settings(f"sqlite:///{tmp_path / 'api.db'}", smtp_sink), smtp_sink
    ) as running:
        yield running


@pytest.fixture
def api_factory(
    tmp_path: Path, smtp_sink: SmtpServer
) -> Callable[..., contextlib.AbstractAsyncContextManager[Api]]:
    """Start a service with changed settings (and ``run_worker``, ``dev_inbox`` or a
    ``webhook_resolver`` for the request-time webhook URL check).

    ``async with api_factory(send_wait_seconds=1) as api:``
    """

    def start(**changes: Any) -> contextlib.AbstractAsyncContextManager[Api]:
        options = ("run_worker", "dev_inbox", "webhook_resolver")
        app_options = {k: changes.pop(k) for k in options if k in changes}
        settings = api_settings(f"sqlite:///{tmp_path / 'api.db'}", smtp_sink, **changes)
        return running_api(settings, smtp_sink, **app_options)

    return start
