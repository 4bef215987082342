"""The body of a webhook delivery (pure): what happened to a message, without secrets.

``{"type": "message.sent", "timestamp": "<ISO-8601>", "data": {...}}`` plus, at the top
level, the fields receivers of the older service read (``message_id``, ``status``,
``error_code``, ``refused``, ``sent_at``, ``attempts``). Recipients appear only as
hashes made by the caller's *hash_address* — the relay passes its keyed hash
(:meth:`~authmail_relay.trust.secrets_at_rest.AtRestKeys.address_hash`), so a receiver cannot
tell which address a hash stands for by hashing candidates itself. Addresses inside SMTP
replies are replaced by their hash too, and bodies, tokens, codes and links are never
part of it. A decision (``message.approved``, ``message.rejected``) adds
``decided_by`` (a key id, a rule id or ``cli``) and the approver's ``reason`` (cut to
:data:`MAX_REASON_CHARS`) to ``data``.
The body is built once, when the event is written, and every attempt sends those bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..vocabulary import EventType

__all__ = [
    "LEGACY_STATUS",
    "AddressHasher",
    "PayloadFacts",
    "build_payload",
    "encode_payload",
    "redact_reply",
]

#: The older service's ``status`` word for each event (docs/webhooks.md has the table).
LEGACY_STATUS: Mapping[EventType, str] = {
    EventType.SENT: "delivered",
    EventType.DEFERRED: "deferred",
    EventType.FAILED: "failed",
    # Never sent: to a receiver that knows only delivered/failed, this is a failure;
    # error_code "expired" says which kind.
    EventType.EXPIRED: "failed",
    EventType.CANCELLED: "cancelled",
    EventType.CONSUMED: "consumed",
    # Oversight events had no older equivalent; the status word is the new status.
    EventType.HELD: "held",
    EventType.APPROVED: "approved",
    EventType.REJECTED: "rejected",
    EventType.MONITORED: "monitored",
    EventType.UNUSED: "unused",
}

#: An approver's reason in a payload is cut to this many characters.
MAX_REASON_CHARS = 500
#: SMTP replies in a payload are cut to this many characters.
MAX_REPLY_CHARS = 500
# Anything shaped like local@domain inside a reply ("550 <bob@example.org> unknown").
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;]+@[^\s<>()\[\]\"',;]+")


@dataclass(frozen=True)
class PayloadFacts:
    """Everything a payload says, gathered by the storage layer when the event is written.

    Times are epoch milliseconds. ``recipients`` and ``refused`` are addresses; only
    their hashes leave this module.
    """

    event_type: EventType
    occurred_at: int
    id: str
    message_id: str
    status: str
    previous_status: str | None
    attempts: int
    recipients: Sequence[str] = ()
    refused: Sequence[str] = ()
    error_code: str | None = None
    smtp_code: int | None = None
    smtp_reply: str | None = None
    tags: Sequence[str] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    sent_at: int | None = None
    #: Oversight decisions only: who decided, and the approver's reason.
    decided_by: str | None = None
    reason: str | None = None


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds, e.g. ``2026-05-23T10:00:00.000Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: Turns an address into the hash a payload shows for it.
AddressHasher = Callable[[str], str]


def redact_reply(reply: str | None, *, hash_address: AddressHasher) -> str | None:
    """The reply with every address replaced by its hash, cut to :data:`MAX_REPLY_CHARS`."""
    if reply is None:
        return None
    return _ADDRESS.sub(lambda match: hash_address(match.group(0)), reply)[:MAX_REPLY_CHARS]


def build_payload(facts: PayloadFacts, *, hash_address: AddressHasher) -> dict[str, Any]:
    """The JSON object sent to receivers (see the module docstring for its shape)."""
    refused = [hash_address(address) for address in facts.refused]
    sent_at = None if facts.sent_at is None else iso_ms(facts.sent_at)
    data = {
        "id": facts.id,
        "message_id": facts.message_id,
        "status": facts.status,
        "previous_status": facts.previous_status,
        "error_code": facts.error_code,
        "smtp_code": facts.smtp_code,
        "smtp_reply": redact_reply(facts.smtp_reply, hash_address=hash_address),
        "to_hash": [hash_address(address) for address in facts.recipients],
        "refused": refused,
        "attempts": facts.attempts,
        "sent_at": sent_at,
        "tags": list(facts.tags),
        "metadata": dict(facts.metadata),
        "request_id": facts.request_id,
    }
    if facts.decided_by is not None:
        data["decided_by"] = facts.decided_by
    if facts.reason is not None:
        data["reason"] = facts.reason[:MAX_REASON_CHARS]
    return {
        "type": facts.event_type.value,
        "timestamp": iso_ms(facts.occurred_at),
        "data": data,
        # The older service's top-level fields, kept for its receivers.
        "message_id": facts.message_id,
        "status": LEGACY_STATUS[facts.event_type],
        "error_code": facts.error_code,
        "refused": refused,
        "sent_at": sent_at,
        "attempts": facts.attempts,
    }


def encode_payload(payload: Mapping[str, Any]) -> str:
    """Compact JSON text: the exact characters that are signed and sent (as UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
