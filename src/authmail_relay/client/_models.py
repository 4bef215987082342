"""Result types of the HTTP client (:mod:`authmail_relay.client`).

Every result is a frozen dataclass decoded from the relay's JSON
(:mod:`authmail_relay.client._decode`). Timestamps are aware :class:`~datetime.datetime`
objects in UTC; statuses, kinds and priorities are members of the enums in
:mod:`authmail_relay.vocabulary`. Errors carry an :class:`ErrorInfo`; see
:func:`error_info`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..vocabulary import EventType, Kind, MessageStatus, OversightMode, Priority, RuleAction

__all__ = [
    "Accepted",
    "ApiKeyInfo",
    "ApprovalRule",
    "AuditEntry",
    "AuditPage",
    "AuditVerification",
    "DecisionResult",
    "ErrorInfo",
    "FieldError",
    "Message",
    "MessageAttempt",
    "MessageAuditEntry",
    "MessageEvent",
    "MessagePage",
    "SendOutcome",
    "SendStatus",
    "error_info",
]

#: What a ``send*`` call achieved: ``sent`` (the upstream said 250), ``queued`` (stored; the
#: relay's wait ran out first and delivery goes on), ``accepted`` (stored; the outcome goes
#: to ``webhook_url``), ``held`` (stored; waiting for an approver, see ``approve``) or
#: ``dry_run`` (valid; nothing stored or sent).
SendStatus = Literal["sent", "queued", "accepted", "held", "dry_run"]
_INFO = "info"


@dataclass(frozen=True)
class SendOutcome:
    """The answer to ``send``, ``send_otp``, ``send_magic_link`` and ``send_password_reset``.

    ``id`` is the relay's message id (``msg_…``) for :meth:`get_message`; it is None only
    for a dry run. ``message_id`` is the mail's ``Message-ID`` header once it was sent.
    ``replayed`` is True when the relay answered from an earlier request with the same
    ``idempotency_key`` instead of storing a new message.
    """

    sent: bool
    status: SendStatus
    id: str | None
    message_id: str | None = None
    size: int | None = None
    replayed: bool = False
    idempotency_key: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Accepted:
    """A message stored by ``create_message`` (delivery is up to the relay's worker)."""

    id: str
    status: MessageStatus
    message_id: str
    created_at: datetime
    replayed: bool = False
    idempotency_key: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class MessageEvent:
    """One state change of a message."""

    type: EventType
    status: MessageStatus
    created_at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class MessageAttempt:
    """One SMTP attempt. ``ambiguous`` marks a connection lost after the final dot."""

    number: int
    started_at: datetime
    finished_at: datetime
    upstream: str
    result: MessageStatus
    error_code: str | None
    smtp_code: int | None
    smtp_reply: str | None
    ambiguous: bool


@dataclass(frozen=True)
class MessageAuditEntry:
    """One audit entry about a message (its ``trail``): which ``action`` (e.g.
    ``message.accepted``, ``message.approved``) which ``actor`` (a key id, a rule id
    ``apr_…``, ``cli`` or ``relay``) took and when; ``data`` never holds a secret. The
    chain fields (hashes, subject) are in :class:`AuditEntry`, from ``list_audit``."""

    seq: int
    at: datetime
    actor: str
    action: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Message:
    """A stored message as the relay shows it: never its body, token, code or link.

    ``events``, ``attempts`` and ``audit`` (the message's audit entries, oldest first)
    are filled by ``get_message`` and ``wait_for_message`` only; lists, ``cancel`` and
    ``consume`` leave them empty.
    """

    id: str
    kind: Kind
    status: MessageStatus
    priority: Priority
    message_id: str
    subject: str
    recipients: tuple[str, ...]
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    expires_at: datetime | None
    sent_at: datetime | None
    attempt_count: int
    last_error_code: str | None
    last_error_message: str | None
    events: tuple[MessageEvent, ...] = ()
    attempts: tuple[MessageAttempt, ...] = ()
    #: Oversight: who approved or rejected it (a key id, a rule id, ``cli``), when and
    #: why; when a sent auth message was reported unused.
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    unused_at: datetime | None = None
    audit: tuple[MessageAuditEntry, ...] = ()


@dataclass(frozen=True)
class MessagePage:
    """A page of ``list_messages``, newest first. Pass ``next_cursor`` as ``cursor`` to
    get the next page; it is None when this page was not full (a full last page may
    still be followed by an empty one)."""

    messages: tuple[Message, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the relay's audit trail (``list_audit``). ``at_ms`` is ``at`` in
    epoch milliseconds, as the entry's hash covers it; ``data`` never holds a secret."""

    seq: int
    at: datetime
    at_ms: int
    actor: str
    action: str
    subject: str
    data: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditPage:
    """A page of ``list_audit``, newest first; pass ``next_cursor`` as ``cursor`` for the
    next (None: this page reached the end, or was not full)."""

    entries: tuple[AuditEntry, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditVerification:
    """What ``verify_audit`` found: ``ok``, else the seq of the first bad entry
    (``broken_at``) or checkpoint (``bad_checkpoint``) and the ``reason``."""

    ok: bool
    entries: int
    checkpoints: int
    head_seq: int
    head_hash: str
    broken_at: int | None
    bad_checkpoint: int | None
    reason: str | None


@dataclass(frozen=True)
class ApprovalRule:
    """A stored approval rule. Rules are tried in ``position`` order (1 first, dense) and
    the first match decides; ``conditions`` maps each condition the rule has to its
    values (no condition: the rule matches every send)."""

    id: str
    position: int
    action: RuleAction
    conditions: Mapping[str, tuple[str, ...]]
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    """A stored API key as the relay shows it (never its secret)."""

    id: str
    name: str
    scopes: tuple[str, ...]
    oversight: OversightMode
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_from: str | None


@dataclass(frozen=True)
class DecisionResult:
    """One entry of ``decide``: ``status`` 200 with the updated ``message``, or the HTTP
    status and ``error_code`` the single call would have failed with (``not_found``,
    ``not_held``, ``message_expired``, ``self_approval``, ``reason_required``, …)."""

    id: str
    status: int
    message: Message | None = None
    error_code: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class FieldError:
    """One invalid input named by the relay (never the submitted value)."""

    field: str
    message: str


@dataclass(frozen=True)
class ErrorInfo:
    """What the client knows about a failed call; see :func:`error_info`.

    ``status`` is None when no HTTP answer arrived. ``idempotency_key`` is the key the
    call sent: repeating the call with the same key and arguments, within the relay's
    ``IDEMPOTENCY_TTL_SECONDS``, can never create a second message.
    """

    method: str
    path: str
    attempts: int
    status: int | None = None
    error_code: str | None = None
    detail: str | None = None
    request_id: str | None = None
    field_errors: tuple[FieldError, ...] = ()
    idempotency_key: str | None = None


def error_info(error: BaseException) -> ErrorInfo | None:
    """The :class:`ErrorInfo` of an exception a client call raised after making a request
    (also reachable as its ``info`` attribute); None for any other exception, including
    the ValidationError of an argument check, raised before anything is sent."""
    info = getattr(error, _INFO, None)
    return info if isinstance(info, ErrorInfo) else None


def attach_info(error: BaseException, info: ErrorInfo) -> None:
    """Attach ``info`` to ``error`` as its ``info`` attribute."""
    setattr(error, _INFO, info)
