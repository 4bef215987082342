"""``authmail-relay mcp``: the MCP server on stdio, for desktop clients and agent loops.

By default it is a client of a running relay: every tool call is an HTTP request to
``AUTHMAIL_URL`` with ``AUTHMAIL_API_KEY`` (a laptop agent holds a scoped key, never
SMTP credentials or the database). ``--local`` runs the relay itself in this process
instead — the API app over ``DATABASE_URL`` with its delivery worker — and calls it in
process with ``AUTHMAIL_API_KEY`` or else ``API_KEY``: one machine, one command. stdout
carries the protocol and nothing else; logs go to stderr.
"""

from __future__ import annotations

import argparse

from ..api import create_app
from ..client import AsyncAuthmailClient
from ..mcp.connect import LoopbackConnector, RemoteConnector
from ..mcp.server import build_server
from ..settings import Settings

#: How long one HTTP request to the relay may take (a wait adds its own bound on top).
REMOTE_TIMEOUT = 30.0


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve MCP on stdin/stdout until the client closes stdin; returns the exit code."""
    if args.local:
        app = create_app(settings, run_worker=True)
        key = settings.authmail_api_key or settings.require_api_key()
        async with app.router.lifespan_context(app):
            await build_server(LoopbackConnector(app, api_key=key)).run_stdio_async()
        return 0
    url, key = settings.require_relay_url()
    async with AsyncAuthmailClient(url, key, timeout=REMOTE_TIMEOUT, max_retries=0) as client:
        await build_server(RemoteConnector(client)).run_stdio_async()
    return 0
