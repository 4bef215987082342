"""The HTTP service: ``create_app(settings)`` builds the FastAPI application.

The app is a thin adapter over :class:`~authmail_relay.relay.Relay`: routes translate
HTTP to core calls and core exceptions to problem+json (see :mod:`.problems`). With
``run_worker`` (the default of ``serve``) a delivery worker runs inside the same
process and event loop, and wakes the moment a message is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI

from .. import __version__
from ..db.api_keys_store import ApiKeyStore
from ..db.idempotency import IdempotencyStore
from ..db.wakeups import WakeupListener
from ..db.webhook_queue import WebhookQueue
from ..db.webhook_store import WebhookStore
from ..relay import Relay
from ..settings import Settings
from ..vocabulary import Scope
from ..webhooks.dispatcher import WebhookDispatcher
from ..worker import Worker
from . import (
    routes_dev,
    routes_domains,
    routes_health,
    routes_keys,
    routes_messages,
    routes_send,
    routes_templates,
    routes_webhooks,
)
from .deps import require
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
        app.state.webhooks = WebhookStore.from_settings(
            the_relay.outbox.engine, settings, keys=the_relay.outbox.keys
        )
        worker_task: asyncio.Task[None] | None = None
        dispatcher_task: asyncio.Task[None] | None = None
        # Messages stored by other processes wake the worker too (PostgreSQL only).
        wakeups = WakeupListener(settings.database_url, the_relay.new_work)
        if smtp is not None:
            worker = Worker(
                the_relay.outbox,
                smtp,
                settings,
                wake=the_relay.new_work,
                on_finished=the_relay.notify_finished,
                urgency=the_relay.urgency,
            )
            app.state.worker = worker
            worker_task = asyncio.create_task(worker.run(), name="authmail-relay worker")
            # Webhook deliveries go out from the process that runs the worker.
            dispatcher = WebhookDispatcher(
                WebhookQueue(the_relay.outbox.engine, keys=the_relay.outbox.keys),
                settings,
                worker_id=worker.worker_id,
                wake=the_relay.outbox.webhooks_due,
            )
            app.state.webhook_dispatcher = dispatcher
            dispatcher_task = asyncio.create_task(dispatcher.run(), name="authmail-relay webhooks")
            await wakeups.start()
        try:
            yield
        finally:
            if dispatcher_task is not None:
                app.state.webhook_dispatcher.stop()
            if worker_task is not None:
                app.state.worker.stop()
                await worker_task
            if dispatcher_task is not None:
                await dispatcher_task
            await wakeups.close()
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
    )
    app.state.dev_inbox = dev_inbox
    app.state.worker = None
    app.state.webhook_dispatcher = None
    install_handlers(app)
    app.include_router(routes_health.router)
    app.include_router(routes_send.router)
    app.include_router(routes_messages.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_templates.router)
    # GET /v1/domains/… reads: the read scope (see docs/security.md).
    app.include_router(routes_domains.router, dependencies=[Depends(require(Scope.READ))])
    app.include_router(routes_keys.router)
    if dev_inbox is not None:
        app.include_router(routes_dev.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)  # added last: runs first
    return app
