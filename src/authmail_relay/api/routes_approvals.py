"""The approval routes: list held messages, approve or reject one, decide a batch.

Every route needs the ``approve`` scope. The approver is the calling key (its id is what
the core records as ``decided_by`` and as the actor of the event and audit entry); a key
never decides on a message it sent itself (``403 self_approval``, checked by the core).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from ..db.approval_batches import ApprovalDecision
from ..exceptions import NotFoundError
from ..ids import is_message_id
from ..mail.message_request import MAX_TAG_LENGTH
from ..vocabulary import Kind, Scope
from .deps import RelayDep, require
from .fields import MessageCursor, check_message_cursor
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute
from .schemas import MessageView
from .schemas_approvals import (
    ApprovalList,
    ApproveBody,
    DecideBody,
    DecideResult,
    RejectBody,
    decision_result,
)
from .security import Caller
from .views import message_view

router = APIRouter(tags=["approvals"], route_class=CountedRoute)
ApproveCaller = Annotated[Caller, Depends(require(Scope.APPROVE))]
MAX_PAGE = 200
#: The longest hold the ``older_than`` filter takes (a year, in seconds).
MAX_OLDER_THAN = 366 * 86400
_DECIDING = problems(*AUTHENTICATED, 400, 404, 409, 422)


def _known(message_id: str) -> str:
    """A 404 for anything that is not a message id, before the database is asked."""
    if not is_message_id(message_id):
        raise NotFoundError("no such message")
    return message_id


@router.get(
    "/v1/approvals",
    response_model=ApprovalList,
    responses=problems(*AUTHENTICATED, 422),
    summary="Held messages waiting for a decision, newest first",
)
async def list_approvals(
    caller: ApproveCaller,
    relay: RelayDep,
    key: Annotated[
        str | None, Query(max_length=64, description="Only messages sent with this key id.")
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only this kind.")] = None,
    tag: Annotated[
        str | None, Query(max_length=MAX_TAG_LENGTH, description="Only messages with this tag.")
    ] = None,
    older_than: Annotated[
        int | None,
        Query(ge=0, le=MAX_OLDER_THAN, description="Only messages held at least this long (s)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: MessageCursor = None,
) -> ApprovalList:
    check_message_cursor(cursor)
    records = await relay.list_held(
        api_key_id=key,
        kind=kind,
        tag=tag,
        older_than_ms=None if older_than is None else older_than * 1000,
        limit=limit,
        before_id=cursor,
    )
    next_cursor = records[-1].id if len(records) == limit else None
    return ApprovalList(data=[message_view(r) for r in records], next_cursor=next_cursor)


@router.post(
    "/v1/messages/{message_id}/approve",
    response_model=MessageView,
    responses=_DECIDING,
    summary="Approve a held message (it is queued for delivery)",
)
async def approve_message(
    message_id: str,
    caller: ApproveCaller,
    relay: RelayDep,
    body: Annotated[ApproveBody | None, Body()] = None,
) -> MessageView:
    reason = None if body is None else body.reason
    return message_view(await relay.approve(_known(message_id), caller.key_id, reason))


@router.post(
    "/v1/messages/{message_id}/reject",
    response_model=MessageView,
    responses=_DECIDING,
    summary="Reject a held message (never sent); a reason is required",
)
async def reject_message(
    message_id: str,
    caller: ApproveCaller,
    relay: RelayDep,
    body: Annotated[RejectBody | None, Body()] = None,
) -> MessageView:
    # No body or no reason: the core's 422 reason_required.
    reason = "" if body is None or body.reason is None else body.reason
    return message_view(await relay.reject(_known(message_id), caller.key_id, reason))


@router.post(
    "/v1/approvals/decide",
    response_model=DecideResult,
    responses=problems(*AUTHENTICATED, 400, 422),
    summary="Approve or reject up to 100 held messages; each gets its own result",
)
async def decide(body: DecideBody, caller: ApproveCaller, relay: RelayDep) -> DecideResult:
    decisions = [ApprovalDecision(item.id, item.action, item.reason) for item in body.decisions]
    outcomes = await relay.decide_many(decisions, caller.key_id)
    return DecideResult(results=[decision_result(outcome) for outcome in outcomes])
