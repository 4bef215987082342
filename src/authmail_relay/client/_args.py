"""Argument checks and request encoding for the HTTP client (no I/O here).

Each check raises :class:`~authmail_relay.exceptions.ValidationError` with ``field`` set
to the argument's name, before anything is sent. The checks are about shape only: whether
an address is a valid mailbox, a header is safe or a link keeps its origin is decided by
the relay, which answers 422 naming the field.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from ..exceptions import ValidationError
from ..vocabulary import Kind, MessageStatus, OversightMode, Priority, RuleAction

Addresses = str | Sequence[str]
#: The relay's bounds for ``Idempotency-Key`` and ``X-Request-ID``.
MAX_IDEMPOTENCY_KEY = 255
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_headers(key: str, request_id: str | None, *, dry_run: bool) -> dict[str, str]:
    """The per-call headers of a request that creates a message."""
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    if dry_run:
        headers["X-Dry-Run"] = "true"
    if request_id is not None:
        if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
            raise ValidationError(
                "request_id must be 1-128 letters, digits or ._:@/+=-", field="request_id"
            )
        headers["X-Request-ID"] = request_id
    return headers


def idempotency_key(key: str | None) -> str:
    """The caller's key, checked, or a fresh uuid4 sent on every attempt of the call."""
    if key is None:
        return str(uuid.uuid4())
    if (
        not isinstance(key, str)
        or not 1 <= len(key.strip()) <= MAX_IDEMPOTENCY_KEY
        or not key.isascii()
        or not key.isprintable()
    ):
        raise ValidationError(
            f"idempotency_key must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            field="idempotency_key",
        )
    return key.strip()


def message_path(id: str, suffix: str = "") -> str:
    """The path of one message, its id percent-encoded."""
    if not isinstance(id, str) or id.strip(".") == "":
        raise ValidationError("id must be a message id such as msg_01…", field="id")
    return f"/v1/messages/{quote(id, safe='')}{suffix}"


def resource_path(collection: str, id: str, name: str) -> str:
    """The path of one resource of *collection* (e.g. ``/v1/keys``), its id encoded."""
    if not isinstance(id, str) or id.strip(".") == "" or len(id) > 100:
        raise ValidationError(f"{name} must be an id the relay returned", field=name)
    return f"{collection}/{quote(id, safe='')}"


def conditions(value: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    """Rule conditions as the API takes them: names to lists of strings (the relay judges
    the names and values)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError("conditions must be a mapping of lists", field="conditions")
    out: dict[str, list[str]] = {}
    for name, values in value.items():
        field = f"conditions.{str(name)[:40]}"
        if not isinstance(name, str) or isinstance(values, str | bytes):
            raise ValidationError("each condition must be a list of strings", field=field)
        listed = list(values)
        if not all(isinstance(item, str) for item in listed):
            raise ValidationError("each condition must be a list of strings", field=field)
        out[name] = listed
    return out


def position(value: int | None) -> int | None:
    """A rule position: None or an integer from 1."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError("position must be an integer from 1", field="position")
    return value


def link_body(to: str, token: str, user_name: str | None, base_url: str | None) -> dict[str, Any]:
    """The fields of the link routes (magic link, password reset)."""
    return {
        "to": single_address(to),
        "token": text(token, "token"),
        "user_name": optional_text(user_name, "user_name"),
        "base_url": optional_text(base_url, "base_url"),
    }


def options(
    from_: str | None,
    reply_to: Addresses | None,
    tags: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    priority: Priority | str | None,
    locale: str | None,
    expires_in: int | timedelta | None,
    send_at: datetime | str | None = None,
) -> dict[str, Any]:
    """The optional fields every create route takes (None where not given)."""
    if tags is not None and (
        isinstance(tags, str)
        or not isinstance(tags, Sequence)
        or not all(isinstance(tag, str) for tag in tags)
    ):
        raise ValidationError("tags must be a list of strings", field="tags")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise ValidationError("metadata must be a mapping", field="metadata")
        try:
            json.dumps(dict(metadata), allow_nan=False)
        except (TypeError, ValueError):
            raise ValidationError("metadata must be JSON-serializable", field="metadata") from None
    return {
        "from": optional_text(from_, "from_"),
        "reply_to": None if reply_to is None else addresses(reply_to, "reply_to"),
        "tags": None if tags is None else list(tags),
        "metadata": None if metadata is None else dict(metadata),
        "priority": None if priority is None else member(Priority, priority, "priority"),
        "locale": optional_text(locale, "locale"),
        "expires_in": seconds(expires_in),
        "send_at": moment(send_at, "send_at"),
    }


def delivery(
    headers: Mapping[str, str] | None,
    webhook_url: str | None,
    webhook_secret: str | None,
    end_user_ip: str | None = None,
) -> dict[str, Any]:
    """Extra mail headers, the webhook target and the end user's IP (None where not
    given)."""
    if headers is not None and (
        not isinstance(headers, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise ValidationError("headers must map strings to strings", field="headers")
    return {
        "headers": None if headers is None else dict(headers),
        "webhook_url": optional_text(webhook_url, "webhook_url"),
        "webhook_secret": optional_text(webhook_secret, "webhook_secret"),
        "end_user_ip": optional_text(end_user_ip, "end_user_ip"),
    }


def seconds(value: int | timedelta | None) -> int | None:
    """``expires_in`` as whole seconds (at least 1), or None."""
    if value is None:
        return None
    amount = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 1:
        raise ValidationError("expires_in must be at least 1 second", field="expires_in")
    if isinstance(amount, float) and not amount.is_integer():
        raise ValidationError("expires_in must be whole seconds", field="expires_in")
    return int(amount)


def addresses(value: Addresses, name: str) -> str | list[str]:
    """One address as a string, several as a non-empty list."""
    if isinstance(value, str):
        return value
    return _listed(value, name)


def address_list(value: Addresses | None, name: str) -> list[str] | None:
    """A field that is always a list on the wire (``cc``, ``bcc``), or None."""
    return None if value is None else _listed(value, name)


def _listed(value: Addresses, name: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items or not all(isinstance(v, str) for v in items):
        raise ValidationError(f"{name} must be an address or a non-empty list", field=name)
    return list(items)


def single_address(value: str) -> str:
    """The one recipient of an auth mail."""
    if not isinstance(value, str):
        raise ValidationError("to must be one address", field="to")
    return value


def text(value: str, name: str) -> str:
    """``value`` if it is a string."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", field=name)
    return value


def optional_text(value: str | None, name: str) -> str | None:
    """``value`` if it is None or a string."""
    return None if value is None else text(value, name)


def member(
    enum: type[Kind]
    | type[Priority]
    | type[MessageStatus]
    | type[RuleAction]
    | type[OversightMode],
    value: object,
    name: str,
) -> str:
    """The wire value of an enum member given as a member or its string."""
    try:
        return str(enum(value))
    except ValueError:
        allowed = ", ".join(option.value for option in enum)
        raise ValidationError(f"{name} must be one of {allowed}", field=name) from None


def aware(moment: datetime, name: str) -> datetime:
    """``moment`` if it is a timezone-aware datetime (a naive one is ambiguous)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValidationError(f"{name} must be a timezone-aware datetime", field=name)
    return moment


def moment(value: datetime | str | None, name: str) -> str | None:
    """A time for the wire: an aware datetime as RFC 3339 (in UTC where it has one), a
    string as given (the relay judges it, and answers 422 naming the field), or None. A
    naive datetime is ambiguous and refused here."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(
            f"{name} must be a timezone-aware datetime or an RFC 3339 string", field=name
        )
    # UTC, so an offset with seconds (which RFC 3339 cannot write) never goes out; near
    # year 1 or 9999 there may be no UTC datetime, and the offset stays.
    with contextlib.suppress(OverflowError):
        value = value.astimezone(timezone.utc)
    return value.isoformat()


def encode(body: Mapping[str, Any]) -> bytes:
    """The body without its unset (None) fields, as UTF-8 JSON."""
    present = {key: value for key, value in body.items() if value is not None}
    return json.dumps(present, ensure_ascii=False, allow_nan=False).encode("utf-8")
