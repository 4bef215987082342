"""The audit trail in the database: appending to the chain (reading it back:
:mod:`authmail_relay.db.audit_reads`).

Entries are appended **inside the transaction of the change they record**, as its last
statements: a write stages its entries on the connection (:func:`stage`) and the
outbox's write transaction appends them just before it commits (:func:`flush`); stores
outside the outbox call :func:`append` as the last step of their transaction. Appending
takes the audit lock (:func:`~authmail_relay.db.sql.lock_until_commit`; on SQLite the
write transaction already runs alone), reads the head, chains the new entries onto it
(:mod:`authmail_relay.oversight.chain`) and inserts them, so the chain is serialised
across every process sharing the database. The lock is held from the append to the
commit and is always the last lock a transaction takes, so it cannot deadlock.

Triggers (migration 0008) refuse UPDATE and DELETE of ``audit`` rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..oversight.chain import GENESIS, AuditEntry, NewAuditEntry, chain_entries, encode_data
from .schema import audit
from .sql import lock_until_commit

__all__ = ["AUDIT_LOCK", "append", "entry_from_row", "flush", "head", "stage"]

#: The advisory lock key that serialises appends on PostgreSQL (a fixed 64-bit constant).
AUDIT_LOCK = 0x61756469745F6C6B
#: Key in a connection's ``info`` holding entries staged for the current transaction.
_STAGED = "authmail_audit_staged"


def stage(connection: AsyncConnection, entries: Sequence[NewAuditEntry]) -> None:
    """Keep *entries* for :func:`flush` at the end of the caller's transaction."""
    if entries:
        connection.info.setdefault(_STAGED, []).extend(entries)


async def flush(connection: AsyncConnection, now: int) -> list[AuditEntry]:
    """Append what was staged on *connection* (nothing staged: no statement at all)."""
    staged: list[NewAuditEntry] = connection.info.pop(_STAGED, [])
    if not staged:
        return []
    return await append(connection, now, staged)


async def head(connection: AsyncConnection) -> tuple[int, str]:
    """The chain's last ``(seq, hash)``; ``(0, GENESIS)`` when it is empty."""
    row = (
        await connection.execute(
            select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)
        )
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


async def append(
    connection: AsyncConnection, now: int, entries: Sequence[NewAuditEntry]
) -> list[AuditEntry]:
    """Chain *entries* onto the head and insert them, in the caller's transaction, which
    must commit soon after (the audit lock is held until then)."""
    if not entries:
        return []
    await lock_until_commit(connection, AUDIT_LOCK)
    head_seq, head_hash = await head(connection)
    chained = chain_entries(head_seq, head_hash, now, entries)
    await connection.execute(
        audit.insert(),
        [
            {
                "seq": entry.seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "subject": entry.subject,
                "data": encode_data(entry.data),
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
            for entry in chained
        ],
    )
    return chained


def entry_from_row(row: object) -> AuditEntry:
    """An :class:`AuditEntry` from a selected ``audit`` row."""
    values = row._mapping  # type: ignore[attr-defined]
    return AuditEntry(
        seq=int(values["seq"]),
        at=int(values["at"]),
        actor=values["actor"],
        action=values["action"],
        subject=values["subject"],
        data=json.loads(values["data"]),
        prev_hash=values["prev_hash"],
        hash=values["hash"],
    )
