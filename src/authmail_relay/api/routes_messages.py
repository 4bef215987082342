"""The v1 resource API: ``/v1/messages``.

``POST`` answers ``202`` as soon as the message is committed (delivery is the worker's
job); ``GET`` shows status, events and attempts (never bodies, tokens or codes);
``cancel`` withdraws a message that is still waiting; ``consume`` records that the link
or code it carried was used. ``GET /v1/messages/{id}?wait=S`` is a long poll: it answers
once the message's status ends a wait (:attr:`MessageStatus.ends_wait`) or after ``S``
seconds, with the message as it then is.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from ..db.idempotency import IdempotencyLink
from ..mail.message_request import MAX_TAG_LENGTH
from ..mail.validation import MAX_ADDRESS_OCTETS, parse_mailbox
from ..vocabulary import MessageStatus
from .batch import BatchRun, EntryKeys
from .deps import ReadCaller, RelayDep, SendCaller, ServicesDep, documented_headers
from .dry_run import dry_run_response, wants_dry_run
from .fields import MessageCursor, check_message_cursor
from .idempotent import Reply, request_hash, run_idempotent
from .responses import AUTHENTICATED, CREATING, problems
from .routes_send import stamped
from .routing import CountedRoute
from .schemas import (
    Accepted,
    BatchCreate,
    BatchResult,
    DryRunResponse,
    MessageCreate,
    MessageList,
    MessageView,
)
from .views import accepted_view, message_view

router = APIRouter(prefix="/v1/messages", tags=["messages"], route_class=CountedRoute)
MAX_PAGE = 200
#: The longest long poll of ``GET /v1/messages/{id}?wait=``, in seconds.
MAX_WAIT_SECONDS = 120
#: How long one batch entry holds its own key while it is being stored: well inside the
#: batch's own lock, so a run that takes a dead batch over finds its entries unlocked.
BATCH_ENTRY_LOCK_MS = 10_000


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
        return await dry_run_response(relay, message)

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
    run = BatchRun(services.relay, request, caller, wants_dry_run(request))
    # Up to 100 entries: hashed once, for the batch's key and its entries' keys.
    batch_hash = functools.cache(lambda: request_hash(request, body))

    async def handle(link: IdempotencyLink | None, recovered: str | None) -> Reply:
        if link is not None:
            ttl_ms = int(services.settings.idempotency_ttl_seconds * 1000)
            run.keys = EntryKeys(
                services.idempotency,
                link,
                batch_hash(),
                ttl_ms=ttl_ms,
                # A lock may not outlive its key (the store refuses that): short TTLs.
                lock_ms=min(ttl_ms, BATCH_ENTRY_LOCK_MS),
            )
        results = [await run.entry(index, item) for index, item in enumerate(body.messages)]
        return Reply(200, BatchResult(results=results).model_dump(exclude_none=True))

    if run.dry_run:
        return (await handle(None, None)).response()
    return await run_idempotent(
        request,
        caller,
        body,
        services.idempotency,
        ttl_seconds=services.settings.idempotency_ttl_seconds,
        lock_seconds=0,
        handler=handle,
        keep_key=lambda: run.committed,
        digest=batch_hash,
    )


@router.get(
    "", response_model=MessageList, responses=problems(*AUTHENTICATED, 422), summary="List messages"
)
async def list_messages(
    caller: ReadCaller,
    relay: RelayDep,
    status: Annotated[MessageStatus | None, Query(description="Only this status.")] = None,
    tag: Annotated[
        str | None, Query(max_length=MAX_TAG_LENGTH, description="Only messages with this tag.")
    ] = None,
    to: Annotated[
        str | None,
        Query(max_length=MAX_ADDRESS_OCTETS, description="Only messages to this address."),
    ] = None,
    created_after: Annotated[datetime | None, Query(description="RFC 3339 time.")] = None,
    created_before: Annotated[datetime | None, Query(description="RFC 3339 time.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: MessageCursor = None,
) -> MessageList:
    check_message_cursor(cursor)
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
    responses=problems(*AUTHENTICATED, 404, 422),
    summary="One message; with wait, once its status ends the wait",
)
async def get_message(
    message_id: str,
    caller: ReadCaller,
    relay: RelayDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            allow_inf_nan=False,
            description="Long poll: answer once the status is terminal or held, or after "
            "this many seconds (0, the default: at once).",
        ),
    ] = 0,
) -> MessageView:
    if wait > 0:
        # Reads the message now and then; holds no database connection meanwhile.
        await relay.wait_for_outcome(
            message_id, wait, until=lambda status: status.ends_wait, read_first=True
        )
    details = await relay.get_message(message_id)
    return message_view(details.message, details.events, details.attempts, details.trail)


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
