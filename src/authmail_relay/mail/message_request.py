"""What a caller asks the relay to send, and its validation (pure).

A :class:`MessageRequest` carries raw strings from any adapter (CLI, HTTP, library);
:func:`validate_request` first refuses any string that is not valid Unicode (a lone
surrogate, which JSON's ``\\ud800`` escapes and truncated UTF-16 produce, and which
neither the database drivers nor SMTP can carry), then checks the parts the composer does not
own (tags, metadata, priority, expiry) and returns the normalised values the outbox stores.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..exceptions import ValidationError
from ..trust.requester import end_user_network
from ..vocabulary import Kind, OversightMode, Priority

MAX_TAGS = 10
MAX_TAG_LENGTH = 64
MAX_METADATA_BYTES = 4096
#: Longest expiry a caller may ask for: a week. Auth mail older than that is never useful.
MAX_EXPIRES_IN_SECONDS = 7 * 86400
#: What a tag may hold (the HTTP schema publishes the same pattern).
TAG_PATTERN = r"^[A-Za-z0-9_.:/-]+$"
_TAG = re.compile(TAG_PATTERN)

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
    #: Send no earlier than this aware moment (None: at once); the rules are in
    #: :mod:`authmail_relay.mail.scheduling`, applied by the relay.
    send_at: datetime | None = None
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
    #: adapter, see :mod:`authmail_relay.trust.sender_policy`); None: the sender is not checked.
    allowed_senders: Sequence[str] | None = None
    #: Link origins (``scheme://host:port``) the caller's key adds to ALLOWED_LINK_ORIGINS.
    extra_link_origins: Sequence[str] = ()
    #: The IP address of the end user whose action triggered the mail, when the app
    #: knows it: their own budget in shared limits (see :mod:`authmail_relay.trust.requester`).
    end_user_ip: str | None = None
    #: How closely the caller's sends are watched (set by the HTTP adapter from the
    #: key); None: ``OVERSIGHT_DEFAULT``. ``read_only`` is refused before anything is stored.
    oversight: OversightMode | None = None


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


def is_encodable(value: object) -> bool:
    """False when a string anywhere in *value* (nested mappings, their keys, and lists
    included) holds a surrogate code point, i.e. is not valid Unicode text.

    Linear in the size of *value*, and iterative, so a deeply nested value cannot exhaust
    the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
    return True


def check_encodable(value: object, *, field: str) -> None:
    """Raise :class:`ValidationError` (``field``) unless :func:`is_encodable` (*value*).

    The message never echoes the value: it cannot be encoded, not even into the error.
    """
    if not is_encodable(value):
        raise ValidationError(
            f"{field} is not valid Unicode text (it holds a lone surrogate)", field=field
        )


def validate_request(request: MessageRequest) -> Envelope:
    """Check every string for encodability, then tags, metadata, priority, expiry and
    the end-user IP; raise :class:`ValidationError` if anything is bad."""
    for item in dataclasses.fields(request):
        check_encodable(getattr(request, item.name), field=item.name)
    return Envelope(
        priority=_priority(request),
        tags=_tags(request.tags),
        metadata=check_metadata(request.metadata),
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


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata as it will be stored: a JSON object of at most
    :data:`MAX_METADATA_BYTES` bytes, every key and string valid Unicode.

    ``json.dumps`` escapes lone surrogates instead of refusing them, so they are looked
    for first.
    """
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata must be an object", field="metadata")
    check_encodable(metadata, field="metadata")
    try:
        encoded = json.dumps(dict(metadata), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        # RecursionError: nested deeper than the encoder can go, far beyond 4 KiB anyway.
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
