"""The values that go into and come out of the outbox.

All timestamps are integer milliseconds since the Unix epoch (UTC), on the database clock.
Records are immutable snapshots; reading one again may give a newer state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ValidationError
from ..vocabulary import ErrorCode, EventType, Kind, MessageStatus, OversightMode, Priority

__all__ = [
    "AttemptRecord",
    "Claim",
    "EventRecord",
    "MessageRecord",
    "NewMessage",
    "StoredAttempt",
]


@dataclass(frozen=True)
class NewMessage:
    """A message to store. ``raw`` is exactly what will go over SMTP after ``DATA``.

    Relative times are resolved against the database clock when the message is stored:
    ``expires_at = now + expires_in_ms`` (``None``: never expires). ``send_at_ms`` is an
    absolute time before which the message is not handed to a worker (``None`` or a past
    time: due at once); a future one at or after ``expires_at`` is refused
    (ValidationError, field ``send_at``). ``give_up_at = max(now, send_at_ms) +
    max_age_ms``: the retry window opens when the message becomes due.

    ``webhook_url`` and ``webhook_secret`` say where to report the message's progress; a
    secret needs a URL. Neither is ever read back into a :class:`MessageRecord` (it only
    says ``has_webhook``). ``api_key_id`` is an opaque fingerprint of the API key that
    created the message, never the key itself. ``oversight`` is that key's mode: with the
    approval rules it decides whether the message is stored ``queued`` or ``held``
    (:func:`authmail_relay.oversight.rules.decide_intake`); ``read_only`` is refused.
    """

    id: str
    kind: Kind
    priority: Priority
    sender: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    raw: bytes
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    expires_in_ms: int | None = None
    max_age_ms: int = 86_400_000
    send_at_ms: int | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    api_key_id: str | None = None
    oversight: OversightMode = OversightMode.AUTONOMOUS


@dataclass(frozen=True)
class Claim:
    """A message leased to one worker until ``lease_expires_at``.

    ``lease_token`` proves ownership: every later call for this claim is refused once
    another worker has taken the message over. ``attempt_number`` is the number of the
    attempt about to be made. ``reclaimed`` is true when the message was taken over from a
    worker whose lease had expired (it died or stalled, possibly mid-send).
    """

    id: str
    lease_token: str
    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    message_id: str
    priority: Priority
    attempt_number: int
    created_at: int
    expires_at: int | None
    give_up_at: int
    claimed_at: int
    lease_expires_at: int
    reclaimed: bool
    #: The worker holding the lease (the ``worker_id`` passed to ``claim``).
    worker_id: str = ""


@dataclass(frozen=True)
class AttemptRecord:
    """What a worker observed during one SMTP attempt.

    ``started_at``/``finished_at`` are epoch milliseconds; take them from the database
    clock (``Outbox.db_now_ms()`` or ``claimed_at`` plus monotonic elapsed time) so they
    compare with the outbox's own timestamps. ``smtp_reply`` is cut to 500 characters
    when stored. ``refused`` lists recipients the server refused on a partial send; they
    are not stored, only reported (hashed) to webhooks.
    """

    started_at: int
    finished_at: int
    upstream: str
    error_code: ErrorCode | None = None
    smtp_code: int | None = None
    smtp_reply: str | None = None
    ambiguous: bool = False
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageRecord:
    """A stored message without its body (``size`` is the length of the raw bytes).

    ``has_webhook`` says whether a webhook URL is stored; the URL and its secret are not
    part of the record (both are forgotten after the retention, see
    :mod:`authmail_relay.retention`). ``cancelled_at`` and ``consumed_at`` are set by
    ``Outbox.cancel`` and ``Outbox.consume``. ``raw_purged_at`` is when the stored bytes
    were erased (``size`` still says how many there were).
    """

    id: str
    kind: Kind
    priority: Priority
    status: MessageStatus
    sender: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    size: int
    tags: tuple[str, ...]
    meta: Mapping[str, Any]
    request_id: str | None
    created_at: int
    updated_at: int
    next_attempt_at: int
    expires_at: int | None
    give_up_at: int
    attempt_count: int
    lease_owner: str | None
    lease_expires_at: int | None
    sent_at: int | None
    last_error_code: ErrorCode | None
    last_error_message: str | None
    # Added later; defaults keep constructors that predate them working.
    has_webhook: bool = False
    api_key_id: str | None = None
    cancelled_at: int | None = None
    consumed_at: int | None = None
    raw_purged_at: int | None = None
    #: Oversight: when and by whom (a key id, a rule id ``apr_…``, ``cli``) a held
    #: message was approved or rejected, or a gated one approved by a rule at intake, and
    #: the approver's reason; when a sent auth message was found unused past its expiry.
    decided_at: int | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    unused_at: int | None = None


@dataclass(frozen=True)
class EventRecord:
    """One state change. ``id`` orders all events of all messages."""

    id: int
    message_id: str
    type: EventType
    status: MessageStatus
    created_at: int
    data: Mapping[str, Any]


@dataclass(frozen=True)
class StoredAttempt:
    """An SMTP attempt as read back from the ``attempts`` table.

    :class:`AttemptRecord` is what a worker hands in to be recorded; this is what the
    outbox stored from it, with what only the outbox knows: the row ``id``, the attempt
    ``number``, the ``worker_id``, the ``result`` status, and ``superseded``, which marks
    an attempt reported after the lease was lost.
    """

    id: int
    message_id: str
    number: int
    worker_id: str
    upstream: str
    started_at: int
    finished_at: int
    result: MessageStatus
    error_code: ErrorCode | None
    smtp_code: int | None
    smtp_reply: str | None
    ambiguous: bool
    superseded: bool


def dump_json(value: Any, *, field_name: str) -> str:
    """Compact, key-sorted JSON; ValidationError if *value* cannot be represented."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field_name} must be JSON-serializable", field=field_name) from exc


def load_strings(value: str) -> tuple[str, ...]:
    """Decode a JSON list of strings (recipients, tags)."""
    return tuple(str(item) for item in json.loads(value))


def _error_code(value: str | None) -> ErrorCode | None:
    return None if value is None else ErrorCode(value)


def message_from_row(row: Mapping[Any, Any]) -> MessageRecord:
    """Build a record from a row of ``outbox_queries.MESSAGE_COLUMNS``.

    That is the listed message columns plus the computed ``size`` and ``has_webhook``.
    """
    return MessageRecord(
        id=row["id"],
        kind=Kind(row["kind"]),
        priority=Priority(row["priority"]),
        status=MessageStatus(row["status"]),
        sender=row["sender"],
        recipients=load_strings(row["recipients"]),
        subject=row["subject"],
        message_id=row["message_id"],
        size=int(row["size"]),
        tags=load_strings(row["tags"]),
        meta=json.loads(row["meta"]),
        request_id=row["request_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_attempt_at=row["next_attempt_at"],
        expires_at=row["expires_at"],
        give_up_at=row["give_up_at"],
        attempt_count=row["attempt_count"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        sent_at=row["sent_at"],
        last_error_code=_error_code(row["last_error_code"]),
        last_error_message=row["last_error_message"],
        has_webhook=bool(row["has_webhook"]),
        api_key_id=row["api_key_id"],
        cancelled_at=row["cancelled_at"],
        consumed_at=row["consumed_at"],
        raw_purged_at=row["raw_purged_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        decision_reason=row["decision_reason"],
        unused_at=row["unused_at"],
    )


def event_from_row(row: Mapping[Any, Any]) -> EventRecord:
    return EventRecord(
        id=row["id"],
        message_id=row["message_id"],
        type=EventType(row["type"]),
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
        data=json.loads(row["data"]),
    )


def stored_attempt_from_row(row: Mapping[Any, Any]) -> StoredAttempt:
    return StoredAttempt(
        id=row["id"],
        message_id=row["message_id"],
        number=row["number"],
        worker_id=row["worker_id"],
        upstream=row["upstream"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=MessageStatus(row["result"]),
        error_code=_error_code(row["error_code"]),
        smtp_code=row["smtp_code"],
        smtp_reply=row["smtp_reply"],
        ambiguous=bool(row["ambiguous"]),
        superseded=bool(row["superseded"]),
    )
