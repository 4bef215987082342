"""``Idempotency-Key`` handling for the create routes.

The first request with a key runs; its response is stored for ``IDEMPOTENCY_TTL_SECONDS``
per API key. The same key with the same body replays that response (with
``Idempotent-Replayed: true``); with a different body it is a ``422``; while the first is
still running it is a ``409``. A request that failed before storing anything forgets the
key, so the client's retry runs normally; one that stored something keeps it. If the
process handling the first request died after storing its message, the next request
with the key takes over and answers for that message instead of creating a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..db.idempotency import (
    IdempotencyLink,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Recovered,
    Replay,
    Started,
)
from .problems import problem, request_id_of
from .security import Caller

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
#: How long past the send wait a running request keeps its key locked.
LOCK_MARGIN_SECONDS = 30


@dataclass
class Reply:
    """A response body and status, in a form that can be stored and replayed."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


#: The work to do once the key is owned: ``(link, recovered_message_id) -> Reply``.
Handler = Callable[[IdempotencyLink | None, str | None], Awaitable[Reply]]


def request_hash(request: Request, body: BaseModel) -> str:
    """SHA-256 over the route and the request as parsed (key order does not matter)."""
    canonical = json.dumps(
        body.model_dump(mode="json", by_alias=True, exclude_none=True),
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


async def run_idempotent(
    request: Request,
    caller: Caller,
    body: BaseModel,
    store: IdempotencyStore,
    *,
    ttl_seconds: float,
    lock_seconds: float,
    handler: Handler,
    keep_key: Callable[[], bool] = lambda: False,
    digest: Callable[[], str] | None = None,
) -> Response:
    """Run ``handler`` at most once per ``Idempotency-Key`` (or simply run it without one).

    ``digest()`` gives the request's hash when the caller needs it too (a batch keys its
    entries by it), so a large body is hashed once; by default :func:`request_hash`.

    If ``handler`` raises, the key is forgotten so a retry runs again — unless
    ``keep_key()`` says something was stored all the same (a batch whose earlier entries
    committed): then the key stays locked until its lock runs out, and the run that takes
    it over answers the stored parts instead of storing them again.
    """
    key = request.headers.get(HEADER)
    if key is None or not key.strip():
        return (await handler(None, None)).response()
    key = key.strip()
    request_id = request_id_of(request)
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        detail = f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
        return problem(400, "invalid_idempotency_key", detail, request_id=request_id)
    ttl_ms = int(ttl_seconds * 1000)
    begun = await store.begin(
        caller.key_id,
        key,
        request_hash(request, body) if digest is None else digest(),
        ttl_ms=ttl_ms,
        lock_ms=min(ttl_ms, int((lock_seconds + LOCK_MARGIN_SECONDS) * 1000)),
    )
    if isinstance(begun, Replay):
        headers = {**begun.headers, "Idempotent-Replayed": "true"}
        return Response(
            begun.body, status_code=begun.status, headers=headers, media_type="application/json"
        )
    if isinstance(begun, Mismatch):
        detail = f"this {HEADER} was used with a different request"
        return problem(422, "idempotency_key_mismatch", detail, request_id=request_id)
    if isinstance(begun, InFlight):
        detail = f"a request with this {HEADER} is still being processed"
        return problem(409, "idempotency_key_in_use", detail, request_id=request_id)
    assert isinstance(begun, Started | Recovered)
    recovered = begun.message_id if isinstance(begun, Recovered) else None
    try:
        reply = await handler(begun.link, recovered)
    except BaseException:
        if recovered is None and not keep_key():
            await store.abandon(begun.link)
        raise
    await store.complete(
        begun.link, status=reply.status, body=json.dumps(reply.body), headers=reply.headers
    )
    return reply.response()
