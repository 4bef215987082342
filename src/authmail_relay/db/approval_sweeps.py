"""The SQL of the oversight sweep: held messages that expired, sent ones nobody used.

Behind ``Outbox.expire_held`` and ``Outbox.mark_unused``; the loop that calls them is
:mod:`authmail_relay.oversight_sweep`. Each call is one transaction of at most *limit*
messages, picked oldest expiry first (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so
the sweeps of several processes share the work instead of waiting on each other), then
changed under the same conditions and given their events (actor ``relay``). So a message
is expired or reported unused once, whichever process gets to it.
"""

from __future__ import annotations

from sqlalchemy import select

from ..vocabulary import EventType, Kind, MessageStatus
from .approvals import expire_held_ids
from .outbox_events import NewEvent
from .outbox_writer import OutboxWriter
from .schema import messages

__all__ = ["expire_held", "mark_unused"]


async def expire_held(writer: OutboxWriter, *, limit: int) -> int:
    """Held messages whose ``expires_at`` passed become ``expired``; how many did."""
    async with writer.write("expire held messages") as (connection, now):
        picked = await connection.execute(
            select(messages.c.id)
            .where(messages.c.status == MessageStatus.HELD.value, messages.c.expires_at <= now)
            .order_by(messages.c.expires_at, messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [row.id for row in picked]
        return len(await expire_held_ids(writer, connection, now, ids))


async def mark_unused(writer: OutboxWriter, *, limit: int) -> int:
    """Sent auth messages past ``expires_at`` with no consume report get ``unused_at`` and
    a ``message.unused`` event (status stays ``sent``); how many did. Raw mail is never
    reported: it carries no link or code to use."""
    async with writer.write("report unused messages") as (connection, now):
        unused = (
            messages.c.status == MessageStatus.SENT.value,
            messages.c.unused_at.is_(None),
            messages.c.expires_at.is_not(None),
            messages.c.expires_at <= now,
            messages.c.kind != Kind.RAW.value,
        )
        picked = await connection.execute(
            select(messages.c.id)
            .where(*unused)
            .order_by(messages.c.expires_at, messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [row.id for row in picked]
        if not ids:
            return 0
        changed = await connection.execute(
            messages.update()
            .where(messages.c.id.in_(ids), *unused)
            .values(unused_at=now)
            .returning(messages.c.id)
        )
        marked = sorted(row.id for row in changed)
        await writer.add_events(
            connection,
            now,
            *(NewEvent(i, EventType.UNUSED, MessageStatus.SENT) for i in marked),
        )
        return len(marked)
