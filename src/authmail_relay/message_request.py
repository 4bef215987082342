"""What a caller asks the relay to send, and its validation (pure).

A :class:`MessageRequest` carries raw strings from any adapter (CLI, HTTP, library);
:func:`validate_request` checks the parts the composer does not own (tags, metadata,
priority, expiry) and returns the normalised values the outbox stores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .exceptions import ValidationError
from .requester import end_user_network
from .vocabulary import Kind, Priority

MAX_TAGS = 10
MAX_TAG_LENGTH = 64
MAX_METADATA_BYTES = 4096
#: Longest expiry a caller may ask for: a week. Auth mail older than that is never useful.
MAX_EXPIRES_IN_SECONDS = 7 * 86400
_TAG = re.compile(r"^[A-Za-z0-9_.:/-]+$")

#: Kinds whose mail is latency-critical and so default to the high-priority lane.
AUTH_KINDS = frozenset({Kind.OTP, Kind.MAGIC_LINK, Kind.PASSWORD_RESET})


@dataclass(frozen=True)
class MessageRequest:
    """A message to send. ``to``/``cc``/``bcc``/``reply_to`` take one address or a list.

    For ``kind=raw`` the caller gives ``subject`` and ``html`` and/or ``text``. For the
    auth kinds the built-in templates make them from ``user_name`` and ``code`` (OTP) or
    ``token`` (links); ``subject`` may then be empty.
    """

    to: str | Sequence[str]
    subject: str = ""
    html: str | None = None
    text: str | None = None
    from_addr: str | None = None
    cc: str | Sequence[str] = ()
    bcc: str | Sequence[str] = ()
    reply_to: str | Sequence[str] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    tags: Sequence[str] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    priority: Priority | str | None = None
    kind: Kind = Kind.RAW
    expires_in_seconds: float | None = None
    request_id: str | None = None
    #: Auth kinds: who the mail greets, the secret it carries, where a link points.
    user_name: str | None = None
    code: str | None = None
    token: str | None = None
    base_url: str | None = None
    locale: str | None = None
    #: Raw mail only: frame ``html`` in the branded layout of the built-in mails.
    wrap: bool = False
    #: Per-request webhook (delivered by the webhooks feature); stored with the message.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    #: Fingerprint of the API key that made the request (set by the HTTP adapter).
    api_key_id: str | None = None
    #: The caller's normalised sender rules besides the default sender (set by the HTTP
    #: adapter, see :mod:`authmail_relay.sender_policy`); None: the sender is not checked.
    allowed_senders: Sequence[str] | None = None
    #: Link origins (``scheme://host:port``) the caller's key adds to ALLOWED_LINK_ORIGINS.
    extra_link_origins: Sequence[str] = ()
    #: The IP address of the end user whose action triggered the mail, when the app
    #: knows it: their own budget in shared limits (see :mod:`authmail_relay.requester`).
    end_user_ip: str | None = None


@dataclass(frozen=True)
class Envelope:
    """The validated extras stored next to the composed message."""

    priority: Priority
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    expires_in_ms: int | None
    #: ``end_user_ip`` as the requester network the limits count (never stored).
    end_user_network: str | None = None


def as_list(value: str | Sequence[str] | None) -> list[str]:
    """One address or many, as a list (``None`` and ``""`` become empty)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def validate_request(request: MessageRequest) -> Envelope:
    """Check tags, metadata, priority, expiry and the end-user IP; raise
    :class:`ValidationError` if bad."""
    return Envelope(
        priority=_priority(request),
        tags=_tags(request.tags),
        metadata=_metadata(request.metadata),
        expires_in_ms=_expires_in_ms(request.expires_in_seconds),
        end_user_network=end_user_network(request.end_user_ip),
    )


def _priority(request: MessageRequest) -> Priority:
    if request.priority is None or request.priority == "":
        return Priority.HIGH if request.kind in AUTH_KINDS else Priority.NORMAL
    try:
        return Priority(str(request.priority).lower())
    except ValueError:
        choices = ", ".join(p.value for p in Priority)
        raise ValidationError(f"priority must be one of {choices}", field="priority") from None


def _tags(tags: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = [tags]
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"at most {MAX_TAGS} tags are allowed", field="tags")
    for tag in tags:
        if not isinstance(tag, str) or not 0 < len(tag) <= MAX_TAG_LENGTH or not _TAG.match(tag):
            raise ValidationError(
                f"each tag must be 1-{MAX_TAG_LENGTH} characters of letters, digits and _.:/-",
                field="tags",
            )
    return tuple(dict.fromkeys(tags))


def _metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata must be an object", field="metadata")
    try:
        encoded = json.dumps(dict(metadata), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationError("metadata must be plain JSON values", field="metadata") from None
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise ValidationError(
            f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON", field="metadata"
        )
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def _expires_in_ms(seconds: float | None) -> int | None:
    if seconds is None:
        return None
    if not 1 <= seconds <= MAX_EXPIRES_IN_SECONDS:
        raise ValidationError(
            f"expires_in must be between 1 second and {MAX_EXPIRES_IN_SECONDS} seconds",
            field="expires_in",
        )
    return int(seconds * 1000)
