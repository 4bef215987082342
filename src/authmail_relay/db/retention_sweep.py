"""The retention sweep: erase what finished messages no longer need (the I/O side of
:mod:`authmail_relay.retention`).

One sweep erases, in transactions of at most :data:`BATCH_ROWS` messages and at most
:data:`MAX_BATCHES` of them, the stored bytes of every terminal message past its
retention (``raw`` becomes empty, ``raw_size`` keeps the count, ``raw_purged_at`` says
when) and the own webhook (URL and secret) of those that can no longer report anything.
It works on the whole table, whichever process sent the messages. On PostgreSQL the
rows are picked with ``FOR UPDATE SKIP LOCKED``, so sweeps of several workers share the
work. On SQLite ``secure_delete`` is on (see :mod:`authmail_relay.db.engine`), so the
freed pages are zeroed, and a passive checkpoint at the end of a sweep moves them into the
database file at once.

:class:`RetentionSweeper` runs a sweep every ``RETENTION_SWEEP_SECONDS`` next to a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Update, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..mail.message_request import AUTH_KINDS
from ..periodic import Sweep
from ..retention import TERMINAL_STATUSES, RetentionPolicy
from ..settings import Settings
from ..vocabulary import DeliveryStatus, MessageStatus
from .schema import messages, webhook_deliveries
from .sql import checkpoint, write_transaction
from .write_gate import urgent_writes

__all__ = ["BATCH_ROWS", "MAX_BATCHES", "RetentionSweeper", "SweepResult", "sweep_batch"]

log = logging.getLogger("authmail_relay.retention")

#: Messages changed per transaction (short, so auth mail is never held up for long).
BATCH_ROWS = 200
#: Transactions per sweep; what is left waits for the next sweep.
MAX_BATCHES = 50

_TERMINAL = [status.value for status in TERMINAL_STATUSES]
_AUTH = sorted(kind.value for kind in AUTH_KINDS)


@dataclass(frozen=True)
class SweepResult:
    """How many messages had their bytes erased and their own webhook forgotten."""

    raw_erased: int = 0
    webhooks_forgotten: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.raw_erased + other.raw_erased,
            self.webhooks_forgotten + other.webhooks_forgotten,
        )

    @property
    def total(self) -> int:
        return self.raw_erased + self.webhooks_forgotten


def _past_retention(table: Any, policy: RetentionPolicy, now: int) -> Any:
    auth_cutoff, other_cutoff = policy.cutoffs(now)
    return and_(
        table.c.status.in_(_TERMINAL),
        or_(
            and_(table.c.kind.in_(_AUTH), table.c.updated_at <= auth_cutoff),
            and_(table.c.kind.not_in(_AUTH), table.c.updated_at <= other_cutoff),
        ),
    )


def _oldest_first(candidate: Any, limit: int, *conditions: ColumnElement[bool]) -> Select[Any]:
    """Ids of up to *limit* rows of *candidate* meeting *conditions*, least recently
    changed first, locked for this transaction (rows another sweep holds are skipped)."""
    return (
        select(candidate.c.id)
        .where(*conditions)
        .order_by(candidate.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def erase_raw_statement(policy: RetentionPolicy, now: int, limit: int) -> Update:
    """Erase the bytes of up to *limit* due messages, oldest change first."""
    candidate = messages.alias("candidate")
    unerased = candidate.c.raw_purged_at.is_(None)
    picked = _oldest_first(candidate, limit, unerased, _past_retention(candidate, policy, now))
    return (
        messages.update()
        .where(messages.c.id.in_(picked))
        # The right-hand sides read the row as it was: raw_size gets the old length.
        .values(raw=b"", raw_size=func.length(messages.c.raw), raw_purged_at=now)
    )


def forget_webhook_statement(policy: RetentionPolicy, now: int, limit: int) -> Update:
    """Forget the own webhook of up to *limit* messages that can report nothing more."""
    candidate = messages.alias("candidate")
    pending = (
        exists()
        .where(
            webhook_deliveries.c.message_id == candidate.c.id,
            webhook_deliveries.c.endpoint_id.is_(None),
            webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        .correlate(candidate)
    )
    settled = or_(
        candidate.c.status != MessageStatus.SENT.value,
        candidate.c.expires_at.is_(None),
        candidate.c.expires_at <= now,
    )
    picked = _oldest_first(
        candidate,
        limit,
        candidate.c.webhook_url.is_not(None),
        _past_retention(candidate, policy, now),
        settled,
        ~pending,
    )
    return (
        messages.update()
        .where(messages.c.id.in_(picked))
        .values(webhook_url=None, webhook_secret=None)
    )


async def sweep_batch(
    engine: AsyncEngine, policy: RetentionPolicy, *, limit: int = BATCH_ROWS
) -> SweepResult:
    """One transaction of the sweep: at most *limit* messages of each kind of change."""
    # Bookkeeping: never ahead of an auth mail being stored or claimed.
    with urgent_writes(False):
        async with write_transaction(engine, "erase finished messages") as (connection, now):
            erased = await connection.execute(erase_raw_statement(policy, now, limit))
            forgotten = await connection.execute(forget_webhook_statement(policy, now, limit))
    return SweepResult(int(erased.rowcount), int(forgotten.rowcount))


async def sweep(
    engine: AsyncEngine,
    policy: RetentionPolicy,
    *,
    limit: int = BATCH_ROWS,
    max_batches: int = MAX_BATCHES,
    stopping: Callable[[], bool] = lambda: False,
) -> SweepResult:
    """Batches until one comes back short, *max_batches* ran or *stopping* says so."""
    total = SweepResult()
    for _ in range(max_batches):
        if stopping():
            break
        result = await sweep_batch(engine, policy, limit=limit)
        total += result
        if result.raw_erased < limit and result.webhooks_forgotten < limit:
            break
    if total.total:
        await checkpoint(engine)  # once per sweep, not per batch (SQLite only)
    return total


class RetentionSweeper(Sweep):
    """Runs :func:`sweep` at start and then every ``RETENTION_SWEEP_SECONDS`` until
    :meth:`stop`; a failed sweep is logged and tried again at the next interval."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__("retention sweep", settings.retention_sweep_seconds, log)
        self._engine = engine
        self.policy = RetentionPolicy.from_seconds(
            settings.raw_retention_seconds_auth, settings.raw_retention_seconds
        )

    async def pass_(self) -> str | None:
        result = await sweep(self._engine, self.policy, stopping=self.stopping)
        if not result.total:
            return None
        return (
            f"erased the stored bytes of {result.raw_erased} finished message(s); "
            f"forgot {result.webhooks_forgotten} webhook(s)"
        )
