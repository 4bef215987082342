"""The durable outbox: messages, their leases, attempts and events in the database.

Every state change is one transaction that updates the message row and writes its event
(and, for a finished attempt, the attempt row), so the three never disagree. A message is
worked on only under a lease: :meth:`Outbox.claim` hands it to one worker with a random
token until ``lease_expires_at``; the worker reports the result with that token. When a
lease runs out, the next claim takes the message over; the old worker's late report is
then refused (its attempt is still recorded, marked ``superseded``). All times come from
the database clock. Errors of the database or its driver surface as
:class:`~authmail_relay.exceptions.StorageError` and mean nothing was committed.

:class:`Outbox` is the index of every operation; each method's SQL is in the module of
its concept: ``outbox_reads`` (reading), ``outbox_actions`` (storing, cancelling,
consuming), ``approvals`` and ``approval_batches`` (deciding held messages, one or many),
``approval_sweeps`` (expiring held messages, reporting unused ones), ``outbox_claims``
(claiming and leasing), ``outbox_results`` (finishing).
See ``docs/storage.md`` for the guarantees in full.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from ..trust.rate_limits import Limit
from ..vocabulary import ErrorCode, EventType, Kind, MessageStatus, Priority
from . import (
    approval_batches,
    approval_sweeps,
    approvals,
    outbox_actions,
    outbox_claims,
    outbox_reads,
    outbox_results,
)
from .approval_batches import ApprovalDecision, ApprovalOutcome
from .engine import read_only
from .idempotency import IdempotencyLink
from .outbox_events import DEFAULT_WEBHOOK_MAX_AGE_MS
from .outbox_records import (
    AttemptRecord,
    Claim,
    EventRecord,
    MessageRecord,
    NewMessage,
    StoredAttempt,
)
from .outbox_writer import OutboxWriter

if TYPE_CHECKING:
    from ..trust.secrets_at_rest import AtRestKeys

__all__ = [
    "ApprovalDecision",
    "ApprovalOutcome",
    "AttemptRecord",
    "Claim",
    "EventRecord",
    "MessageRecord",
    "NewMessage",
    "Outbox",
    "StoredAttempt",
]


class Outbox:
    """Durable message store over an engine from :func:`authmail_relay.db.create_engine`.

    The engine must be migrated (:func:`authmail_relay.db.upgrade`); the outbox does not
    own it, so dispose of the engine yourself. Safe to share between tasks, and any number
    of processes may use the same database concurrently.

    ``webhook_max_age_ms`` is how long the webhook deliveries that the outbox's writes fan
    out are retried (``WEBHOOK_MAX_AGE_SECONDS``); reads do not use it. ``keys`` (the
    relay's :class:`~authmail_relay.trust.secrets_at_rest.AtRestKeys`) seal per-request
    webhook secrets and key the recipient hashes of webhook bodies; the relay always
    passes them. Without keys (tools, tests) secrets are stored as given and hashes are
    unkeyed.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        webhook_max_age_ms: int = DEFAULT_WEBHOOK_MAX_AGE_MS,
        keys: AtRestKeys | None = None,
    ) -> None:
        self._reader = read_only(engine)
        self._writer = OutboxWriter(engine, webhook_max_age_ms=webhook_max_age_ms, keys=keys)
        self._results = outbox_results.Results(self._writer)
        #: Set when a transaction of this outbox committed new webhook deliveries, so a
        #: dispatcher in the same process sends them at once (others poll).
        self.webhooks_due: asyncio.Event = self._writer.webhooks_due

    @property
    def engine(self) -> AsyncEngine:
        return self._writer.engine

    @property
    def keys(self) -> AtRestKeys | None:
        """The secrets keys the outbox seals and hashes with (None: none given)."""
        return self._writer.keys

    def hash_address(self, address: str) -> str:
        """The recipient hash webhook bodies show for *address*."""
        return self._writer.hash_address(address)

    # --- Reading (outbox_reads) -------------------------------------------------------
    # Plain (deferred) transactions: on SQLite they see a consistent snapshot without
    # waiting for writers.

    async def db_now_ms(self) -> int:
        """The database clock, in epoch milliseconds: the time base of every timestamp.

        Also serves as a readiness probe: StorageError if the database does not answer.
        """
        return await outbox_reads.db_now_ms(self._reader)

    async def get_message(self, message_id: str) -> MessageRecord:
        """The message *message_id* (without its body); NotFoundError if there is none."""
        return await outbox_reads.get_message(self._reader, message_id)

    async def list_messages(
        self,
        *,
        status: MessageStatus | None = None,
        tag: str | None = None,
        recipient: str | None = None,
        created_after: int | None = None,
        created_before: int | None = None,
        api_key_id: str | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[MessageRecord]:
        """Up to *limit* (1 to 200) messages, newest first (by id), matching every filter given.

        * *status*: in this status.
        * *tag*: one of the message's tags is exactly *tag* (case-sensitive).
        * *recipient*: one of its envelope recipients is this whole address; ASCII letters
          compare case-insensitively, anything else exactly (give the domain as stored: a
          lower-case IDNA A-label).
        * *created_after* <= ``created_at`` < *created_before* (epoch ms, database clock).
        * *api_key_id*: created with this API key fingerprint.

        For the next page pass the last id seen as *before_id*. A *limit* out of range is a
        ValidationError (a ValueError) naming ``limit``.
        """
        return await outbox_reads.list_messages(
            self._reader,
            status=status,
            tag=tag,
            recipient=recipient,
            created_after=created_after,
            created_before=created_before,
            api_key_id=api_key_id,
            limit=limit,
            before_id=before_id,
        )

    async def list_events(self, message_id: str) -> list[EventRecord]:
        """The message's events, oldest first; NotFoundError if there is no such message."""
        return await outbox_reads.list_events(self._reader, message_id)

    async def list_attempts(self, message_id: str) -> list[StoredAttempt]:
        """The message's recorded attempts, oldest first; NotFoundError if no such message."""
        return await outbox_reads.list_attempts(self._reader, message_id)

    async def count_by_status(self) -> dict[MessageStatus, int]:
        """How many messages are in each status (every status present, zero included)."""
        return await outbox_reads.count_by_status(self._reader)

    async def next_due_at(self) -> int | None:
        """When the next message becomes claimable (epoch ms), or None if none is waiting.

        Lets a worker sleep until then instead of polling. The time may be in the past.
        """
        return await outbox_reads.next_due_at(self._reader)

    # --- Storing, cancelling, consuming (outbox_actions) ------------------------------
    # What callers do to messages. Each call is one transaction that changes the message
    # row and writes its event together.

    async def enqueue(
        self,
        message: NewMessage,
        *,
        idempotency: IdempotencyLink | None = None,
        limits: Sequence[Limit] = (),
    ) -> MessageRecord:
        """Store *message* as ``queued`` and write its ``message.queued`` event, atomically.

        Unless the oversight says otherwise: the approval rules are read in the same
        transaction and, with ``message.oversight``, decide the intake
        (:func:`~authmail_relay.oversight.rules.decide_intake`). A held message is stored
        ``held`` with a ``message.held`` event instead (it keeps its send time as
        ``next_attempt_at``, and no worker is woken); a gated send an ``approve`` rule let
        through is stored ``queued`` with ``decided_by`` the rule's id and a
        ``message.approved`` event by the rule; a monitored key's send gets a
        ``message.monitored`` event too. A ``read_only`` message is refused
        (PermissionDeniedError ``read_only``) and nothing is stored.

        With *idempotency* (from ``IdempotencyStore.begin``), the idempotency key is pointed
        at the new message in the same transaction. If the request no longer owns the key
        (its lock was taken over) or the key already points at a message, nothing is
        stored and ConflictError (``idempotency_key_in_use``) is raised.

        *limits* (rate-limit buckets, see :mod:`authmail_relay.db.rate_store`) are checked
        and recorded in the same transaction: if one refuses, RateLimitedError is raised
        and nothing is stored.
        """
        return await outbox_actions.enqueue(
            self._writer, message, idempotency=idempotency, limits=limits
        )

    async def cancel(self, message_id: str) -> MessageRecord:
        """Withdraw a ``queued`` or ``deferred`` message: status ``cancelled`` (terminal).

        Sets ``cancelled_at``, clears any lease and writes ``message.cancelled``, in one
        transaction guarded by the status, so a worker claiming the message at the same
        moment either gets it (and the cancel fails) or never sees it. Returns the updated
        record. NotFoundError for an unknown id; ConflictError (``not_cancellable``) for any
        other status: a ``sending`` message is being handed to SMTP right now, and the rest
        are final.
        """
        return await outbox_actions.cancel(self._writer, message_id)

    async def consume(self, message_id: str) -> MessageRecord:
        """Record that the link or code in a ``sent`` message was used: status ``consumed``.

        Sets ``consumed_at`` and writes ``message.consumed``. Consuming a ``consumed``
        message again returns it unchanged (no second event). NotFoundError for an unknown
        id; ConflictError (``not_consumable``) for any status other than those two.
        """
        return await outbox_actions.consume(self._writer, message_id)

    # --- Deciding held messages (approvals, approval_sweeps) ----------------------------
    # Each decision is one transaction guarded by the held status: of two approvers at
    # once, exactly one changes the message.

    async def approve(
        self, message_id: str, actor: str, reason: str | None = None
    ) -> MessageRecord:
        """Approve a ``held`` message: it becomes ``queued``, due at
        ``max(now, next_attempt_at)`` (so a future send time still holds), with
        ``decided_at``/``decided_by``/``decision_reason`` set and a ``message.approved``
        event by *actor* (a key id, or ``cli``). Workers in other processes are notified
        on commit when it is due.

        NotFoundError for an unknown id; PermissionDeniedError (``self_approval``) when
        *actor* is the key that made the message; ConflictError (``not_held``) for any
        other status; ValidationError for a reason longer than 500 characters or holding
        a control character. A held message past its ``expires_at`` is marked
        ``expired`` (``message.expired``, committed) and ConflictError
        (``message_expired``) is raised.
        """
        return await approvals.approve(self._writer, message_id, actor, reason)

    async def reject(self, message_id: str, actor: str, reason: str) -> MessageRecord:
        """Reject a ``held`` message: status ``rejected`` (terminal, never sent), with
        a ``message.rejected`` event. The *reason* is required (ValidationError
        ``reason_required``); otherwise the errors of :meth:`approve`."""
        return await approvals.reject(self._writer, message_id, actor, reason)

    async def decide_many(
        self, decisions: Sequence[ApprovalDecision], actor: str
    ) -> list[ApprovalOutcome]:
        """Up to 100 decisions, each in its own transaction, with one outcome each (the
        record, or the error code the single call would have raised). ValidationError
        for an empty or oversized batch, a repeated id or an unknown action."""
        return await approval_batches.decide_many(self._writer, decisions, actor)

    async def list_held(
        self,
        *,
        api_key_id: str | None = None,
        kind: Kind | None = None,
        tag: str | None = None,
        older_than_ms: int | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[MessageRecord]:
        """Held messages, newest first, matching every filter given: made by
        *api_key_id*, of *kind*, tagged *tag*, held for at least *older_than_ms*. Pages
        like :meth:`list_messages` (*before_id*, *limit* 1 to 200)."""
        return await approvals.list_held(
            self._reader,
            api_key_id=api_key_id,
            kind=kind,
            tag=tag,
            older_than_ms=older_than_ms,
            limit=limit,
            before_id=before_id,
        )

    async def expire_held(self, *, limit: int) -> int:
        """Mark up to *limit* held messages past their ``expires_at`` ``expired`` (never
        sent), each with ``message.expired``, in one transaction; returns how many."""
        return await approval_sweeps.expire_held(self._writer, limit=limit)

    async def mark_unused(self, *, limit: int) -> int:
        """Set ``unused_at`` on up to *limit* sent auth messages past their
        ``expires_at`` that nobody reported consumed, each with ``message.unused``
        (status stays ``sent``), in one transaction; returns how many."""
        return await approval_sweeps.mark_unused(self._writer, limit=limit)

    # --- Claiming and leasing (outbox_claims) -----------------------------------------
    # The workers' side: a message is worked on only under the lease a claim gave it.

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
        return await outbox_claims.claim(
            self._writer,
            worker_id=worker_id,
            limit=limit,
            lease_ms=lease_ms,
            priorities=priorities,
            send_cap=send_cap,
        )

    async def extend_lease(self, claim: Claim, lease_ms: int) -> Claim | None:
        """Push the lease to ``now + lease_ms``; ``None`` if the lease was lost."""
        return await outbox_claims.extend_lease(self._writer, claim, lease_ms)

    async def release(self, claim: Claim) -> bool:
        """Hand the message back unsent (status ``queued``, due at once); no attempt counted."""
        return await outbox_claims.release(self._writer, claim)

    # --- Finishing and results (outbox_results) ---------------------------------------
    # A result counts only while the worker's lease holds; a late one changes nothing but
    # is kept as a superseded attempt. Results finishing together share a transaction.

    async def mark_sent(
        self, claim: Claim, attempt: AttemptRecord, *, error_message: str | None = None
    ) -> bool:
        """The upstream server accepted the message: status ``sent`` (terminal).

        ``attempt.error_code`` and *error_message* may describe a partial success, e.g.
        some recipients refused. Returns False, changing nothing but recording the attempt
        as superseded, if the lease was lost.
        """
        return await self._results.finish(
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
        return await self._results.finish(
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
        return await self._results.finish(
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
        return await self._results.finish(
            claim,
            attempt,
            status=MessageStatus.EXPIRED,
            event_type=EventType.EXPIRED,
            error_code=ErrorCode.EXPIRED,
            error_message=outbox_results.EXPIRED_MESSAGE,
        )

    async def record_attempt(self, claim: Claim, attempt: AttemptRecord) -> Claim | None:
        """Record a failed attempt and keep the lease: the worker tries another upstream
        at once (failover). The attempt counts (result ``deferred``), the message stays
        ``sending``; returns the claim for the next attempt, or None (the attempt recorded
        as superseded) if the lease was lost.
        """
        return await outbox_results.record_attempt(self._writer, claim, attempt)
