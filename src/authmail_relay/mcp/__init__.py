"""The MCP server: AI agents send and follow auth mail through the relay's tools.

A thin adapter, documented in docs/mcp.md. Every tool is one call of the relay's own HTTP
API made with the caller's API key through the Python client
(:mod:`authmail_relay.client`): over the network to a remote relay (``authmail-relay mcp``
on a laptop), or in process through the ASGI app itself (``/mcp`` in ``serve``,
``authmail-relay mcp --local``). So keys, scopes, limits, oversight, idempotency and the
audit trail are the ones the HTTP API applies, never a second set of rules. Needs the
``[mcp]`` extra (the ``mcp`` SDK); nothing else in the package imports this room except
:func:`authmail_relay.api.create_app` when ``MCP_ENABLED`` is on, and the ``mcp`` command
(:mod:`authmail_relay.cli.mcp`, the stdio server).

Code map:

- ``server``: :func:`build_server`, the MCP server with every tool and its instructions.
- ``tools_send``: the tools that send (``send_email`` and the three auth kinds).
- ``tools_messages``: reading, waiting for, cancelling and consuming a message.
- ``tools_oversight``: pending approvals, deciding one, the audit log.
- ``tools_mail``: templates, their previews, a sending domain's DNS check.
- ``outputs``: the tools' structured results (their output schemas) and how client
  results become them.
- ``failures``: relay errors as MCP tool errors carrying the stable ``error_code``.
- ``connect``: how a tool call reaches the relay (remote client, or in process).
- ``transport``: the Streamable HTTP app and its DNS-rebinding protection, from settings.
"""
