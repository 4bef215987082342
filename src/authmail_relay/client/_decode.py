"""Decoding the relay's JSON answers into the client's result types (no I/O here).

Every function raises :class:`WireError` when the JSON does not have the documented
shape (a missing field, a wrong type, an unknown status); the client turns that into
:class:`~authmail_relay.exceptions.TransportError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

from ..vocabulary import EventType, Kind, MessageStatus, OversightMode, Priority, RuleAction
from ._models import (
    Accepted,
    ApiKeyInfo,
    ApprovalRule,
    AuditEntry,
    AuditPage,
    AuditVerification,
    DecisionResult,
    FieldError,
    Message,
    MessageAttempt,
    MessageAuditEntry,
    MessageEvent,
    MessagePage,
    SendOutcome,
    SendStatus,
)

_E = TypeVar("_E", bound=Enum)


class WireError(ValueError):
    """A response body does not have the documented shape."""


def send_outcome(
    data: object, *, replayed: bool, idempotency_key: str | None, request_id: str | None
) -> SendOutcome:
    """Decode the answer of a compatible ``/send*`` route (sent, queued, accepted, dry run)."""
    m = _object(data)
    sent = _bool(m, "sent")
    if m.get("dry_run") is True:
        return SendOutcome(
            sent=False,
            status="dry_run",
            id=None,
            size=_int(m, "size"),
            replayed=replayed,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
    status: SendStatus
    if sent:
        status = "sent"
    elif (raw := _str(m, "status")) == "queued":
        status = "queued"
    elif raw == "accepted":
        status = "accepted"
    elif raw == "held":
        status = "held"
    else:
        raise WireError(f"unknown send status {raw[:40]!r}")
    return SendOutcome(
        sent=sent,
        status=status,
        id=_str(m, "id"),
        message_id=_optional(m, "message_id", str),
        replayed=replayed,
        idempotency_key=idempotency_key,
        request_id=request_id,
    )


def accepted(
    data: object, *, replayed: bool, idempotency_key: str | None, request_id: str | None
) -> Accepted:
    """Decode the ``202`` answer of ``POST /v1/messages``."""
    m = _object(data)
    return Accepted(
        id=_str(m, "id"),
        status=_enum(MessageStatus, m, "status"),
        message_id=_str(m, "message_id"),
        created_at=_time(m, "created_at"),
        replayed=replayed,
        idempotency_key=idempotency_key,
        request_id=request_id,
    )


def message(data: object) -> Message:
    """Decode one message object of the API."""
    m = _object(data)
    return Message(
        id=_str(m, "id"),
        kind=_enum(Kind, m, "kind"),
        status=_enum(MessageStatus, m, "status"),
        priority=_enum(Priority, m, "priority"),
        message_id=_str(m, "message_id"),
        subject=_str(m, "subject"),
        recipients=_strings(m, "recipients"),
        tags=_strings(m, "tags"),
        metadata=_object(m.get("metadata")),
        request_id=_optional(m, "request_id", str),
        created_at=_time(m, "created_at"),
        updated_at=_time(m, "updated_at"),
        next_attempt_at=_optional_time(m, "next_attempt_at"),
        expires_at=_optional_time(m, "expires_at"),
        sent_at=_optional_time(m, "sent_at"),
        attempt_count=_int(m, "attempt_count"),
        last_error_code=_optional(m, "last_error_code", str),
        last_error_message=_optional(m, "last_error_message", str),
        events=tuple(_event(e) for e in _list(m.get("events") or [])),
        attempts=tuple(_attempt(a) for a in _list(m.get("attempts") or [])),
        decided_at=_optional_time(m, "decided_at"),
        decided_by=_optional(m, "decided_by", str),
        decision_reason=_optional(m, "decision_reason", str),
        unused_at=_optional_time(m, "unused_at"),
        audit=tuple(_trail_entry(e) for e in _list(m.get("trail") or [])),
    )


def message_page(data: object) -> MessagePage:
    """Decode the answer of ``GET /v1/messages``."""
    m = _object(data)
    messages = tuple(message(item) for item in _list(m.get("data")))
    return MessagePage(messages=messages, next_cursor=_optional(m, "next_cursor", str))


def audit_entry(data: object) -> AuditEntry:
    """Decode one entry of ``GET /v1/audit``."""
    m = _object(data)
    return AuditEntry(
        seq=_int(m, "seq"),
        at=_time(m, "at"),
        at_ms=_int(m, "at_ms"),
        actor=_str(m, "actor"),
        action=_str(m, "action"),
        subject=_str(m, "subject"),
        data=_object(m.get("data")),
        prev_hash=_str(m, "prev_hash"),
        hash=_str(m, "hash"),
    )


def audit_page(data: object) -> AuditPage:
    """Decode the answer of ``GET /v1/audit``."""
    m = _object(data)
    entries = tuple(audit_entry(item) for item in _list(m.get("data")))
    return AuditPage(entries=entries, next_cursor=_optional(m, "next_cursor", str))


def audit_verification(data: object) -> AuditVerification:
    """Decode the answer of ``GET /v1/audit/verify``."""
    m = _object(data)
    ok = _bool(m, "ok")
    return AuditVerification(
        ok=ok,
        entries=_int(m, "entries"),
        checkpoints=_int(m, "checkpoints"),
        head_seq=_int(m, "head_seq"),
        head_hash=_str(m, "head_hash"),
        broken_at=_optional(m, "broken_at", int),
        bad_checkpoint=_optional(m, "bad_checkpoint", int),
        reason=_optional(m, "reason", str),
    )


def approval_rule(data: object) -> ApprovalRule:
    """Decode one rule of ``/v1/approval-rules``."""
    m = _object(data)
    conditions = _object(m.get("conditions"))
    return ApprovalRule(
        id=_str(m, "id"),
        position=_int(m, "position"),
        action=_enum(RuleAction, m, "action"),
        conditions={str(name): _strings(conditions, name) for name in conditions},
        description=_str(m, "description"),
        created_at=_time(m, "created_at"),
        updated_at=_time(m, "updated_at"),
    )


def approval_rules(data: object) -> tuple[ApprovalRule, ...]:
    """Decode the answer of ``GET /v1/approval-rules``, in the order rules are tried."""
    return tuple(approval_rule(item) for item in _list(_object(data).get("data")))


def api_key_info(data: object) -> ApiKeyInfo:
    """Decode one key of ``/v1/keys`` (the ``key`` field of a new key is ignored)."""
    m = _object(data)
    return ApiKeyInfo(
        id=_str(m, "id"),
        name=_str(m, "name"),
        scopes=_strings(m, "scopes"),
        oversight=_enum(OversightMode, m, "oversight"),
        created_at=_time(m, "created_at"),
        expires_at=_optional_time(m, "expires_at"),
        revoked_at=_optional_time(m, "revoked_at"),
        rotated_from=_optional(m, "rotated_from", str),
    )


def decision_results(data: object) -> tuple[DecisionResult, ...]:
    """Decode the answer of ``POST /v1/approvals/decide``."""
    results = []
    for item in _list(_object(data).get("results")):
        m = _object(item)
        shown = m.get("message")
        results.append(
            DecisionResult(
                id=_str(m, "id"),
                status=_int(m, "status"),
                message=None if shown is None else message(shown),
                error_code=_optional(m, "error_code", str),
                detail=_optional(m, "detail", str),
            )
        )
    return tuple(results)


def field_errors(data: object) -> tuple[FieldError, ...]:
    """The ``errors`` of a problem body; entries without a field are skipped."""
    found = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and isinstance(item.get("field"), str):
            found.append(FieldError(item["field"], str(item.get("message", ""))))
    return tuple(found)


def parse_time(value: str) -> datetime:
    """An RFC 3339 time as an aware datetime (a missing offset is read as UTC)."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WireError(f"not an RFC 3339 time: {value[:40]!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _event(data: object) -> MessageEvent:
    m = _object(data)
    return MessageEvent(
        type=_enum(EventType, m, "type"),
        status=_enum(MessageStatus, m, "status"),
        created_at=_time(m, "created_at"),
        data=_object(m.get("data", {})),
    )


def _trail_entry(data: object) -> MessageAuditEntry:
    m = _object(data)
    return MessageAuditEntry(
        seq=_int(m, "seq"),
        at=_time(m, "at"),
        actor=_str(m, "actor"),
        action=_str(m, "action"),
        data=_object(m.get("data", {})),
    )


def _attempt(data: object) -> MessageAttempt:
    m = _object(data)
    ambiguous = _bool(m, "ambiguous")
    return MessageAttempt(
        number=_int(m, "number"),
        started_at=_time(m, "started_at"),
        finished_at=_time(m, "finished_at"),
        upstream=_str(m, "upstream"),
        result=_enum(MessageStatus, m, "result"),
        error_code=_optional(m, "error_code", str),
        smtp_code=_optional(m, "smtp_code", int),
        smtp_reply=_optional(m, "smtp_reply", str),
        ambiguous=ambiguous,
    )


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WireError("expected a JSON object")
    return data


def _list(data: object) -> list[Any]:
    if not isinstance(data, list):
        raise WireError("expected a JSON array")
    return data


def _str(m: Mapping[str, Any], key: str) -> str:
    value = m.get(key)
    if not isinstance(value, str):
        raise WireError(f"{key} is not a string")
    return value


def _bool(m: Mapping[str, Any], key: str) -> bool:
    value = m.get(key)
    if not isinstance(value, bool):
        raise WireError(f"{key} is not a boolean")
    return value


def _int(m: Mapping[str, Any], key: str) -> int:
    value = m.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{key} is not an integer")
    return value


_T = TypeVar("_T", str, int)


def _optional(m: Mapping[str, Any], key: str, kind: type[_T]) -> _T | None:
    value = m.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise WireError(f"{key} is not a {kind.__name__}")
    return value


def _strings(m: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = _list(m.get(key))
    if not all(isinstance(value, str) for value in values):
        raise WireError(f"{key} holds something other than strings")
    return tuple(values)


def _enum(enum: Callable[[str], _E], m: Mapping[str, Any], key: str) -> _E:
    value = _str(m, key)
    try:
        return enum(value)
    except ValueError:
        raise WireError(f"unknown {key} {value[:40]!r}") from None


def _time(m: Mapping[str, Any], key: str) -> datetime:
    return parse_time(_str(m, key))


def _optional_time(m: Mapping[str, Any], key: str) -> datetime | None:
    value = _optional(m, key, str)
    return None if value is None else parse_time(value)
