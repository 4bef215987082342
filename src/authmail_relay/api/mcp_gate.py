"""``/mcp``: the MCP endpoint in the HTTP service, when ``MCP_ENABLED`` is on.

The endpoint itself is :mod:`authmail_relay.mcp`; this module puts it behind the same
Bearer-key check as every API route (``401``/``429`` problem+json before the MCP layer
sees a byte) and runs its session manager in the app's lifespan. The ``mcp`` room is
imported here, inside :func:`mount_mcp`, and only when the setting asks for it: the
``[mcp]`` extra is optional and a service without it must still start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    StorageError,
)
from .problems import problem_for, request_id_of
from .security import KeyChecker, client_address

#: What the lifespan enters to run the endpoint's session manager.
Lifespan = Callable[[], contextlib.AbstractAsyncContextManager[Any]]


class McpGate:
    """An ASGI app that lets through only requests with a valid API key.

    The key's scopes are not checked here: each tool call is an API call made with the
    same key, and its route checks the scope it needs (``forbidden`` otherwise).
    """

    def __init__(self, endpoint: ASGIApp, checker: Callable[[], KeyChecker]) -> None:
        self._endpoint = endpoint
        self._checker = checker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            try:
                await self._checker().check(
                    request.headers.get("authorization"), client_address(request)
                )
            except (AuthenticationError, RateLimitedError, StorageError) as exc:
                await problem_for(exc, request_id_of(request))(scope, receive, send)
                return
        await self._endpoint(scope, receive, send)


def mount_mcp(app: FastAPI) -> Lifespan:
    """Add ``/mcp`` to ``app``; returns what its lifespan must run around serving."""
    try:
        from ..mcp.connect import LoopbackConnector
        from ..mcp.server import build_server
        from ..mcp.transport import MCP_PATH, http_app
    except ImportError as exc:
        raise ConfigurationError(
            f"MCP_ENABLED needs the mcp extra ({exc.name} is missing): "
            "pip install 'authmail-relay[mcp]'"
        ) from None
    server = build_server(LoopbackConnector(app))
    endpoint = http_app(server, app.state.settings)
    app.router.routes.append(Route(MCP_PATH, McpGate(endpoint, lambda: app.state.key_checker)))
    return server.session_manager.run
