"""How a tool call reaches the relay: through the Python client, with whose key.

:class:`RemoteConnector` holds one client for a whole stdio session (the relay at
``AUTHMAIL_URL``, the key ``AUTHMAIL_API_KEY``). :class:`LoopbackConnector` calls the ASGI
app of this very process, with the key the MCP request itself presented (``/mcp`` in
``serve``) or a fixed one (``mcp --local``): the request goes through the app's
authentication, scopes, rate limits and oversight exactly as an HTTP request would.
The client never retries: a refusal (a rate limit above all) reaches the agent as it is,
with its ``retry_after``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import httpx
from mcp.server.mcpserver import Context

from ..client import AsyncAuthmailClient
from ..exceptions import AuthenticationError

#: The base URL the in-process client addresses (never resolved: the transport is the app).
LOOPBACK_URL = "http://authmail-relay.internal"
#: How long one in-process call may take, at most (a wait adds its own bound on top).
LOOPBACK_TIMEOUT = 60.0


class Connector(Protocol):
    """Gives a tool call a client acting for its caller."""

    def client(
        self, ctx: Context[Any, Any]
    ) -> contextlib.AbstractAsyncContextManager[AsyncAuthmailClient]:
        """A client acting for the caller of the tool call ``ctx``."""
        ...


class RemoteConnector:
    """One client, one key, for every call of a stdio session."""

    def __init__(self, client: AsyncAuthmailClient) -> None:
        self._client = client

    @contextlib.asynccontextmanager
    async def client(self, ctx: Context[Any, Any]) -> AsyncIterator[AsyncAuthmailClient]:
        yield self._client


class LoopbackConnector:
    """Calls the relay's own ASGI ``app`` in process.

    ``api_key`` fixes the key (``mcp --local``); without it each call uses the Bearer key
    of the MCP request it serves, which the ``/mcp`` gate has already checked.
    The app sees the MCP request's own peer address (throttling, logs), else loopback.
    """

    def __init__(self, app: Any, *, api_key: str | None = None) -> None:
        self._app = app
        self._api_key = api_key

    @contextlib.asynccontextmanager
    async def client(self, ctx: Context[Any, Any]) -> AsyncIterator[AsyncAuthmailClient]:
        request = ctx.request_context.request
        key = self._api_key or _bearer(ctx.headers)
        peer = getattr(request, "client", None)
        address = getattr(peer, "host", None) or "127.0.0.1"
        transport = httpx.ASGITransport(app=self._app, client=(address, 0))
        async with AsyncAuthmailClient(
            LOOPBACK_URL, key, timeout=LOOPBACK_TIMEOUT, max_retries=0, transport=transport
        ) as client:
            yield client


def _bearer(headers: Mapping[str, str] | None) -> str:
    scheme, _, key = ((headers or {}).get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        # The /mcp gate refuses such requests before any tool runs; this is the backstop.
        raise AuthenticationError("invalid or missing API key")
    return key.strip()
