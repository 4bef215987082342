"""Wire models of the approval routes (``/v1/approvals``, ``/v1/messages/{id}/approve``,
``/v1/messages/{id}/reject``) and the outcome → view function (pure).

Every string is length-capped here, before the core parses it; a reason is checked again
by the core (:func:`authmail_relay.db.approvals.check_reason`), which also requires one
for a rejection (``422 reason_required``), so a missing reason is the core's answer and
not a schema error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..db.approval_batches import ApprovalOutcome
from ..db.approvals import MAX_DECISIONS, MAX_REASON_CHARS
from .fields import MESSAGE_ID_PATTERN, RequestModel
from .schemas import MessageView
from .views import message_view

_REASON = Field(
    None,
    max_length=MAX_REASON_CHARS,
    description="Why (shown in the message's events, webhooks and the audit trail).",
)


class ApproveBody(RequestModel):
    """``POST /v1/messages/{id}/approve`` (the body may be left out)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = _REASON


class RejectBody(RequestModel):
    """``POST /v1/messages/{id}/reject``: a reason is required."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = _REASON


class DecisionItem(RequestModel):
    """One decision of a batch."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=40, json_schema_extra={"pattern": MESSAGE_ID_PATTERN})
    action: Literal["approve", "reject"]
    reason: str | None = _REASON


class DecideBody(RequestModel):
    """``POST /v1/approvals/decide``: up to 100 decisions (a repeated id is decided once)."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[DecisionItem] = Field(min_length=1, max_length=MAX_DECISIONS)


class DecisionResult(BaseModel):
    """What one decision did: ``status`` 200 with the ``message``, or the HTTP status and
    ``error_code`` the single call would have answered."""

    id: str
    status: int
    message: MessageView | None = None
    error_code: str | None = None
    detail: str | None = None


class DecideResult(BaseModel):
    """The outcomes, in the order of the decisions."""

    results: list[DecisionResult]


class ApprovalList(BaseModel):
    """A page of held messages, newest first; pass ``next_cursor`` as ``cursor``."""

    data: list[MessageView]
    next_cursor: str | None


#: The HTTP status of each error code a decision can end with.
_STATUS = {
    "not_found": 404,
    "self_approval": 403,
    "not_held": 409,
    "message_expired": 409,
    "reason_required": 422,
    "validation_error": 422,
}


def decision_result(outcome: ApprovalOutcome) -> DecisionResult:
    if outcome.record is not None:
        return DecisionResult(id=outcome.id, status=200, message=message_view(outcome.record))
    code = outcome.error_code or "conflict"
    return DecisionResult(
        id=outcome.id,
        status=_STATUS.get(code, 409),
        error_code=code,
        detail=(outcome.error or code)[:300],
    )
