"""``authmail-relay serve``: the HTTP API, with the delivery worker unless ``--no-worker``.

The worker, the webhook dispatcher and the wake-ups run in the application's lifespan
(:mod:`authmail_relay.background`), so they stop after uvicorn has finished the requests
in flight.
"""

from __future__ import annotations

import argparse

import uvicorn

from ..api import create_app
from ..dkim.store import KeyStore
from ..relay import Relay
from ..settings import Settings
from .service_setup import server_config


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the HTTP API (and, unless told not to, a worker) until SIGTERM/SIGINT.

    Everything that can be wrong with the settings or the database is checked before
    the server starts, so a bad start is one line on stderr, not a traceback.
    """
    run_worker = not args.no_worker
    settings.require_api_key()
    if run_worker:
        settings.require_smtp()
        KeyStore(settings.dkim_keys_dir).keys()  # a bad DKIM key file: one line, before start
    host = args.host or settings.host
    port = args.port or settings.port
    async with Relay(settings) as relay:
        app = create_app(settings, relay=relay, run_worker=run_worker)
        server = uvicorn.Server(server_config(app, settings, host=host, port=port))
        await server.serve()
        return 0 if server.started else 1
