"""Liveness and readiness probes (no authentication: they reveal nothing)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..db import is_current
from ..db.write_health import write_health
from ..exceptions import RelayError
from .deps import RelayDep
from .routing import CountedRoute
from .schemas import Health, Readiness

router = APIRouter(tags=["health"], route_class=CountedRoute)
#: A worker whose loop has not turned for this long (plus its poll interval) is stuck.
HEARTBEAT_GRACE_SECONDS = 10.0


@router.get("/health", response_model=Health, summary="Liveness: the process answers (no I/O)")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A check failed; see checks."}},
    summary="Readiness: database reachable, schema current, embedded worker and webhook "
    "dispatcher alive",
)
async def ready(request: Request, relay: RelayDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await relay.outbox.db_now_ms()
        # Reads may work while every write fails (a full disk): say so.
        failing = write_health(relay.outbox.engine).failing
        checks["database"] = "write_failing" if failing else "ok"
        checks["migrations"] = "ok" if await is_current(relay.outbox.engine) else "pending"
    except RelayError:
        checks["database"] = "unreachable"
    stale_after = relay.settings.poll_interval_seconds + HEARTBEAT_GRACE_SECONDS
    worker = request.app.state.worker
    if worker is not None:
        fresh = worker.running and time.monotonic() - worker.last_beat < stale_after
        checks["worker"] = "ok" if fresh else "stalled"
    dispatcher = getattr(request.app.state, "webhook_dispatcher", None)
    if dispatcher is not None:
        fresh = time.monotonic() - dispatcher.last_beat < stale_after
        checks["webhooks"] = "ok" if fresh else "stalled"
    ok = all(value == "ok" for value in checks.values())
    if worker is not None:
        # Shown, not judged: with every upstream down the relay still accepts and queues
        # mail durably, which is what a load balancer should keep sending it.
        for upstream in worker.upstreams.status():
            state = upstream["state"]
            checks[f"upstream {upstream['upstream']}"] = "ok" if state == "closed" else state
    body = Readiness(status="ready" if ok else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
