"""The compatible routes: ``POST /send``, ``/send/otp``, ``/send/magic-link``,
``/send/password-reset``.

Without ``webhook_url`` the request waits (up to ``SEND_WAIT_SECONDS``) for the SMTP
outcome: ``200 {"sent": true, …}`` once the upstream accepted it, ``502`` with the
documented ``detail`` when it was refused for good, ``202 {"status": "queued"}`` when
the wait ran out first (delivery goes on). With ``webhook_url`` it answers at once
with ``{"status": "accepted"}``. A send held for approval (a gated key, a ``hold`` rule)
answers ``202 {"sent": false, "status": "held", "id": …}`` at once, and one scheduled
for later (``send_at`` ahead) ``202 {"sent": false, "status": "queued", "id": …}``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ..db.idempotency import IdempotencyLink
from ..exceptions import RelayError
from ..mail.message_request import MessageRequest
from ..relay import Relay
from ..vocabulary import Kind, MessageStatus
from .deps import SendCaller, Services, ServicesDep, documented_headers
from .dry_run import dry_run_response, wants_dry_run
from .idempotent import Reply, run_idempotent
from .problems import request_id_of
from .responses import CREATING, problems
from .routing import CountedRoute
from .schemas import (
    DeliveryFailed,
    DryRunResponse,
    LinkRequest,
    OtpRequest,
    SendRequest,
    SendResponse,
)
from .security import Caller

router = APIRouter(tags=["send (compatible)"], route_class=CountedRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SendResponse | DryRunResponse,
        "description": "Sent (or accepted for webhook delivery); with X-Dry-Run, the "
        "payload is valid and nothing was stored.",
    },
    202: {
        "model": SendResponse,
        "description": "Stored and queued: the wait ran out first, or send_at is ahead; "
        "or held for approval.",
    },
    502: {"model": DeliveryFailed, "description": "The upstream SMTP server refused the mail."},
    **problems(*CREATING),
}
_ROUTE: dict[str, Any] = {
    "responses": _RESPONSES,
    # The dry-run answer is a 200 too: the published 200 is either shape.
    "response_model": SendResponse | DryRunResponse,
    "dependencies": [Depends(documented_headers)],
}


@router.post("/send", summary="Send any mail", **_ROUTE)
async def send(
    body: SendRequest, request: Request, caller: SendCaller, services: ServicesDep
) -> Response:
    return await _send(request, caller, services, body, body.to_request())


@router.post("/send/otp", summary="Send a one-time code", **_ROUTE)
async def send_otp(
    body: OtpRequest, request: Request, caller: SendCaller, services: ServicesDep
) -> Response:
    return await _send(request, caller, services, body, body.to_request())


@router.post("/send/magic-link", summary="Send a sign-in link", **_ROUTE)
async def send_magic_link(
    body: LinkRequest, request: Request, caller: SendCaller, services: ServicesDep
) -> Response:
    return await _send(request, caller, services, body, body.to_request(Kind.MAGIC_LINK))


@router.post("/send/password-reset", summary="Send a password-reset link", **_ROUTE)
async def send_password_reset(
    body: LinkRequest, request: Request, caller: SendCaller, services: ServicesDep
) -> Response:
    return await _send(request, caller, services, body, body.to_request(Kind.PASSWORD_RESET))


async def _send(
    request: Request,
    caller: Caller,
    services: Services,
    body: SendRequest | OtpRequest | LinkRequest,
    message: MessageRequest,
) -> Response:
    relay, settings = services.relay, services.settings
    message = stamped(message, request, caller)
    if wants_dry_run(request):
        return await dry_run_response(relay, message)

    async def handle(link: IdempotencyLink | None, recovered: str | None) -> Reply:
        if recovered is not None:
            message_id, status = recovered, (await relay.outbox.get_message(recovered)).status
        else:
            accepted = await relay.submit(message, idempotency=link)
            message_id, status = accepted.id, accepted.status
        if status is MessageStatus.HELD:
            return Reply(202, {"sent": False, "status": "held", "id": message_id})
        if message.webhook_url:
            return Reply(200, {"sent": False, "status": "accepted", "id": message_id})
        if relay.is_scheduled(message):
            # Its send time is ahead: there is no outcome to wait for yet.
            return Reply(202, {"sent": False, "status": "queued", "id": message_id})
        return await _outcome(relay, message_id, settings.send_wait_seconds)

    return await run_idempotent(
        request,
        caller,
        body,
        services.idempotency,
        ttl_seconds=settings.idempotency_ttl_seconds,
        lock_seconds=settings.send_wait_seconds,
        handler=handle,
    )


def stamped(message: MessageRequest, request: Request, caller: Caller) -> MessageRequest:
    """The request with who asked and under which request id."""
    return replace(
        message,
        request_id=request_id_of(request),
        api_key_id=caller.key_id,
        allowed_senders=caller.allowed_senders,
        extra_link_origins=caller.allowed_origins,
        oversight=caller.oversight,
    )


async def _outcome(relay: Relay, message_id: str, wait_seconds: float) -> Reply:
    """Wait for the SMTP outcome and describe it in the compatible shape."""
    try:
        record = await relay.wait_for_outcome(message_id, wait_seconds)
    except RelayError:
        # The message is stored; only the wait failed. Delivery goes on.
        return Reply(202, {"sent": False, "status": "queued", "id": message_id})
    if record.status is MessageStatus.SENT:
        return Reply(200, {"sent": True, "message_id": record.message_id, "id": record.id})
    if record.status in (MessageStatus.FAILED, MessageStatus.EXPIRED):
        code = record.last_error_code.value if record.last_error_code else "unknown"
        detail = {"error_code": code, "message": record.last_error_message or code, "id": record.id}
        return Reply(502, {"detail": detail})
    return Reply(202, {"sent": False, "status": "queued", "id": record.id})
