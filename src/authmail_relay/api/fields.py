"""The bounded field types every request model is built from, and their common base.

Each cap is the core's own limit (the core checks it again, for every adapter), applied
here by pydantic so an over-long value is refused before any check of ours scans it.
:class:`RequestModel` refuses strings that are not valid Unicode (lone surrogates) in
every field, at any depth, with the core's rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from ..auth_mail import MAX_CODE, MAX_TOKEN, MAX_USER_NAME
from ..composing import MAX_CUSTOM_HEADERS, MAX_RECIPIENTS, MAX_REPLY_TO
from ..locales import MAX_TAG as MAX_LOCALE
from ..message_request import (
    MAX_METADATA_BYTES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    TAG_PATTERN,
    check_metadata,
    is_encodable,
)
from ..ssrf import MAX_URL_CHARS
from ..validation import MAX_ADDRESS_OCTETS, MAX_CUSTOM_HEADER_NAME, MAX_HEADER_CHARS

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
#: A bare address or a domain rule (no display name).
AddressRule = Annotated[str, Field(max_length=MAX_ADDRESS_OCTETS, **_published(minLength=1))]
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
Headers = Annotated[dict[HeaderName, HeaderText], Field(max_length=MAX_CUSTOM_HEADERS)]
Tag = Annotated[
    str, Field(max_length=MAX_TAG_LENGTH, **_published(minLength=1, pattern=TAG_PATTERN))
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=MAX_METADATA_BYTES)], Any],
    Field(max_length=MAX_METADATA_BYTES // _MIN_MEMBER_BYTES),
]
Locale = Annotated[
    str, Field(max_length=MAX_LOCALE, **_published(minLength=1, pattern="^[A-Za-z0-9-]+$"))
]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS, **_published(minLength=1))]
WebhookSecret = Annotated[str, Field(max_length=MAX_WEBHOOK_SECRET)]
UserName = Annotated[str, Field(max_length=MAX_USER_NAME, **_published(pattern=_HEADER_TEXT))]
Code = Annotated[str, Field(min_length=1, max_length=MAX_CODE)]
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN)]
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
