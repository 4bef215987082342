"""Workers reporting results: sent, deferred, failed, expired, and failed-over attempts.

The SQL behind ``Outbox.mark_*`` and ``Outbox.record_attempt``
(:class:`authmail_relay.db.outbox.Outbox` documents each contract). A result changes the
message row only while the worker's lease still holds it; the attempt row is written
either way (marked ``superseded`` when the lease was lost), so no attempt is forgotten.
Results that finish at about the same moment share one transaction
(:class:`~authmail_relay.db.group_commit.GroupCommit`), at most
:data:`RESULTS_PER_TRANSACTION` of them, so an auth mail waiting to be stored or claimed
gets in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..vocabulary import ErrorCode, EventType, MessageStatus
from .group_commit import GroupCommit
from .outbox_events import NewEvent
from .outbox_queries import event_data, lease_guard
from .outbox_reads import message_exists
from .outbox_records import AttemptRecord, Claim
from .outbox_writer import OutboxWriter
from .schema import SMTP_REPLY_MAX_CHARS, attempts, messages
from .write_gate import urgent_writes

__all__ = [
    "ERROR_MESSAGE_MAX_CHARS",
    "EXPIRED_MESSAGE",
    "RESULTS_PER_TRANSACTION",
    "Results",
    "record_attempt",
]

#: Results recorded per transaction by the group commit.
RESULTS_PER_TRANSACTION = 4
#: Stored error messages are cut to this many characters.
ERROR_MESSAGE_MAX_CHARS = 1000
#: The error message stored with status ``expired``.
EXPIRED_MESSAGE = "expired before it could be sent"


class Results:
    """The final results of claims, written through *writer*; results finishing together
    share a transaction. Safe to share between tasks of one event loop."""

    def __init__(self, writer: OutboxWriter) -> None:
        self._writer = writer
        #: Batches result reports into shared transactions (made on first use, in the loop).
        self._commits: GroupCommit[_Finish, bool] | None = None

    async def finish(
        self,
        claim: Claim,
        attempt: AttemptRecord | None,
        *,
        status: MessageStatus,
        event_type: EventType,
        error_code: ErrorCode | None,
        error_message: str | None,
        retry_at: int | None = None,
    ) -> bool:
        """Record one result: the message gets *status* and an *event_type* event, and
        *attempt* (if any) is counted. False (the attempt kept as superseded, the message
        untouched) if the lease was lost."""
        if self._commits is None:
            # Short transactions, so an auth mail waiting to be stored or claimed gets in
            # between them.
            self._commits = GroupCommit(self._finish_all, max_batch=RESULTS_PER_TRANSACTION)
        return await self._commits.submit(
            _Finish(claim, attempt, status, event_type, error_code, error_message, retry_at)
        )

    async def _finish_all(self, finishes: Sequence[_Finish]) -> list[bool]:
        # Bookkeeping: never ahead of an auth mail being stored or claimed.
        with urgent_writes(False):
            async with self._writer.write("record the results") as (connection, now):
                written = [await self._finish_in(connection, now, f) for f in finishes]
                # The events last, in one go: the messages show their new state by now.
                await self._writer.add_events(connection, now, *(e for e in written if e))
        return [event is not None for event in written]

    async def _finish_in(
        self, connection: AsyncConnection, now: int, finish: _Finish
    ) -> NewEvent | None:
        """Update the message and write the attempt; returns the event to write, or None
        if the lease was lost (the attempt is then kept as superseded)."""
        claim, attempt, status, error_code = (
            finish.claim,
            finish.attempt,
            finish.status,
            finish.error_code,
        )
        changes: dict[str, Any] = {
            "status": status.value,
            "lease_token": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "last_error_code": None if error_code is None else error_code.value,
            "last_error_message": _cut(finish.error_message, ERROR_MESSAGE_MAX_CHARS),
        }
        if status is MessageStatus.SENT:
            changes["sent_at"] = now
        if finish.retry_at is not None:
            changes["next_attempt_at"] = finish.retry_at
        if attempt is not None:
            changes["attempt_count"] = messages.c.attempt_count + 1
        result = await connection.execute(
            messages.update().where(lease_guard(claim.id, claim.lease_token)).values(changes)
        )
        owned = result.rowcount == 1
        if attempt is not None:
            await _insert_attempt(connection, claim, attempt, status, owned=owned)
        if not owned:
            return None
        data = event_data(
            attempt=None if attempt is None else claim.attempt_number,
            error_code=None if error_code is None else error_code.value,
            smtp_code=None if attempt is None else attempt.smtp_code,
            ambiguous=True if attempt is not None and attempt.ambiguous else None,
            retry_at=finish.retry_at,
        )
        return NewEvent(
            claim.id,
            finish.event_type,
            status,
            data,
            smtp_reply=None if attempt is None else attempt.smtp_reply,
            refused=() if attempt is None else attempt.refused,
        )


async def record_attempt(
    writer: OutboxWriter, claim: Claim, attempt: AttemptRecord
) -> Claim | None:
    error_code = None if attempt.error_code is None else attempt.error_code.value
    async with writer.write("record the attempt") as (connection, now):
        result = await connection.execute(
            messages.update()
            .where(lease_guard(claim.id, claim.lease_token))
            .values(
                attempt_count=messages.c.attempt_count + 1,
                last_error_code=error_code,
                updated_at=now,
            )
        )
        owned = result.rowcount == 1
        await _insert_attempt(connection, claim, attempt, MessageStatus.DEFERRED, owned=owned)
    if not owned:
        return None
    return replace(claim, attempt_number=claim.attempt_number + 1)


@dataclass(frozen=True)
class _Finish:
    """One result waiting for the group commit of :meth:`Results.finish`."""

    claim: Claim
    attempt: AttemptRecord | None
    status: MessageStatus
    event_type: EventType
    error_code: ErrorCode | None
    error_message: str | None
    retry_at: int | None


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


async def _insert_attempt(
    connection: AsyncConnection,
    claim: Claim,
    attempt: AttemptRecord,
    result: MessageStatus,
    *,
    owned: bool,
) -> None:
    """Write the attempt row; one by a worker that lost its lease is kept as superseded
    (unless the message itself is gone)."""
    if not owned and not await message_exists(connection, claim.id):
        return
    await connection.execute(
        attempts.insert().values(
            message_id=claim.id,
            number=claim.attempt_number,
            worker_id=claim.worker_id,
            upstream=attempt.upstream,
            started_at=attempt.started_at,
            finished_at=attempt.finished_at,
            result=result.value,
            error_code=None if attempt.error_code is None else attempt.error_code.value,
            smtp_code=attempt.smtp_code,
            smtp_reply=_cut(attempt.smtp_reply, SMTP_REPLY_MAX_CHARS),
            ambiguous=attempt.ambiguous,
            superseded=not owned,
        )
    )
