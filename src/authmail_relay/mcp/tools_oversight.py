"""The oversight tools: ``list_pending_approvals``, ``decide_approval``, ``get_audit_log``.

They act with the caller's key like the HTTP routes do: approving needs the ``approve``
scope and never works on the key's own sends (``self_approval``, the core's rule), the
audit log needs the ``audit`` scope. Nothing here creates keys or webhooks or changes a
key's oversight mode or the rules: those stay with administrators, over HTTP or the CLI.
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import AwareDatetime, Field

from ..api.fields import Tag
from ..db.approvals import MAX_REASON_CHARS
from ..vocabulary import AuditAction, Kind
from .connect import Connector
from .failures import reported
from .outputs import AuditLog, MessageList, MessageOut, audit_log, message_list, message_out
from .tools_messages import UNTRUSTED, Cursor, MessageId

MAX_PAGE = 200
#: The longest hold the older_than filter takes (a year), as the HTTP API.
MAX_OLDER_THAN = 366 * 86400
_READS = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def register(server: MCPServer, connector: Connector) -> None:
    """Add the oversight tools to ``server``."""

    @server.tool(
        description="Held messages waiting for a decision, newest first (needs the approve "
        "scope). Review each with get_message before deciding." + UNTRUSTED,
        annotations=_READS,
        structured_output=True,
    )
    @reported
    async def list_pending_approvals(
        ctx: Context,
        kind: Annotated[Kind | None, Field(description="Only this kind.")] = None,
        tag: Annotated[Tag | None, Field(description="Only messages with this tag.")] = None,
        older_than: Annotated[
            int | None, Field(ge=0, le=MAX_OLDER_THAN, description="Held at least this long (s).")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20,
        cursor: Cursor = None,
    ) -> MessageList:
        async with connector.client(ctx) as client:
            page = await client.list_approvals(
                kind=kind, tag=tag, older_than=older_than, limit=limit, cursor=cursor
            )
            return message_list(page)

    @server.tool(
        description="Approve (it is queued and sent) or reject (never sent) one held message, "
        "with a reason; rejecting needs one. Needs the approve scope, and a key can never "
        "decide on a message it sent itself (self_approval). Recorded in the audit trail "
        "under your key.",
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=True,
        ),
        structured_output=True,
    )
    @reported
    async def decide_approval(
        ctx: Context,
        message_id: MessageId,
        decision: Literal["approve", "reject"],
        reason: Annotated[
            str | None, Field(max_length=MAX_REASON_CHARS, description="Why; one line.")
        ] = None,
    ) -> MessageOut:
        async with connector.client(ctx) as client:
            if decision == "approve":
                return message_out(await client.approve(message_id, reason=reason))
            return message_out(await client.reject(message_id, reason=reason or ""))

    @server.tool(
        description="The relay's tamper-evident audit trail, newest first (needs the audit "
        "scope): who accepted, held, approved, rejected, sent, consumed each message and who "
        "changed keys, webhooks and rules." + UNTRUSTED,
        annotations=_READS,
        structured_output=True,
    )
    @reported
    async def get_audit_log(
        ctx: Context,
        message_id: Annotated[
            str | None, Field(max_length=64, description="Only entries about this id.")
        ] = None,
        action: Annotated[AuditAction | None, Field(description="Only this action.")] = None,
        since: Annotated[AwareDatetime | None, Field(description="RFC 3339, inclusive.")] = None,
        until: Annotated[AwareDatetime | None, Field(description="RFC 3339, exclusive.")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 50,
        cursor: Annotated[
            str | None, Field(max_length=32, description="next_cursor of the last page.")
        ] = None,
    ) -> AuditLog:
        async with connector.client(ctx) as client:
            page = await client.list_audit(
                message=message_id,
                action=action,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
            return audit_log(page)
