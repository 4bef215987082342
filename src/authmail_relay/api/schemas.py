"""Wire models of the HTTP API (pydantic), kept apart from the core's types.

Request models only bound sizes and shapes; the meaning (addresses, header safety,
tags, links) is checked once, by the core, for every adapter alike. Requests become a
:class:`~authmail_relay.mail.message_request.MessageRequest` through ``to_request``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..mail.composing import MAX_RECIPIENTS
from ..mail.message_request import MAX_EXPIRES_IN_SECONDS, MessageRequest
from ..trust.requester import MAX_END_USER_IP
from ..vocabulary import Kind
from .fields import (
    BatchEntry,
    Code,
    Headers,
    Locale,
    Mailbox,
    Mailboxes,
    Metadata,
    ReplyTo,
    RequestModel,
    SendAt,
    Subject,
    Tags,
    Token,
    Url,
    UserName,
    WebhookSecret,
    metadata_checked,
)

BODY_LIMIT = 10_000_000
#: Most entries in one batch.
MAX_BATCH = 100


class _Extensions(RequestModel):
    """Optional fields every send route accepts."""

    from_: Mailbox | None = Field(None, alias="from", description="Sender; default SMTP_FROM.")
    reply_to: ReplyTo | None = Field(None, description="Reply-To address(es).")
    tags: Tags | None = Field(None, description="Up to 10 short labels.")
    metadata: Metadata | None = Field(
        None, description="Small JSON object (at most 4 KiB as JSON) echoed in events."
    )
    priority: Literal["high", "normal", "low"] | None = Field(
        None, description="Delivery lane; auth kinds default to high."
    )
    locale: Locale | None = Field(None, description="Template language (auth kinds).")
    expires_in: int | None = Field(
        None,
        ge=1,
        le=MAX_EXPIRES_IN_SECONDS,
        description="Seconds until the mail must not be sent any more.",
    )
    send_at: SendAt | None = Field(
        None,
        description="Send no earlier than this RFC 3339 time with an offset: a past time "
        "is now; at most 30 days ahead, and before the mail expires.",
    )
    end_user_ip: str | None = Field(
        None,
        min_length=2,
        max_length=MAX_END_USER_IP,
        description="IP address of the end user who triggered the mail: their own budget "
        "in the domain limit. Never stored in clear.",
    )
    headers: Headers | None = Field(None, description="Extra X-* headers.")
    webhook_url: Url | None = Field(None, description="Where to POST the outcome.")
    webhook_secret: WebhookSecret | None = Field(None, description="HMAC secret for webhook_url.")

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return metadata_checked(value)

    def _common(self) -> dict[str, Any]:
        return {
            "from_addr": self.from_,
            "reply_to": self.reply_to or (),
            "tags": self.tags or (),
            "metadata": self.metadata or {},
            "priority": self.priority,
            "locale": self.locale,
            "expires_in_seconds": self.expires_in,
            "send_at": self.send_at,
            "headers": self.headers or {},
            "webhook_url": self.webhook_url,
            "webhook_secret": self.webhook_secret,
            "end_user_ip": self.end_user_ip,
        }


class SendRequest(_Extensions):
    """``POST /send``: any mail."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    to: Mailboxes = Field(description="Recipient address, or a list.")
    subject: Subject
    html_body: str = Field(min_length=1, max_length=BODY_LIMIT)
    text_body: str | None = Field(None, max_length=BODY_LIMIT)
    cc: list[Mailbox] | None = Field(None, max_length=MAX_RECIPIENTS)
    bcc: list[Mailbox] | None = Field(None, max_length=MAX_RECIPIENTS)
    wrap: bool = Field(False, description="Frame html_body in the branded layout.")

    def to_request(self) -> MessageRequest:
        return MessageRequest(
            to=self.to,
            subject=self.subject,
            html=self.html_body,
            text=self.text_body,
            cc=self.cc or (),
            bcc=self.bcc or (),
            wrap=self.wrap,
            **self._common(),
        )


class OtpRequest(_Extensions):
    """``POST /send/otp``: a one-time code."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    to: Mailbox
    user_name: UserName | None = None
    code: Code

    def to_request(self) -> MessageRequest:
        return MessageRequest(
            to=self.to, kind=Kind.OTP, user_name=self.user_name, code=self.code, **self._common()
        )


class LinkRequest(_Extensions):
    """``POST /send/magic-link`` and ``POST /send/password-reset``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    to: Mailbox
    user_name: UserName | None = None
    token: Token
    base_url: Url | None = Field(None, description="Same origin as MAGIC_LINK_BASE_URL.")

    def to_request(self, kind: Kind) -> MessageRequest:
        return MessageRequest(
            to=self.to,
            kind=kind,
            user_name=self.user_name,
            token=self.token,
            base_url=self.base_url,
            **self._common(),
        )


class MessageCreate(_Extensions):
    """``POST /v1/messages``: raw mail, or an auth ``kind`` with its data."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: Literal["raw", "otp", "magic_link", "password_reset"] = "raw"
    to: Mailboxes
    subject: Subject | None = None
    html_body: str | None = Field(None, max_length=BODY_LIMIT)
    text_body: str | None = Field(None, max_length=BODY_LIMIT)
    cc: list[Mailbox] | None = Field(None, max_length=MAX_RECIPIENTS)
    bcc: list[Mailbox] | None = Field(None, max_length=MAX_RECIPIENTS)
    user_name: UserName | None = None
    code: Code | None = None
    token: Token | None = None
    base_url: Url | None = None
    wrap: bool = Field(False, description="Raw mail: frame html_body in the branded layout.")

    def to_request(self) -> MessageRequest:
        return MessageRequest(
            to=self.to,
            kind=Kind(self.kind),
            wrap=self.wrap,
            subject=self.subject or "",
            html=self.html_body,
            text=self.text_body,
            cc=self.cc or (),
            bcc=self.bcc or (),
            user_name=self.user_name,
            code=self.code,
            token=self.token,
            base_url=self.base_url,
            **self._common(),
        )


class BatchCreate(BaseModel):
    """``POST /v1/messages/batch``: up to 100 messages, each validated on its own."""

    model_config = ConfigDict(extra="forbid")

    messages: list[BatchEntry] = Field(min_length=1, max_length=MAX_BATCH)


# Responses ---------------------------------------------------------------------------


class SendResponse(BaseModel):
    """``/send*`` outcome: sent (200), queued (202), or accepted for webhook delivery."""

    sent: bool
    id: str
    message_id: str | None = None
    status: str | None = Field(None, description="queued or accepted when not (yet) sent")


class DeliveryFailure(BaseModel):
    """The ``detail`` of a 502: the upstream refused the mail."""

    error_code: str
    message: str
    id: str


class DeliveryFailed(BaseModel):
    """``/send*`` 502 body (the documented compatible shape)."""

    detail: DeliveryFailure


class DryRunResponse(BaseModel):
    """``X-Dry-Run`` answer: valid and rendered, nothing stored or sent."""

    sent: Literal[False] = False
    dry_run: Literal[True] = True
    message: str = "Email payload is valid"
    size: int = Field(description="Bytes the rendered message would have.")


class Accepted(BaseModel):
    """A stored message (``POST /v1/messages``)."""

    id: str
    status: str
    message_id: str
    created_at: str


class EventView(BaseModel):
    type: str
    status: str
    created_at: str
    data: dict[str, Any]


class MessageAttemptView(BaseModel):
    number: int
    started_at: str
    finished_at: str
    upstream: str
    result: str
    error_code: str | None
    smtp_code: int | None
    smtp_reply: str | None
    ambiguous: bool


class TrailEntryView(BaseModel):
    """One audit entry of a message (its subject is the message)."""

    seq: int
    at: str
    actor: str = Field(description="A key id, a rule id (apr_…), cli or relay.")
    action: str
    data: dict[str, Any]


class MessageView(BaseModel):
    """One message; never its body, tokens, codes or links."""

    id: str
    kind: str
    status: str
    priority: str
    message_id: str
    subject: str
    recipients: list[str]
    tags: list[str]
    metadata: dict[str, Any]
    request_id: str | None
    created_at: str
    updated_at: str
    next_attempt_at: str | None
    expires_at: str | None
    sent_at: str | None
    attempt_count: int
    last_error_code: str | None
    last_error_message: str | None
    events: list[EventView] | None = None
    attempts: list[MessageAttemptView] | None = None
    trail: list[TrailEntryView] | None = Field(
        None, description="GET /v1/messages/{id} only: its audit entries, oldest first."
    )
    #: Oversight: who approved or rejected it (a key id, a rule id, ``cli``), when, why;
    #: when a sent auth message was reported unused.
    decided_at: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    unused_at: str | None = None


class MessageList(BaseModel):
    """A page of messages, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    data: list[MessageView]
    next_cursor: str | None


class BatchItem(BaseModel):
    """One batch entry's result: ``status`` 202 with ``message``, or an error ``problem``."""

    index: int
    status: int
    message: Accepted | None = None
    problem: dict[str, Any] | None = None


class BatchResult(BaseModel):
    results: list[BatchItem]


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is reported."""

    type: str
    title: str
    status: int
    detail: str
    error_code: str
    request_id: str | None
    errors: list[dict[str, str]] | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
