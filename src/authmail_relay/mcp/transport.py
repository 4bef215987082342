"""The Streamable HTTP app of the MCP server, with DNS-rebinding protection from settings.

Stateless and JSON-answering: every POST carries one JSON-RPC exchange, so any relay
process behind a load balancer can answer it and nothing is kept between requests.
The ``Host`` header must be a loopback name, ``HOST`` (when it is not a wildcard
address) or one of ``MCP_ALLOWED_HOSTS`` — each with or without a port — else ``421``;
an ``Origin`` header, which only browsers send, must be a loopback ``http`` origin or one
of ``MCP_ALLOWED_ORIGINS``, else ``403``. So a web page that rebinds its own name to the
relay's address cannot talk to it from a victim's browser.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from ..settings import Settings

#: Where the endpoint lives in the HTTP service.
MCP_PATH = "/mcp"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names, not a bind
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def allowed_hosts(settings: Settings) -> list[str]:
    """``Host`` values the endpoint answers (``name:*`` allows any port)."""
    names = [*_LOOPBACK]
    if settings.host not in _WILDCARDS and settings.host not in names:
        names.append(f"[{settings.host}]" if ":" in settings.host else settings.host)
    hosts = [form for name in names for form in (name, f"{name}:*")]
    for extra in settings.mcp_allowed_hosts:
        has_port = extra.rsplit(":", 1)[-1].isdigit() and not extra.endswith("]")
        hosts.extend([extra] if has_port else [extra, f"{extra}:*"])
    return hosts


def allowed_origins(settings: Settings) -> list[str]:
    """``Origin`` values the endpoint answers: loopback http ones and the configured ones,
    each also in the form browsers send (without a default port)."""
    origins = [form for name in _LOOPBACK for form in (f"http://{name}", f"http://{name}:*")]
    for origin in settings.mcp_allowed_origins:
        origins.append(origin)
        scheme, _, rest = origin.partition("://")
        host, _, port = rest.rpartition(":")
        if _DEFAULT_PORTS.get(scheme) == port:
            origins.append(f"{scheme}://{host}")
    return origins


def http_app(server: MCPServer, settings: Settings) -> Starlette:
    """The endpoint's ASGI app, answering at :data:`MCP_PATH` (its session manager must
    run in the host application's lifespan)."""
    return server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=settings.max_body_bytes,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=allowed_hosts(settings),
            allowed_origins=allowed_origins(settings),
        ),
    )
