"""Taking over at once what a worker that provably died still holds under a lease.

Normally a crashed worker's messages and webhook deliveries wait until their lease runs
out (``LEASE_SECONDS``; two webhook timeouts plus five seconds). When a worker starts, it
looks at the owners of the live leases; those that
:func:`~authmail_relay.process_identity.owner_is_gone` proves dead (a process of this
machine and PID namespace that no longer runs) have their leases ended now, so the next
claim takes the work over (as ``reclaimed``, exactly as after a lease ran out). Nothing
else changes: a lease whose owner might still be alive — on another machine, in another
container, or with no way to tell — runs out as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..process_identity import owner_is_gone
from ..vocabulary import DeliveryStatus, MessageStatus
from .schema import messages, webhook_deliveries
from .sql import write_transaction

__all__ = ["release_orphaned_leases"]

#: At most this many distinct lease owners are looked at per table (there is one per
#: worker process that held work when it stopped).
_MAX_OWNERS = 1000


async def release_orphaned_leases(
    engine: AsyncEngine, *, is_gone: Callable[[str], bool] = owner_is_gone
) -> tuple[int, int]:
    """End the live leases of owners that *is_gone*; returns (messages, deliveries)."""
    async with write_transaction(engine, "take over the leases of stopped workers") as (
        conn,
        now,
    ):
        taken = await _release(conn, now, messages, MessageStatus.SENDING.value, is_gone)
        handed = await _release(
            conn, now, webhook_deliveries, DeliveryStatus.PENDING.value, is_gone
        )
    return taken, handed


async def _release(
    conn: AsyncConnection, now: int, table: Any, status: str, is_gone: Callable[[str], bool]
) -> int:
    held = (table.c.status == status) & (table.c.lease_expires_at >= now)
    owners = (
        await conn.execute(
            select(table.c.lease_owner)
            .where(held, table.c.lease_owner.is_not(None))
            .group_by(table.c.lease_owner)
            .limit(_MAX_OWNERS)
        )
    ).scalars()
    gone = [owner for owner in owners if is_gone(owner)]
    if not gone:
        return 0
    result = await conn.execute(
        table.update()
        .where(held, table.c.lease_owner.in_(gone))
        # Just expired: due for the next claim, which records the takeover.
        .values(lease_expires_at=now - 1)
    )
    return int(result.rowcount)
