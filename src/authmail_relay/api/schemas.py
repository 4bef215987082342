"""Wire models of the HTTP API (pydantic), kept apart from the core's types.

Request models only bound sizes and shapes; the meaning (addresses, header safety,
tags, links) is checked once, by the core, for every adapter alike. Requests become a
:class:`~authmail_relay.message_request.MessageRequest` through ``to_request``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..message_request import MessageRequest
from ..vocabulary import Kind

Address = str
Addresses = Address | list[Address]
MAX_RECIPIENT_FIELD = 50
BODY_LIMIT = 10_000_000


class _Extensions(BaseModel):
    """Optional fields every send route accepts."""

    from_: str | None = Field(
        None, alias="from", max_length=998, description="Sender; default SMTP_FROM."
    )
    reply_to: Addresses | None = Field(None, description="Reply-To address(es).")
    tags: list[str] | None = Field(None, max_length=10, description="Up to 10 short labels.")
    metadata: dict[str, Any] | None = Field(None, description="Small JSON object echoed in events.")
    priority: Literal["high", "normal", "low"] | None = Field(
        None, description="Delivery lane; auth kinds default to high."
    )
    locale: str | None = Field(None, max_length=35, description="Template language (auth kinds).")
    expires_in: int | None = Field(
        None, ge=1, le=604_800, description="Seconds until the mail must not be sent any more."
    )
    headers: dict[str, str] | None = Field(None, description="Extra X-* headers.")
    webhook_url: str | None = Field(None, max_length=2048, description="Where to POST the outcome.")
    webhook_secret: str | None = Field(
        None, max_length=256, description="HMAC secret for webhook_url."
    )
    end_user_ip: str | None = Field(
        None,
        max_length=45,
        description="IP address of the end user who triggered the mail: their own budget "
        "in the domain limit. Never stored in clear.",
    )

    def _common(self) -> dict[str, Any]:
        return {
            "from_addr": self.from_,
            "reply_to": self.reply_to or (),
            "tags": self.tags or (),
            "metadata": self.metadata or {},
            "priority": self.priority,
            "locale": self.locale,
            "expires_in_seconds": self.expires_in,
            "headers": self.headers or {},
            "webhook_url": self.webhook_url,
            "webhook_secret": self.webhook_secret,
            "end_user_ip": self.end_user_ip,
        }


class SendRequest(_Extensions):
    """``POST /send``: any mail."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    to: Addresses = Field(description="Recipient address, or a list.")
    subject: str = Field(min_length=1, max_length=998)
    html_body: str = Field(min_length=1, max_length=BODY_LIMIT)
    text_body: str | None = Field(None, max_length=BODY_LIMIT)
    cc: list[Address] | None = Field(None, max_length=MAX_RECIPIENT_FIELD)
    bcc: list[Address] | None = Field(None, max_length=MAX_RECIPIENT_FIELD)
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

    to: Address = Field(max_length=320)
    user_name: str | None = Field(None, max_length=200)
    code: str = Field(min_length=1, max_length=64)

    def to_request(self) -> MessageRequest:
        return MessageRequest(
            to=self.to, kind=Kind.OTP, user_name=self.user_name, code=self.code, **self._common()
        )


class LinkRequest(_Extensions):
    """``POST /send/magic-link`` and ``POST /send/password-reset``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    to: Address = Field(max_length=320)
    user_name: str | None = Field(None, max_length=200)
    token: str = Field(min_length=1, max_length=4096)
    base_url: str | None = Field(
        None, max_length=2048, description="Same origin as MAGIC_LINK_BASE_URL."
    )

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
    to: Addresses
    subject: str | None = Field(None, max_length=998)
    html_body: str | None = Field(None, max_length=BODY_LIMIT)
    text_body: str | None = Field(None, max_length=BODY_LIMIT)
    cc: list[Address] | None = Field(None, max_length=MAX_RECIPIENT_FIELD)
    bcc: list[Address] | None = Field(None, max_length=MAX_RECIPIENT_FIELD)
    user_name: str | None = Field(None, max_length=200)
    code: str | None = Field(None, max_length=64)
    token: str | None = Field(None, max_length=4096)
    base_url: str | None = Field(None, max_length=2048)
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

    messages: list[dict[str, Any]] = Field(min_length=1, max_length=100)


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


class AttemptView(BaseModel):
    number: int
    started_at: str
    finished_at: str
    upstream: str
    result: str
    error_code: str | None
    smtp_code: int | None
    smtp_reply: str | None
    ambiguous: bool


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
    attempts: list[AttemptView] | None = None


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
