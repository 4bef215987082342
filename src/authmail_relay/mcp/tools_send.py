"""The send tools: ``send_email``, ``send_otp``, ``send_magic_link``, ``send_password_reset``.

Each stores one message through ``POST /v1/messages`` and answers at once with its
``message_id`` and status — ``queued`` (a worker sends it) or ``held`` (it waits for an
approver: a gated key, a ``hold`` rule) — never waiting for SMTP; ``wait_for_message``
does that. The argument caps are the HTTP API's own (:mod:`authmail_relay.api.fields`).
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from ..api.fields import (
    Code,
    Locale,
    Mailbox,
    Mailboxes,
    Metadata,
    ReplyTo,
    Subject,
    Tags,
    Token,
    Url,
    UserName,
)
from ..api.schemas import BODY_LIMIT
from ..db.idempotency import MAX_KEY_CHARS
from ..mail.composing import MAX_RECIPIENTS
from ..mail.message_request import MAX_EXPIRES_IN_SECONDS
from ..vocabulary import Kind, Priority
from .connect import Connector
from .failures import reported
from .outputs import SendResult, send_result

_AT_ONCE = (
    " Returns at once with message_id and status: queued (a worker sends it within "
    "seconds) or held (it waits for a person or rule to approve it). Call wait_for_message "
    "to learn whether it reached the upstream SMTP server before you proceed."
)
_SENDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

Sender = Annotated[
    Mailbox | None, Field(alias="from", description="Sender; default: the relay's SMTP_FROM.")
]
Lane = Annotated[
    Priority | None,
    Field(description="Delivery lane; auth mail defaults to high."),
]
ExpiresIn = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_EXPIRES_IN_SECONDS,
        description="Seconds until the mail must not be sent any more (the token's life).",
    ),
]
SendAt = Annotated[
    str | None,
    Field(
        max_length=40,
        description="RFC 3339 time with offset (e.g. 2026-12-08T09:00:00Z): send no earlier.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=MAX_KEY_CHARS,
        description="Same key and same arguments within a day: the first message, never a "
        "second one. Use it when you retry.",
    ),
]
OptionalTags = Annotated[Tags | None, Field(description="Up to 10 short labels.")]
OptionalMetadata = Annotated[
    Metadata | None, Field(description="Small JSON object (≤ 4 KiB) echoed in events.")
]
Body = Annotated[str | None, Field(max_length=BODY_LIMIT)]
Copies = Annotated[list[Mailbox] | None, Field(max_length=MAX_RECIPIENTS)]


def register(server: MCPServer, connector: Connector) -> None:
    """Add the send tools to ``server``."""

    @server.tool(
        description="Send one email (any content) through the relay." + _AT_ONCE,
        annotations=_SENDS,
        structured_output=True,
    )
    @reported
    async def send_email(
        ctx: Context,
        to: Mailboxes,
        subject: Subject,
        html: Annotated[Body, Field(description="HTML body; html or text is required.")] = None,
        text: Annotated[Body, Field(description="Plain-text body.")] = None,
        cc: Copies = None,
        bcc: Copies = None,
        from_: Sender = None,
        reply_to: Annotated[ReplyTo | None, Field(description="Reply-To address(es).")] = None,
        priority: Lane = None,
        tags: OptionalTags = None,
        metadata: OptionalMetadata = None,
        send_at: SendAt = None,
        expires_in: ExpiresIn = None,
        idempotency_key: IdempotencyKey = None,
    ) -> SendResult:
        return await _create(
            connector,
            ctx,
            to,
            kind=Kind.RAW,
            subject=subject,
            html_body=html,
            text_body=text,
            cc=cc,
            bcc=bcc,
            from_=from_,
            reply_to=reply_to,
            priority=priority,
            tags=tags,
            metadata=metadata,
            send_at=send_at,
            expires_in=expires_in,
            idempotency_key=idempotency_key,
        )

    @server.tool(
        description="Send a one-time sign-in code with the relay's built-in template "
        "(localised by locale)." + _AT_ONCE,
        annotations=_SENDS,
        structured_output=True,
    )
    @reported
    async def send_otp(
        ctx: Context,
        to: Mailbox,
        code: Annotated[Code, Field(description="The code to show, e.g. 482913.")],
        user_name: Annotated[UserName | None, Field(description="Greeting name.")] = None,
        locale: Annotated[Locale | None, Field(description="e.g. en, de, pt-BR.")] = None,
        from_: Sender = None,
        tags: OptionalTags = None,
        metadata: OptionalMetadata = None,
        expires_in: ExpiresIn = None,
        idempotency_key: IdempotencyKey = None,
    ) -> SendResult:
        return await _create(
            connector,
            ctx,
            to,
            kind=Kind.OTP,
            code=code,
            user_name=user_name,
            locale=locale,
            from_=from_,
            tags=tags,
            metadata=metadata,
            expires_in=expires_in,
            idempotency_key=idempotency_key,
        )

    _register_link_tool(
        server,
        connector,
        Kind.MAGIC_LINK,
        "send_magic_link",
        "Send a magic sign-in link with the built-in template: the relay builds the link "
        "from token and MAGIC_LINK_BASE_URL (or base_url).",
    )
    _register_link_tool(
        server,
        connector,
        Kind.PASSWORD_RESET,
        "send_password_reset",
        "Send a password-reset link with the built-in template, built like send_magic_link's.",
    )


def _register_link_tool(
    server: MCPServer, connector: Connector, kind: Kind, name: str, description: str
) -> None:
    """A tool sending a link of ``kind``: both link kinds take the same arguments."""

    @server.tool(
        name=name, description=description + _AT_ONCE, annotations=_SENDS, structured_output=True
    )
    @reported
    async def send_link(
        ctx: Context,
        to: Mailbox,
        token: Annotated[Token, Field(description="The token the link carries.")],
        user_name: Annotated[UserName | None, Field(description="Greeting name.")] = None,
        base_url: Annotated[Url | None, Field(description="Same origin as the relay's.")] = None,
        locale: Annotated[Locale | None, Field(description="e.g. en, de, pt-BR.")] = None,
        from_: Sender = None,
        tags: OptionalTags = None,
        metadata: OptionalMetadata = None,
        expires_in: ExpiresIn = None,
        idempotency_key: IdempotencyKey = None,
    ) -> SendResult:
        return await _create(
            connector,
            ctx,
            to,
            kind=kind,
            token=token,
            user_name=user_name,
            base_url=base_url,
            locale=locale,
            from_=from_,
            tags=tags,
            metadata=metadata,
            expires_in=expires_in,
            idempotency_key=idempotency_key,
        )


async def _create(
    connector: Connector, ctx: Context, to: str | list[str], **fields: Any
) -> SendResult:
    async with connector.client(ctx) as client:
        return send_result(await client.create_message(to, **fields))
