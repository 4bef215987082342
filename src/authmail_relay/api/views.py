"""Stored records → wire models (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

from ..db.outbox import EventRecord, MessageRecord, StoredAttempt
from ..oversight.chain import AuditEntry
from ..relay import AcceptedMessage
from .schemas import Accepted, EventView, MessageAttemptView, MessageView, TrailEntryView


def iso(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC, e.g. ``2026-11-21T12:00:00.123Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_or_none(ms: int | None) -> str | None:
    return None if ms is None else iso(ms)


def accepted_view(accepted: AcceptedMessage | MessageRecord) -> Accepted:
    return Accepted(
        id=accepted.id,
        status=accepted.status.value,
        message_id=accepted.message_id,
        created_at=iso(accepted.created_at),
    )


def message_view(
    record: MessageRecord,
    events: list[EventRecord] | None = None,
    attempts: list[StoredAttempt] | None = None,
    trail: list[AuditEntry] | None = None,
) -> MessageView:
    return MessageView(
        id=record.id,
        kind=record.kind.value,
        status=record.status.value,
        priority=record.priority.value,
        message_id=record.message_id,
        subject=record.subject,
        recipients=list(record.recipients),
        tags=list(record.tags),
        metadata=dict(record.meta),
        request_id=record.request_id,
        created_at=iso(record.created_at),
        updated_at=iso(record.updated_at),
        next_attempt_at=iso_or_none(record.next_attempt_at),
        expires_at=iso_or_none(record.expires_at),
        sent_at=iso_or_none(record.sent_at),
        attempt_count=record.attempt_count,
        last_error_code=None if record.last_error_code is None else record.last_error_code.value,
        last_error_message=record.last_error_message,
        events=None if events is None else [_event(e) for e in events],
        attempts=None if attempts is None else [_attempt(a) for a in attempts],
        decided_at=iso_or_none(record.decided_at),
        decided_by=record.decided_by,
        decision_reason=record.decision_reason,
        unused_at=iso_or_none(record.unused_at),
        trail=None if trail is None else [_trail_entry(e) for e in trail],
    )


def _trail_entry(entry: AuditEntry) -> TrailEntryView:
    return TrailEntryView(
        seq=entry.seq,
        at=iso(entry.at),
        actor=entry.actor,
        action=entry.action,
        data=dict(entry.data),
    )


def _event(event: EventRecord) -> EventView:
    return EventView(
        type=event.type.value,
        status=event.status.value,
        created_at=iso(event.created_at),
        data=dict(event.data),
    )


def _attempt(attempt: StoredAttempt) -> MessageAttemptView:
    return MessageAttemptView(
        number=attempt.number,
        started_at=iso(attempt.started_at),
        finished_at=iso(attempt.finished_at),
        upstream=attempt.upstream,
        result=attempt.result.value,
        error_code=None if attempt.error_code is None else attempt.error_code.value,
        smtp_code=attempt.smtp_code,
        smtp_reply=attempt.smtp_reply,
        ambiguous=attempt.ambiguous,
    )
