"""Deciding many held messages at once (``Outbox.decide_many``).

Each decision of a batch is made on its own, with the single call of
:mod:`authmail_relay.db.approvals` (its own transaction, its own guard), so one that
fails leaves the others untouched, and the outcome of each says what the single call
would have answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RelayError,
    ValidationError,
)
from .approvals import MAX_DECISIONS, approve, reject
from .outbox_records import MessageRecord
from .outbox_writer import OutboxWriter

__all__ = ["ApprovalDecision", "ApprovalOutcome", "check_batch", "decide_many"]


@dataclass(frozen=True)
class ApprovalDecision:
    """One entry of a batch: ``approve`` or ``reject`` (which needs a reason)."""

    id: str
    action: str
    reason: str | None = None


@dataclass(frozen=True)
class ApprovalOutcome:
    """What one decision of a batch did: the message as it now is, or why not
    (``error_code`` as the single call would have answered, and a short message)."""

    id: str
    record: MessageRecord | None = None
    error_code: str | None = None
    error: str | None = None


def check_batch(decisions: Sequence[ApprovalDecision]) -> None:
    """ValidationError (field ``decisions``) for an empty batch, more than
    :data:`MAX_DECISIONS`, or an action other than approve/reject."""
    if not 1 <= len(decisions) <= MAX_DECISIONS:
        raise ValidationError(f"decisions: 1 to {MAX_DECISIONS} entries", field="decisions")
    if any(d.action not in ("approve", "reject") for d in decisions):
        raise ValidationError("decisions: action is approve or reject", field="decisions")


async def decide_many(
    writer: OutboxWriter, decisions: Sequence[ApprovalDecision], actor: str
) -> list[ApprovalOutcome]:
    """Each decision in its own transaction, in order; one failing does not stop the rest.
    An id that appeared earlier in the batch is not decided again: its outcome is
    ``validation_error``. A StorageError stops the batch (what was decided before it
    stays decided)."""
    check_batch(decisions)
    outcomes = []
    seen: set[str] = set()
    for decision in decisions:
        if decision.id in seen:
            repeated = "this id appears earlier in the batch; it was decided there"
            outcomes.append(
                ApprovalOutcome(decision.id, error_code="validation_error", error=repeated)
            )
            continue
        seen.add(decision.id)
        try:
            if decision.action == "approve":
                record = await approve(writer, decision.id, actor, decision.reason)
            else:
                record = await reject(writer, decision.id, actor, decision.reason or "")
        except (NotFoundError, ConflictError, PermissionDeniedError, ValidationError) as exc:
            outcomes.append(ApprovalOutcome(decision.id, error_code=_code(exc), error=exc.message))
        else:
            outcomes.append(ApprovalOutcome(decision.id, record=record))
    return outcomes


def _code(exc: RelayError) -> str:
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, ValidationError):
        return exc.error_code or "validation_error"
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) else "conflict"
