"""Reading the audit trail back: listings, the whole chain in pages, and checkpoints
(verification is :mod:`authmail_relay.db.audit_verify`).

Contracts:

* :func:`list_entries` returns at most :data:`MAX_LIST_LIMIT` entries matching every
  filter given, **newest first** (``before_seq`` pages backwards); with
  ``oldest_first=True`` it returns them in chain order (``after_seq`` pages forwards).
* :func:`iter_entries` and :func:`iter_checkpoints` walk everything in ``seq`` order, one
  page of :data:`PAGE_SIZE` rows per query, so memory stays constant however long the
  chain is; each page is its own short read (appends go on meanwhile, at the end).
* :func:`store_checkpoint` inserts a checkpoint unless one for that ``seq`` exists, so
  several processes making checkpoints of the same head store it once.

Database failures are :class:`~authmail_relay.exceptions.StorageError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import ValidationError
from ..oversight.chain import AuditEntry, Checkpoint
from .audit_store import entry_from_row
from .engine import read_only, storage_errors
from .schema import audit, audit_checkpoints
from .sql import insert_unless_present

__all__ = [
    "MAX_FILTER_CHARS",
    "MAX_LIST_LIMIT",
    "PAGE_SIZE",
    "AuditFilter",
    "iter_checkpoints",
    "iter_entries",
    "latest_checkpoint",
    "list_entries",
    "store_checkpoint",
]

#: Most entries one listing returns.
MAX_LIST_LIMIT = 500
#: Rows per query when walking the whole chain.
PAGE_SIZE = 1000
#: Longest subject, actor or action a filter may name (ids are far shorter).
MAX_FILTER_CHARS = 200


@dataclass(frozen=True)
class AuditFilter:
    """What a listing keeps: every field given must match (None: any). ``since`` and
    ``until`` are epoch milliseconds, ``since <= at < until``."""

    subject: str | None = None
    actor: str | None = None
    action: str | None = None
    since: int | None = None
    until: int | None = None

    def check(self) -> None:
        """ValidationError naming the first over-long text filter."""
        for name in ("subject", "actor", "action"):
            value = getattr(self, name)
            if value is not None and (len(value) > MAX_FILTER_CHARS or not value):
                raise ValidationError(
                    f"{name} must be 1 to {MAX_FILTER_CHARS} characters", field=name
                )


def _filtered(query: Select[tuple[object, ...]], wanted: AuditFilter) -> Select[tuple[object, ...]]:
    table = audit.c
    if wanted.subject is not None:
        query = query.where(table.subject == wanted.subject)
    if wanted.actor is not None:
        query = query.where(table.actor == wanted.actor)
    if wanted.action is not None:
        query = query.where(table.action == wanted.action)
    if wanted.since is not None:
        query = query.where(table.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(table.at < wanted.until)
    return query


async def list_entries(
    engine: AsyncEngine,
    wanted: AuditFilter = AuditFilter(),
    *,
    limit: int = 50,
    before_seq: int | None = None,
    after_seq: int | None = None,
    oldest_first: bool = False,
) -> list[AuditEntry]:
    """Up to *limit* (1 to :data:`MAX_LIST_LIMIT`) entries matching *wanted* with
    ``after_seq < seq < before_seq``; newest first unless *oldest_first*."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIST_LIMIT}", field="limit")
    wanted.check()
    query = _filtered(select(audit), wanted)
    if before_seq is not None:
        query = query.where(audit.c.seq < before_seq)
    if after_seq is not None:
        query = query.where(audit.c.seq > after_seq)
    order = audit.c.seq.asc() if oldest_first else audit.c.seq.desc()
    query = query.order_by(order).limit(limit)
    with storage_errors("read the audit trail"):
        async with read_only(engine).connect() as connection:
            rows = (await connection.execute(query)).all()
    return [entry_from_row(row) for row in rows]


async def _in_seq_order(
    engine: AsyncEngine, table: Table, after_seq: int, page: int, action: str
) -> AsyncIterator[Any]:
    """Every row of *table* (``audit`` or ``audit_checkpoints``) with ``seq`` above
    *after_seq*, in ``seq`` order, *page* rows per query (constant memory)."""
    last = after_seq
    while True:
        query = select(table).where(table.c.seq > last).order_by(table.c.seq).limit(page)
        with storage_errors(action):
            async with read_only(engine).connect() as connection:
                rows = (await connection.execute(query)).all()
        for row in rows:
            last = int(row.seq)
            yield row
        if len(rows) < page:
            return


async def iter_entries(
    engine: AsyncEngine, *, after_seq: int = 0, page: int = PAGE_SIZE
) -> AsyncIterator[AuditEntry]:
    """Every entry after *after_seq*, in ``seq`` order, *page* rows per query."""
    async for row in _in_seq_order(engine, audit, after_seq, page, "read the audit trail"):
        yield entry_from_row(row)


def _checkpoint(row: object) -> Checkpoint:
    values = row._mapping  # type: ignore[attr-defined]
    return Checkpoint(
        seq=int(values["seq"]),
        head_hash=str(values["head_hash"]),
        at=int(values["at"]),
        key_id=str(values["key_id"]),
        signature=str(values["signature"]),
    )


async def iter_checkpoints(
    engine: AsyncEngine, *, after_seq: int = -1, page: int = PAGE_SIZE
) -> AsyncIterator[Checkpoint]:
    """Every stored checkpoint after *after_seq*, in ``seq`` order, *page* per query."""
    rows = _in_seq_order(engine, audit_checkpoints, after_seq, page, "read the audit checkpoints")
    async for row in rows:
        yield _checkpoint(row)


async def latest_checkpoint(connection: AsyncConnection) -> Checkpoint | None:
    """The checkpoint with the highest ``seq``, if any."""
    table = audit_checkpoints
    query = select(table).order_by(table.c.seq.desc()).limit(1)
    row = (await connection.execute(query)).first()
    return None if row is None else _checkpoint(row)


async def store_checkpoint(connection: AsyncConnection, checkpoint: Checkpoint) -> Checkpoint:
    """Insert *checkpoint* unless its ``seq`` has one; returns the stored one."""
    values = {
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "at": checkpoint.at,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }
    await connection.execute(
        insert_unless_present(connection, audit_checkpoints, values, key=["seq"])
    )
    table = audit_checkpoints
    row = (await connection.execute(select(table).where(table.c.seq == checkpoint.seq))).one()
    return _checkpoint(row)
