"""The bounded field types every request model is built from, and their common base.

Each cap is the core's own limit (the core checks it again, for every adapter), applied
here by pydantic so an over-long value is refused before any check of ours scans it.
:class:`RequestModel` refuses strings that are not valid Unicode (lone surrogates) in
every field, at any depth, with the core's rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, field_validator

from ..exceptions import ValidationError
from ..ids import is_message_id
from ..mail.auth_mail import MAX_CODE, MAX_TOKEN, MAX_USER_NAME
from ..mail.composing import MAX_CUSTOM_HEADERS, MAX_RECIPIENTS, MAX_REPLY_TO
from ..mail.locales import MAX_TAG as MAX_LOCALE
from ..mail.message_request import (
    MAX_METADATA_BYTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    TAG_PATTERN,
    check_metadata,
    is_encodable,
)
from ..mail.scheduling import MAX_SEND_AT_CHARS, parse_rfc3339
from ..mail.validation import (
    MAX_ADDRESS_OCTETS,
    MAX_CUSTOM_HEADER_NAME,
    MAX_DOMAIN_OCTETS,
    MAX_HEADER_CHARS,
)
from ..webhooks.ssrf import MAX_URL_CHARS

#: The longest webhook secret a message may carry.
MAX_WEBHOOK_SECRET = 256
#: Smallest a metadata member can be as JSON (``"":0,``): a bound on the member count.
_MIN_MEMBER_BYTES = 5

# No C0/C1 control, line separator or bidi control: what a header value may hold. The
# patterns and minimum lengths below are published, not enforced: the core refuses such
# values itself, with its documented error codes (``crlf_in_header``, ``invalid_address``).
_HEADER_TEXT = (
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
)


def _published(**schema: Any) -> dict[str, Any]:
    return {"json_schema_extra": schema}


# Published shapes of ids, host names, URLs and language tags: what the relay issues or
# accepts, so generated examples are ones it takes (the checks stay where they are).
_ULID = "[0-7][0-9A-HJKMNP-TV-Z]{25}"
MESSAGE_ID_PATTERN = f"^msg_{_ULID}$"
ENDPOINT_ID_PATTERN = f"^whep_{_ULID}$"
DELIVERY_ID_PATTERN = f"^whd_{_ULID}$"
_LABEL = "(?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?"
_HOST = f"[A-Za-z0-9]{_LABEL}(?:\\.[A-Za-z]{_LABEL})+"
_LOCAL_PART = "[A-Za-z0-9_+-]{1,32}(?:\\.[A-Za-z0-9_+-]{1,16}){0,2}"
HOST_PATTERN = f"^{_HOST}$"
ORIGIN_PATTERN = f"^https://{_HOST}$"
URL_PATTERN = f"^https?://{_HOST}(?:/[A-Za-z0-9._~-]*)*$"
LOCALE_PATTERN = "^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,6}$"
#: One line of text (no C0 control or DEL).
ONE_LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f]*$"


#: One mailbox: ``user@example.com`` or ``Name <user@example.com>``, one header line at most.
Mailbox = Annotated[
    str,
    Field(
        max_length=MAX_HEADER_CHARS,
        description="user@example.com or Name <user@example.com>",
        **_published(minLength=3, format="email"),
    ),
]
#: One mailbox or a list of them (a single string is one address, never split).
Mailboxes = Mailbox | Annotated[list[Mailbox], Field(max_length=MAX_RECIPIENTS)]
ReplyTo = Mailbox | Annotated[list[Mailbox], Field(max_length=MAX_REPLY_TO)]
#: A bare address, a domain, or ``*.`` and a domain (its subdomains).
AddressRule = Annotated[
    str,
    Field(
        max_length=MAX_ADDRESS_OCTETS,
        # A domain rule is at most 253 octets: the published cap fits both forms.
        **_published(maxLength=MAX_DOMAIN_OCTETS, pattern=f"^(?:{_LOCAL_PART}@|\\*\\.)?{_HOST}$"),
    ),
]
HeaderText = Annotated[str, Field(max_length=MAX_HEADER_CHARS, **_published(pattern=_HEADER_TEXT))]
Subject = Annotated[
    str, Field(min_length=1, max_length=MAX_HEADER_CHARS, **_published(pattern=_HEADER_TEXT))
]
HeaderName = Annotated[
    str,
    Field(
        max_length=MAX_CUSTOM_HEADER_NAME,
        **_published(minLength=3, pattern="^[Xx]-[A-Za-z0-9-]+$"),
    ),
]
Headers = Annotated[
    dict[HeaderName, HeaderText],
    Field(max_length=MAX_CUSTOM_HEADERS, **_published(additionalProperties=False)),
]
Tag = Annotated[
    str, Field(max_length=MAX_TAG_LENGTH, **_published(minLength=1, pattern=TAG_PATTERN))
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=MAX_METADATA_BYTES)], Any],
    Field(max_length=MAX_METADATA_BYTES // _MIN_MEMBER_BYTES),
]
Locale = Annotated[str, Field(max_length=MAX_LOCALE, **_published(pattern=LOCALE_PATTERN))]
Url = Annotated[
    str, Field(max_length=MAX_URL_CHARS, **_published(format="uri", pattern=URL_PATTERN))
]
Origin = Annotated[str, Field(max_length=MAX_URL_CHARS, **_published(pattern=ORIGIN_PATTERN))]
WebhookSecret = Annotated[str, Field(max_length=MAX_WEBHOOK_SECRET)]
UserName = Annotated[str, Field(max_length=MAX_USER_NAME, **_published(pattern=_HEADER_TEXT))]
Code = Annotated[str, Field(min_length=1, max_length=MAX_CODE)]
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN)]


def _rfc3339(value: Any) -> Any:
    """A JSON string as an aware datetime, by the core's RFC 3339 rule (a datetime given
    by Python code passes as it is). Numbers and offset-less times are refused: a wire
    time always says its offset."""
    return value if isinstance(value, datetime) else parse_rfc3339(value)


#: ``send_at``: an RFC 3339 date-time with ``Z`` or a numeric offset; the relay then
#: checks it against now and the message's lifetime (:mod:`authmail_relay.mail.scheduling`).
SendAt = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": MAX_SEND_AT_CHARS}),
]
#: A batch entry: validated on its own (an invalid one is that entry's error, not the
#: batch's), published as a message.
BatchEntry = Annotated[
    dict[str, Any], WithJsonSchema({"$ref": "#/components/schemas/MessageCreate"})
]


class RequestModel(BaseModel):
    """A request body: every field's strings must be valid Unicode (422 otherwise)."""

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        if not is_encodable(value):
            raise ValueError("is not valid Unicode text (it holds a lone surrogate)")
        return value


def metadata_checked(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """The core's metadata rule (size as JSON) for a model validator."""
    return None if value is None else check_metadata(value)


#: The ``cursor`` query parameter of a message listing: a message id it returned.
MessageCursor = Annotated[
    str | None,
    Query(
        max_length=40,
        description="next_cursor of the previous page.",
        json_schema_extra={"pattern": MESSAGE_ID_PATTERN},
    ),
]


def check_message_cursor(cursor: str | None) -> None:
    """ValidationError (422) for a cursor a message listing never returned."""
    if cursor is not None and not is_message_id(cursor):
        raise ValidationError("cursor is not one this API returned", field="cursor")
