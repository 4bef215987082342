"""Text the commands print, as pure functions (standard library only).

Times are shown in UTC as ``YYYY-MM-DD HH:MM:SS``; recipient addresses are masked and
message bodies never shown. Nothing here reads the database or the clock: the commands
fetch the records and print what these functions return.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..redaction import mask_address

if TYPE_CHECKING:  # annotations only: the records come from modules of the [http] extra
    from ..db.outbox_records import MessageRecord
    from ..relay import MessageDetails

__all__ = ["MESSAGE_LIST_HEADER", "format_ms", "message_line", "render_details"]

#: The header row of ``messages list``; :func:`message_line` fills its columns.
MESSAGE_LIST_HEADER = (
    f"{'ID':<30} {'STATUS':<9} {'PRIO':<6} {'TRIES':>5}  {'CREATED (UTC)':<19}  TO / SUBJECT"
)


def format_ms(ms: int | None) -> str:
    """Epoch milliseconds as ``YYYY-MM-DD HH:MM:SS`` (UTC); ``-`` for none."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def message_line(record: MessageRecord) -> str:
    """One row of ``messages list``: the first recipient masked, the subject cut at 40."""
    to = mask_address(record.recipients[0]) if record.recipients else "-"
    more = f" +{len(record.recipients) - 1}" if len(record.recipients) > 1 else ""
    columns = f"{record.id:<30} {record.status:<9} {record.priority:<6}"
    columns += f" {record.attempt_count:>5}  {format_ms(record.created_at):<19}"
    return f"{columns}  {to}{more} / {record.subject[:40]}"


def render_details(details: MessageDetails) -> str:
    """Human-readable view of one message: no body, recipients masked."""
    m = details.message
    lines = [
        f"id:          {m.id}",
        f"status:      {m.status}",
        f"kind:        {m.kind}   priority: {m.priority}",
        f"message-id:  {m.message_id}",
        f"subject:     {m.subject}",
        f"to:          {', '.join(mask_address(r) for r in m.recipients)}",
        f"created:     {format_ms(m.created_at)}",
        f"expires:     {format_ms(m.expires_at) if m.expires_at else 'never'}",
        f"attempts:    {m.attempt_count}",
    ]
    if m.last_error_code:
        lines.append(f"last error:  {m.last_error_code}: {m.last_error_message or ''}")
    if m.decided_by:
        reason = f" — {m.decision_reason}" if m.decision_reason else ""
        lines.append(f"decided:     {format_ms(m.decided_at)} by {m.decided_by}{reason}")
    if details.attempts:
        lines.append("attempts:")
        for a in details.attempts:
            flags = " ambiguous" if a.ambiguous else ""
            flags += " superseded" if a.superseded else ""
            code = f" {a.smtp_code}" if a.smtp_code else ""
            lines.append(
                f"  #{a.number} {format_ms(a.started_at)} {a.upstream} {a.result}"
                f"{f' {a.error_code}' if a.error_code else ''}{code}{flags}"
                f"{f' — {a.smtp_reply}' if a.smtp_reply else ''}"
            )
    lines.append("events:")
    for e in details.events:
        lines.append(f"  {format_ms(e.created_at)} {e.type}")
    return "\n".join(lines)
