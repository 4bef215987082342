"""The HTTP service: ``create_app(settings)`` builds the FastAPI application.

The app is a thin adapter over :class:`~authmail_relay.relay.Relay`: routes translate
HTTP to core calls and core exceptions to problem+json (see :mod:`.problems`). With
``run_worker`` (the default of ``serve``) a delivery worker runs inside the same
process and event loop, and wakes the moment a message is accepted; it, the webhook
dispatcher and the wake-ups are started and stopped by the lifespan through
:mod:`authmail_relay.background`, after uvicorn has finished the requests in flight.

Documented in docs/api.md. FastAPI, Starlette and pydantic are imported only in this room.

Code map:

- ``routes_send``: the compatible routes (``/send``, ``/send/otp``, ``/send/magic-link``, …).
- ``routes_messages``: ``/v1/messages``; ``batch``: ``POST /v1/messages/batch``.
- ``routes_approvals``: ``/v1/approvals`` and approving or rejecting a held message;
  ``schemas_approvals``: its wire models.
- ``routes_webhooks``, ``routes_keys``, ``routes_domains``, ``routes_templates``: the other
  ``/v1`` resources; ``routes_health``: ``/health`` and ``/ready``; ``routes_dev``: the dev
  inbox.
- ``routes_audit``, ``schemas_audit``: ``/v1/audit``, the audit trail and its verification,
  and their wire models.
- ``routes_rules``, ``schemas_rules``: ``/v1/approval-rules`` and its wire models.
- ``schemas``, ``schemas_keys``, ``schemas_webhooks``: wire models (pydantic); ``fields``:
  the bounded field types they are built from; ``views``: stored records → wire models.
- ``deps``: dependencies (the relay, the settings, the caller); ``security``: Bearer key
  checks and the failure throttle; ``routing``: the route class that adds rate-limit
  headers.
- ``problems``: errors as problem+json, the one place HTTP statuses are chosen;
  ``responses``: the OpenAPI description of every status.
- ``mcp_gate``: ``/mcp``, the MCP endpoint (:mod:`authmail_relay.mcp`) behind the Bearer
  key check, when ``MCP_ENABLED`` is on.
- ``idempotent``: ``Idempotency-Key``; ``dry_run``: ``X-Dry-Run``; ``middleware``: request
  ids and the body cap.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI

from .. import __version__
from ..background import background_work
from ..db.api_keys_store import ApiKeyStore
from ..db.idempotency import IdempotencyStore
from ..db.rules_store import RulesStore
from ..db.webhook_store import WebhookStore
from ..relay import Relay
from ..settings import Settings
from ..vocabulary import Scope
from . import (
    routes_approvals,
    routes_audit,
    routes_dev,
    routes_domains,
    routes_health,
    routes_keys,
    routes_messages,
    routes_rules,
    routes_send,
    routes_templates,
    routes_webhooks,
)
from .deps import require
from .mcp_gate import mount_mcp
from .middleware import BodyLimitMiddleware, RequestIdMiddleware
from .problems import install_handlers
from .security import FailureThrottle, KeyChecker


def create_app(
    settings: Settings,
    *,
    relay: Relay | None = None,
    run_worker: bool = True,
    dev_inbox: Path | None = None,
) -> FastAPI:
    """The application. ``relay`` may be passed already open (the CLI opens it first so
    start-up errors are one line); otherwise the app opens and closes its own."""
    api_key = settings.require_api_key()
    smtp = settings.require_smtp() if run_worker else None
    owned_relay = relay is None
    the_relay = relay or Relay(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned_relay:
            await the_relay.open()
        app.state.idempotency = IdempotencyStore(the_relay.outbox.engine)
        app.state.api_keys = ApiKeyStore(the_relay.outbox.engine)
        app.state.key_checker.store = app.state.api_keys
        app.state.rules = RulesStore(the_relay.outbox.engine)
        app.state.webhooks = WebhookStore.from_settings(
            the_relay.outbox.engine, settings, keys=the_relay.outbox.keys
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                if mcp_lifespan is not None:
                    await stack.enter_async_context(mcp_lifespan())
                if smtp is None:
                    yield
                    return
                # The worker, webhook dispatcher and wake-ups, stopped in one order after
                # uvicorn has finished the requests in flight (see authmail_relay.background).
                async with background_work(the_relay, settings, smtp=smtp) as work:
                    app.state.worker = work.worker
                    app.state.webhook_dispatcher = work.dispatcher
                    yield
        finally:
            if owned_relay:
                await the_relay.close()

    app = FastAPI(
        title="authmail-relay",
        version=__version__,
        description="Self-hosted auth-email relay. Every error is application/problem+json "
        "with a stable error_code; see docs/api.md.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.relay = the_relay
    app.state.key_checker = KeyChecker(
        api_key,
        FailureThrottle(settings.auth_failure_limit),
        allowed_senders=settings.allowed_senders,
        oversight=settings.oversight_default,
    )
    app.state.dev_inbox = dev_inbox
    app.state.worker = None
    app.state.webhook_dispatcher = None
    install_handlers(app)
    app.include_router(routes_health.router)
    app.include_router(routes_send.router)
    app.include_router(routes_messages.router)
    app.include_router(routes_approvals.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_templates.router)
    # GET /v1/domains/… reads: the read scope (see docs/security.md).
    app.include_router(routes_domains.router, dependencies=[Depends(require(Scope.READ))])
    app.include_router(routes_keys.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_rules.router)
    if dev_inbox is not None:
        app.include_router(routes_dev.router)
    # /mcp, only when asked for: the [mcp] extra is optional (see api.mcp_gate).
    mcp_lifespan = mount_mcp(app) if settings.mcp_enabled else None
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)  # added last: runs first
    return app
