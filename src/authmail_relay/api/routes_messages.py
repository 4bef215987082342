"""The v1 resource API: ``/v1/messages``.

``POST`` answers ``202`` as soon as the message is committed (delivery is the worker's
job); ``GET`` shows status, events and attempts (never bodies, tokens or codes);
``cancel`` withdraws a message that is still waiting; ``consume`` records that the link
or code it carried was used.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Query, Request, Response

from ..exceptions import RelayError, ValidationError
from ..idempotency import IdempotencyLink
from ..ids import is_message_id
from ..relay import Relay
from ..validation import parse_mailbox
from ..vocabulary import MessageStatus
from .deps import ReadCaller, RelayDep, SendCaller, ServicesDep, documented_headers
from .dry_run import dry_run_response, wants_dry_run
from .idempotent import Reply, run_idempotent
from .problems import problem_for, request_id_of
from .responses import AUTHENTICATED, CREATING, problems
from .routes_send import stamped
from .routing import CountedRoute
from .schemas import (
    Accepted,
    BatchCreate,
    BatchItem,
    BatchResult,
    DryRunResponse,
    MessageCreate,
    MessageList,
    MessageView,
)
from .security import Caller
from .views import accepted_view, message_view

router = APIRouter(prefix="/v1/messages", tags=["messages"], route_class=CountedRoute)
MAX_PAGE = 200


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses={
        200: {"model": DryRunResponse, "description": "X-Dry-Run: valid, nothing stored."},
        **problems(*CREATING),
    },
    dependencies=[Depends(documented_headers)],
    summary="Queue a message",
)
async def create_message(
    body: MessageCreate, request: Request, caller: SendCaller, services: ServicesDep
) -> Response:
    relay = services.relay
    message = stamped(body.to_request(), request, caller)
    if wants_dry_run(request):
        return dry_run_response(relay, message)

    async def handle(link: IdempotencyLink | None, recovered: str | None) -> Reply:
        if recovered is not None:
            view = accepted_view(await relay.outbox.get_message(recovered))
        else:
            view = accepted_view(await relay.submit(message, idempotency=link))
        return Reply(202, view.model_dump())

    return await run_idempotent(
        request,
        caller,
        body,
        services.idempotency,
        ttl_seconds=services.settings.idempotency_ttl_seconds,
        lock_seconds=0,
        handler=handle,
    )


@router.post(
    "/batch",
    response_model=BatchResult,
    responses=problems(*CREATING),
    dependencies=[Depends(documented_headers)],
    summary="Queue up to 100 messages; each gets its own result",
)
async def create_batch(
    body: BatchCreate, request: Request, caller: SendCaller, services: ServicesDep
) -> Response:
    dry_run = wants_dry_run(request)

    async def handle(link: IdempotencyLink | None, recovered: str | None) -> Reply:
        results = [
            await _batch_item(index, item, request, caller, services.relay, dry_run)
            for index, item in enumerate(body.messages)
        ]
        return Reply(200, BatchResult(results=results).model_dump(exclude_none=True))

    if dry_run:
        return (await handle(None, None)).response()
    return await run_idempotent(
        request,
        caller,
        body,
        services.idempotency,
        ttl_seconds=services.settings.idempotency_ttl_seconds,
        lock_seconds=0,
        handler=handle,
    )


async def _batch_item(
    index: int,
    item: dict[str, Any],
    request: Request,
    caller: Caller,
    relay: Relay,
    dry_run: bool,
) -> BatchItem:
    """Validate and store (or, on a dry run, only render) one batch entry."""
    try:
        parsed = MessageCreate.model_validate(item)
        message = stamped(parsed.to_request(), request, caller)
        if dry_run:
            relay.render(message)
            return BatchItem(index=index, status=200)
        accepted = await relay.submit(message)
    except pydantic.ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
        error: RelayError = ValidationError(f"invalid fields: {fields}", field=fields or "body")
    except RelayError as exc:
        error = exc
    else:
        return BatchItem(index=index, status=202, message=accepted_view(accepted))
    response = problem_for(error, request_id_of(request))
    problem = json.loads(bytes(response.body))
    return BatchItem(index=index, status=response.status_code, problem=problem)


@router.get(
    "", response_model=MessageList, responses=problems(*AUTHENTICATED, 422), summary="List messages"
)
async def list_messages(
    caller: ReadCaller,
    relay: RelayDep,
    status: Annotated[MessageStatus | None, Query(description="Only this status.")] = None,
    tag: Annotated[
        str | None, Query(max_length=64, description="Only messages with this tag.")
    ] = None,
    to: Annotated[
        str | None, Query(max_length=320, description="Only messages to this address.")
    ] = None,
    created_after: Annotated[datetime | None, Query(description="RFC 3339 time.")] = None,
    created_before: Annotated[datetime | None, Query(description="RFC 3339 time.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="next_cursor of the previous page.")
    ] = None,
) -> MessageList:
    if cursor is not None and not is_message_id(cursor):
        raise ValidationError("cursor is not one this API returned", field="cursor")
    records = await relay.outbox.list_messages(
        status=status,
        tag=tag,
        recipient=None if to is None else parse_mailbox(to, field="to").address,
        created_after=_ms(created_after),
        created_before=_ms(created_before),
        limit=limit,
        before_id=cursor,
    )
    next_cursor = records[-1].id if len(records) == limit else None
    return MessageList(data=[message_view(r) for r in records], next_cursor=next_cursor)


@router.get(
    "/{message_id}",
    response_model=MessageView,
    responses=problems(*AUTHENTICATED, 404),
    summary="One message",
)
async def get_message(message_id: str, caller: ReadCaller, relay: RelayDep) -> MessageView:
    details = await relay.get_message(message_id)
    return message_view(details.message, details.events, details.attempts)


@router.post(
    "/{message_id}/cancel",
    response_model=MessageView,
    responses=problems(*AUTHENTICATED, 404, 409),
    summary="Withdraw a queued or deferred message",
)
async def cancel_message(message_id: str, caller: SendCaller, relay: RelayDep) -> MessageView:
    return message_view(await relay.cancel(message_id))


@router.post(
    "/{message_id}/consume",
    response_model=MessageView,
    responses=problems(*AUTHENTICATED, 404, 409),
    summary="Record that the link or code in a sent message was used",
)
async def consume_message(message_id: str, caller: SendCaller, relay: RelayDep) -> MessageView:
    return message_view(await relay.consume(message_id))


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)
