"""The durable outbox: messages, their leases, attempts and events in the database.

Every state change is one transaction that updates the message row and writes its event
(and, for a finished attempt, the attempt row), so the three never disagree. A message is
worked on only under a lease: :meth:`Outbox.claim` hands it to one worker with a random
token until ``lease_expires_at``; the worker reports the result with that token. When a
lease runs out, the next claim takes the message over; the old worker's late report is
then refused (its attempt is still recorded, marked ``superseded``). All times come from
the database clock. Errors of the database or its driver surface as
:class:`~authmail_relay.exceptions.StorageError` and mean nothing was committed.

See ``docs/storage.md`` for the guarantees in full.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..trust.rate_limits import Limit
from ..vocabulary import ErrorCode, EventType, MessageStatus, Priority
from .group_commit import GroupCommit
from .outbox_actions import OutboxActions
from .outbox_events import NewEvent
from .outbox_queries import claim_statement, event_data, lease_guard
from .outbox_reads import OutboxReader, message_exists
from .outbox_records import (
    AttemptRecord,
    Claim,
    EventRecord,
    MessageRecord,
    NewMessage,
    StoredAttempt,
    load_strings,
)
from .rate_store import record, reserve
from .schema import SMTP_REPLY_MAX_CHARS, attempts, messages
from .wakeups import announce_due
from .write_gate import urgent_writes

__all__ = [
    "AttemptRecord",
    "Claim",
    "EventRecord",
    "MessageRecord",
    "NewMessage",
    "Outbox",
    "OutboxActions",
    "OutboxReader",
    "StoredAttempt",
]

#: Results recorded per transaction by the group commit (see Outbox._finish_all).
_RESULTS_PER_TRANSACTION = 4
#: Stored error messages are cut to this many characters.
ERROR_MESSAGE_MAX_CHARS = 1000
_EXPIRED_MESSAGE = "expired before it could be sent"


class Outbox(OutboxActions):
    """Durable message store over an engine from :func:`authmail_relay.db.create_engine`.

    Reads (``get_message``, ``list_*``, ``count_by_status``, ``next_due_at``,
    ``db_now_ms``) come from :class:`~authmail_relay.db.outbox_reads.OutboxReader`; the
    caller's writes (``enqueue``, ``cancel``, ``consume``) from
    :class:`~authmail_relay.db.outbox_actions.OutboxActions`. This class adds the workers'
    side: claims, lease extension and result reports. The
    engine must be migrated (:func:`authmail_relay.db.upgrade`); the outbox does not own
    it, so dispose of the engine yourself. Safe to share between tasks, and any number of
    processes may use the same database concurrently.
    """

    #: Batches result reports into shared transactions (made on first use, in the loop).
    _finishes: GroupCommit[_Finish, bool] | None = None

    async def claim(
        self,
        *,
        worker_id: str,
        limit: int,
        lease_ms: int,
        priorities: Collection[Priority] | None = None,
        send_cap: Limit | None = None,
    ) -> list[Claim]:
        """Lease up to *limit* due messages to *worker_id* for *lease_ms* milliseconds.

        Only messages of the given ``priorities`` when that is not None. Returns them in
        claim order: priority (high, normal, low), then due time, then id.
        A message under an expired lease is due too and comes back with
        ``reclaimed=True``. Each claimed message gets a ``message.sending`` event in the
        same transaction. Concurrent claimers never receive the same message.

        With *send_cap* (the global sending rate), at most as many messages as its window
        still has room for are claimed, and each claim is recorded in its bucket in the
        same transaction; the rest stay due and wait for a later claim.
        """
        if lease_ms <= 0:
            raise ValueError("lease_ms must be positive")
        if limit <= 0:
            return []
        token = secrets.token_urlsafe(18)
        async with self._write("claim messages") as (connection, now):
            if send_cap is not None:
                limit = await reserve(connection, now, send_cap, limit)
                if limit <= 0:
                    return []
            statement = claim_statement(
                now=now,
                limit=limit,
                lease_ms=lease_ms,
                token=token,
                worker_id=worker_id,
                priorities=priorities,
            )
            rows = (await connection.execute(statement)).mappings().all()
            if send_cap is not None and send_cap.quota > 0:
                await record(connection, now, send_cap, len(rows))
            await self._add_events(
                connection,
                now,
                *(
                    NewEvent(
                        row["id"],
                        EventType.SENDING,
                        MessageStatus.SENDING,
                        event_data(
                            attempt=row["attempt_count"] + 1,
                            reclaimed=bool(row["lease_reclaimed"]),
                            worker_id=worker_id,
                        ),
                    )
                    for row in rows
                ),
            )
        ordered = sorted(rows, key=lambda r: (r["priority_rank"], r["next_attempt_at"], r["id"]))
        return [
            Claim(
                id=row["id"],
                lease_token=token,
                sender=row["sender"],
                recipients=load_strings(row["recipients"]),
                raw=bytes(row["raw"]),
                message_id=row["message_id"],
                priority=Priority(row["priority"]),
                attempt_number=row["attempt_count"] + 1,
                created_at=row["created_at"],
                expires_at=row["expires_at"],
                give_up_at=row["give_up_at"],
                claimed_at=now,
                lease_expires_at=row["lease_expires_at"],
                reclaimed=bool(row["lease_reclaimed"]),
                worker_id=worker_id,
            )
            for row in ordered
        ]

    async def extend_lease(self, claim: Claim, lease_ms: int) -> Claim | None:
        """Push the lease to ``now + lease_ms``; ``None`` if the lease was lost."""
        if lease_ms <= 0:
            raise ValueError("lease_ms must be positive")
        async with self._write("extend the lease") as (connection, now):
            result = await connection.execute(
                messages.update()
                .where(lease_guard(claim.id, claim.lease_token))
                .values(lease_expires_at=now + lease_ms)
            )
            if result.rowcount != 1:
                return None
        return replace(claim, lease_expires_at=now + lease_ms)

    async def mark_sent(
        self, claim: Claim, attempt: AttemptRecord, *, error_message: str | None = None
    ) -> bool:
        """The upstream server accepted the message: status ``sent`` (terminal).

        ``attempt.error_code`` and *error_message* may describe a partial success, e.g.
        some recipients refused. Returns False, changing nothing but recording the attempt
        as superseded, if the lease was lost.
        """
        return await self._finish(
            claim,
            attempt,
            status=MessageStatus.SENT,
            event_type=EventType.SENT,
            error_code=attempt.error_code,
            error_message=error_message,
        )

    async def mark_deferred(
        self, claim: Claim, attempt: AttemptRecord, *, retry_at: int, error_message: str
    ) -> bool:
        """A transient failure: status ``deferred``, claimable again from *retry_at*.

        Returns False (attempt recorded as superseded, message untouched) if the lease
        was lost.
        """
        return await self._finish(
            claim,
            attempt,
            status=MessageStatus.DEFERRED,
            event_type=EventType.DEFERRED,
            error_code=attempt.error_code,
            error_message=error_message,
            retry_at=retry_at,
        )

    async def mark_failed(
        self,
        claim: Claim,
        attempt: AttemptRecord | None,
        *,
        error_code: ErrorCode,
        error_message: str,
    ) -> bool:
        """Give up: status ``failed`` (terminal). *attempt* is None when none was made.

        Returns False if the lease was lost (an attempt, if given, is recorded as
        superseded).
        """
        return await self._finish(
            claim,
            attempt,
            status=MessageStatus.FAILED,
            event_type=EventType.FAILED,
            error_code=error_code,
            error_message=error_message,
        )

    async def mark_expired(self, claim: Claim, attempt: AttemptRecord | None = None) -> bool:
        """``expires_at`` passed (or a retry would land after it): status ``expired``.

        ``attempt`` is the failed attempt that led here, if any; it is recorded like any
        other. Without one, no attempt is counted.
        """
        return await self._finish(
            claim,
            attempt,
            status=MessageStatus.EXPIRED,
            event_type=EventType.EXPIRED,
            error_code=ErrorCode.EXPIRED,
            error_message=_EXPIRED_MESSAGE,
        )

    async def release(self, claim: Claim) -> bool:
        """Hand the message back unsent (status ``queued``, due at once); no attempt counted."""
        async with self._write("release the message") as (connection, now):
            result = await connection.execute(
                messages.update()
                .where(lease_guard(claim.id, claim.lease_token))
                .values(
                    status=MessageStatus.QUEUED.value,
                    next_attempt_at=now,
                    lease_token=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return False
            data = event_data(worker_id=claim.worker_id or None)
            await self._add_events(
                connection, now, NewEvent(claim.id, EventType.REQUEUED, MessageStatus.QUEUED, data)
            )
            await announce_due(connection, claim.priority.value)  # due at once, for anyone
        return True

    async def record_attempt(self, claim: Claim, attempt: AttemptRecord) -> Claim | None:
        """Record a failed attempt and keep the lease: the worker tries another upstream
        at once (failover). The attempt counts (result ``deferred``), the message stays
        ``sending``; returns the claim for the next attempt, or None (the attempt recorded
        as superseded) if the lease was lost.
        """
        error_code = None if attempt.error_code is None else attempt.error_code.value
        async with self._write("record the attempt") as (connection, now):
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

    async def _finish(
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
        """Record one result; results finishing together share a transaction."""
        if self._finishes is None:
            # Short transactions, so an auth mail waiting to be stored or claimed gets in
            # between them.
            self._finishes = GroupCommit(self._finish_all, max_batch=_RESULTS_PER_TRANSACTION)
        return await self._finishes.submit(
            _Finish(claim, attempt, status, event_type, error_code, error_message, retry_at)
        )

    async def _finish_all(self, finishes: Sequence[_Finish]) -> list[bool]:
        # Bookkeeping: never ahead of an auth mail being stored or claimed.
        with urgent_writes(False):
            async with self._write("record the results") as (connection, now):
                written = [await self._finish_in(connection, now, f) for f in finishes]
                # The events last, in one go: the messages show their new state by now.
                await self._add_events(connection, now, *(e for e in written if e))
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


@dataclass(frozen=True)
class _Finish:
    """One result waiting for the group commit of :meth:`Outbox._finish`."""

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
