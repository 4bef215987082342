"""The relay core: accept a message durably, and answer questions about messages.

Every adapter (CLI, HTTP API, in-process callers) goes through one :class:`Relay`.
Accepting is *validate → render once to RFC 5322 bytes → commit*: once
:meth:`Relay.submit` returns, the message is a committed outbox row and will be sent
(or end in a documented terminal status); if the commit fails it raises
:class:`~authmail_relay.exceptions.StorageError` and nothing was accepted.

Oversight (docs/oversight.md): a send from a key in ``read_only`` mode is refused before
anything is stored; a gated key's send (or one a ``hold`` rule matches) is stored
``held`` and waits for :meth:`Relay.approve` or :meth:`Relay.reject` by someone else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType

from .compose_work import ComposeSlots
from .db import rate_store
from .db.audit_reads import MAX_FILTER_CHARS, MAX_LIST_LIMIT, AuditFilter, list_entries
from .db.engine import AsyncEngine, create_engine
from .db.idempotency import IdempotencyLink
from .db.migrate import is_current, upgrade
from .db.outbox import (
    ApprovalDecision,
    ApprovalOutcome,
    EventRecord,
    MessageRecord,
    NewMessage,
    Outbox,
    StoredAttempt,
)
from .db.sql import migrates_at_open
from .db.write_gate import urgent_writes
from .exceptions import ConfigurationError, PermissionDeniedError, RelayNotOpenError
from .ids import new_message_id
from .mail.composing import Composed, Draft, compose
from .mail.config import mail_settings
from .mail.message_content import build_draft, lifetime_seconds
from .mail.message_request import Envelope, MessageRequest, validate_request
from .mail.scheduling import send_at_ms
from .oversight.chain import AuditEntry
from .settings import Settings
from .status_waits import POLL_SECONDS, StatusWaits
from .trust.rate_limits import (
    AUTH_KINDS,
    Decision,
    Limit,
    all_kinds_limit,
    domain_limit,
    domain_of,
    key_request_limit,
    recipient_bucket_address,
    recipient_limit,
)
from .trust.requester import requester_key
from .trust.secrets_at_rest import load_keys
from .trust.sender_policy import check_sender
from .urgency import Urgency
from .vocabulary import Kind, MessageStatus, OversightMode, Priority
from .webhooks.ssrf import Resolver, UrlGuard

#: How often a waiting request re-reads the message when nothing in this process will
#: wake it (the worker runs in another process).
OUTCOME_POLL_SECONDS = POLL_SECONDS
#: Longest a request waits for DNS when checking a webhook URL before storing it.
WEBHOOK_CHECK_SECONDS = 2.0
_SETTLED = frozenset({MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.EXPIRED})


def delivery_settled(status: MessageStatus) -> bool:
    """True once SMTP has given its answer or the message expired: what the compatible
    ``/send`` routes wait for (the default of :meth:`Relay.wait_for_outcome`)."""
    return status in _SETTLED


def utc_now() -> datetime:
    """The wall clock, in UTC (the one clock seam of the core)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class AcceptedMessage:
    """A message the relay has committed to send."""

    id: str
    status: MessageStatus
    message_id: str
    created_at: int


@dataclass(frozen=True)
class MessageDetails:
    """A stored message with its history (never its body, tokens or codes)."""

    message: MessageRecord
    events: list[EventRecord]
    attempts: list[StoredAttempt]
    #: The message's audit entries, oldest first (see :meth:`Relay.audit_trail`).
    trail: list[AuditEntry] = field(default_factory=list)


class Relay:
    """The one async core. Use ``async with Relay(settings) as relay:``.

    On open, pending migrations are applied on SQLite when ``AUTO_MIGRATE`` is on;
    otherwise the schema must already be current (``authmail-relay db upgrade``).

    A message's ``webhook_url`` is checked against the webhook address policy
    (:mod:`authmail_relay.webhooks.ssrf`) before it is stored; ``webhook_resolver`` replaces the
    system resolver for that check (tests).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        webhook_resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        # Request-time resolution is a courtesy (the dispatcher checks again at every
        # attempt), so it gets a short bound rather than the full attempt timeout.
        self.webhook_urls = UrlGuard(
            settings.webhook_allow_hosts,
            resolver=webhook_resolver,
            resolve_timeout=min(WEBHOOK_CHECK_SECONDS, settings.webhook_timeout_seconds),
        )
        self._engine: AsyncEngine | None = None
        self._outbox: Outbox | None = None
        #: Set whenever a message is accepted, so an in-process worker wakes at once.
        self.new_work = asyncio.Event()
        #: Requests waiting for a message's status (see :meth:`wait_for_outcome`).
        self._waits = StatusWaits(poll_seconds=OUTCOME_POLL_SECONDS)
        #: Auth mail in progress here; an embedded worker holds bulk work back meanwhile.
        self.urgency = Urgency()
        #: Large messages are composed in a few threads, never on the event loop.
        self._compose_slots = ComposeSlots()

    async def __aenter__(self) -> Relay:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect to the database and make sure its schema is usable."""
        if self._engine is not None:
            return
        mail_settings(self.settings)  # branding, locale and template overrides: fail fast
        engine = create_engine(
            self.settings.database_url, busy_timeout_ms=self.settings.db_busy_timeout_ms
        )
        try:
            await self._prepare_schema(engine)
            keys = load_keys(self.settings)  # a missing key: one clear line, before any work
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._outbox = Outbox(
            engine,
            webhook_max_age_ms=int(self.settings.webhook_max_age_seconds * 1000),
            keys=keys,
        )

    async def _prepare_schema(self, engine: AsyncEngine) -> None:
        if self.settings.auto_migrate and migrates_at_open(engine):
            await upgrade(engine)
            return
        if not await is_current(engine):
            raise ConfigurationError(
                "the database schema is not current: run `authmail-relay db upgrade`"
            )

    async def close(self) -> None:
        """Release the database connections (and the compose threads)."""
        self._compose_slots.close()
        engine, self._engine, self._outbox = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    @property
    def outbox(self) -> Outbox:
        """The durable outbox (raises RelayNotOpenError before :meth:`open`)."""
        if self._outbox is None:
            raise RelayNotOpenError()
        return self._outbox

    def render(self, request: MessageRequest) -> Composed:
        """Validate and render without storing (what a dry run shows), on the calling
        thread; async callers use :meth:`preview`, which keeps large messages off the
        event loop.

        The webhook URL gets the checks that need no DNS; ``send_at`` gets every check a
        real send gets.
        """
        validate_request(request)
        self._send_at_ms(request)
        if request.webhook_url is not None:
            self.webhook_urls.check(request.webhook_url)
        return self._compose(request)[1]

    async def preview(self, request: MessageRequest) -> Composed:
        """:meth:`render`, with a large message composed in a thread (see
        :mod:`authmail_relay.compose_work`)."""
        return await self._compose_slots.run(request, lambda: self.render(request))

    def _compose(self, request: MessageRequest) -> tuple[Draft, Composed]:
        """Build, sender-check and compose *request* (pure; may run in a thread)."""
        draft = build_draft(request, self.settings)
        check_sender(draft, request, self.settings)
        return draft, compose(draft, now=self._clock())

    async def submit(
        self, request: MessageRequest, *, idempotency: IdempotencyLink | None = None
    ) -> AcceptedMessage:
        """Validate, render once and store a message; return once it is committed.

        With ``idempotency``, the stored message is linked to that key in the same
        transaction (see :mod:`authmail_relay.db.idempotency`).

        The request's ``oversight`` (None: ``OVERSIGHT_DEFAULT``) and the approval rules
        decide whether it is stored ``queued`` or ``held`` (the returned status says
        which); ``read_only`` is PermissionDeniedError ``read_only``, before anything is
        validated or stored.
        """
        outbox = self.outbox
        if self._oversight(request) is OversightMode.READ_ONLY:
            raise PermissionDeniedError(
                "this API key may not send (read_only)", error_code="read_only"
            )
        envelope = validate_request(request)
        send_at = self._send_at_ms(request)
        urgent = object() if envelope.priority is Priority.HIGH else None
        if urgent is not None:
            self.urgency.begin(urgent)  # from here until the worker has sent it
        try:
            if request.webhook_url is not None:
                # WebhookUrlError (a ValidationError) for a URL the relay will never call.
                await self.webhook_urls.check_with_dns(request.webhook_url)
            draft, composed = await self._compose_slots.run(request, lambda: self._compose(request))
            lifetime = lifetime_seconds(request, self.settings)
            with urgent_writes(urgent is not None):
                record = await self._store(
                    outbox,
                    request,
                    envelope,
                    draft,
                    composed,
                    lifetime,
                    send_at,
                    idempotency=idempotency,
                )
        except BaseException:
            if urgent is not None:
                self.urgency.end(urgent)
            raise
        if urgent is not None:
            if record.status is MessageStatus.HELD:
                self.urgency.end(urgent)  # nothing to hurry for until it is approved
            else:
                self.urgency.rename(urgent, record.id)
        if record.status is not MessageStatus.HELD:
            self.new_work.set()
        return AcceptedMessage(
            id=record.id,
            status=record.status,
            message_id=record.message_id,
            created_at=record.created_at,
        )

    async def _store(
        self,
        outbox: Outbox,
        request: MessageRequest,
        envelope: Envelope,
        draft: Draft,
        composed: Composed,
        lifetime: float | None,
        send_at: int | None,
        *,
        idempotency: IdempotencyLink | None,
    ) -> MessageRecord:
        """Store the composed message (and its limits and idempotency link) in one go."""
        return await outbox.enqueue(
            NewMessage(
                id=new_message_id(),
                kind=request.kind,
                priority=envelope.priority,
                sender=composed.envelope_from,
                recipients=composed.recipients,
                subject=draft.subject,
                message_id=composed.message_id,
                raw=composed.raw,
                tags=envelope.tags,
                meta=envelope.metadata,
                request_id=request.request_id,
                expires_in_ms=None if lifetime is None else int(lifetime * 1000),
                max_age_ms=int(self.settings.max_message_age_seconds * 1000),
                send_at_ms=send_at,
                webhook_url=request.webhook_url,
                webhook_secret=request.webhook_secret,
                api_key_id=request.api_key_id,
                oversight=self._oversight(request),
            ),
            idempotency=idempotency,
            limits=self._limits_for(request, envelope, composed.recipients),
        )

    def _oversight(self, request: MessageRequest) -> OversightMode:
        return request.oversight or self.settings.oversight_default

    def _send_at_ms(self, request: MessageRequest) -> int | None:
        """The send time *request* asks for in epoch ms (None: due at once), checked by the
        rules of :mod:`authmail_relay.mail.scheduling` against the message's lifetime."""
        return send_at_ms(
            request.send_at,
            now=self._clock(),
            lifetime_seconds=lifetime_seconds(request, self.settings),
        )

    def is_scheduled(self, request: MessageRequest) -> bool:
        """True when *request* asks to be sent later than now (its ``send_at`` is still
        ahead). ValidationError for a ``send_at`` that :meth:`submit` would refuse."""
        return self._send_at_ms(request) is not None

    async def count_key_request(self, key_id: str, per_minute: int) -> list[tuple[Limit, Decision]]:
        """Count one request by API key *key_id* against *per_minute* requests per
        sliding minute (0: unlimited, nothing is recorded, no decisions); returns the
        decision (what is left, for the RateLimit headers), or RateLimitedError (limit
        ``key``) when the key is over it. Stored in the database, so the limit holds
        across restarts and instances."""
        if per_minute <= 0:
            return []
        return await rate_store.count(self.outbox.engine, [key_request_limit(key_id, per_minute)])

    def _limits_for(
        self, request: MessageRequest, envelope: Envelope, recipients: Sequence[str]
    ) -> list[Limit]:
        """The limits an auth mail counts against (none for raw).

        Per mailbox (:func:`recipient_bucket_address`), across every API key: the
        ``recipient`` limit of its kind and the ``mailbox`` limit of all kinds together.
        Per requester (the API key, and the end-user IP when the app passed one): the
        ``domain`` limit of each recipient's domain.
        """
        if request.kind not in AUTH_KINDS:
            return []
        settings = self.settings
        window_ms = int(settings.recipient_window_seconds * 1000)
        interval_ms = int(settings.recipient_min_interval_seconds * 1000)
        domain_window_ms = int(settings.domain_window_seconds * 1000)
        requester = requester_key(request.api_key_id, envelope.end_user_network)
        limits = []
        for recipient in recipients:
            mailbox = recipient_bucket_address(recipient)
            limits += [
                recipient_limit(
                    request.kind, mailbox, settings.recipient_max_per_window, window_ms, interval_ms
                ),
                all_kinds_limit(mailbox, settings.recipient_max_per_window_all_kinds, window_ms),
                domain_limit(
                    domain_of(mailbox), requester, settings.domain_max_per_window, domain_window_ms
                ),
            ]
        return limits

    def notify_finished(self, message_id: str) -> None:
        """Called by an in-process worker when a message reached a final status."""
        self._waits.finished(message_id)

    async def wait_for_outcome(
        self,
        message_id: str,
        timeout: float,
        *,
        until: Callable[[MessageStatus], bool] = delivery_settled,
        read_first: bool = False,
    ) -> MessageRecord:
        """The message once ``until(status)`` holds, or as it is when ``timeout`` passes.

        ``until`` defaults to :func:`delivery_settled` (sent, failed or expired: what
        ``/send`` waits for); the long poll of ``GET /v1/messages/{id}`` passes
        ``MessageStatus.ends_wait``. With ``read_first`` the message is read at once
        (NotFoundError for an unknown id; no wait when ``until`` already holds); without
        it the first read waits for the worker's signal or the first poll, as suits a
        message just stored.

        An in-process worker, and :meth:`cancel` through this relay, wake the waiter at
        once; a worker in another process is noticed by reading the message every
        ``OUTCOME_POLL_SECONDS``. No database connection is held while waiting
        (:mod:`authmail_relay.status_waits`).
        """
        return await self._waits.wait(
            message_id,
            lambda: self.outbox.get_message(message_id),
            timeout,
            until=until,
            read_first=read_first,
        )

    async def cancel(self, message_id: str) -> MessageRecord:
        """Withdraw a held, queued or deferred message (ConflictError otherwise); a
        request waiting on it here is woken at once."""
        record = await self.outbox.cancel(message_id)
        self._waits.wake(message_id)
        return record

    async def consume(self, message_id: str) -> MessageRecord:
        """Record that the link or code in a sent message was used."""
        return await self.outbox.consume(message_id)

    async def approve(
        self, message_id: str, actor: str, reason: str | None = None
    ) -> MessageRecord:
        """Approve a held message as *actor* (the approving key's id, or ``cli``); an
        in-process worker is woken at once. Errors: see :meth:`Outbox.approve` (among
        them ``self_approval`` when *actor* made the message)."""
        record = await self.outbox.approve(message_id, actor, reason)
        self.new_work.set()
        return record

    async def reject(self, message_id: str, actor: str, reason: str) -> MessageRecord:
        """Reject a held message as *actor*, with a reason (never sent)."""
        return await self.outbox.reject(message_id, actor, reason)

    async def decide_many(
        self, decisions: Sequence[ApprovalDecision], actor: str
    ) -> list[ApprovalOutcome]:
        """Up to 100 approvals and rejections as *actor*, one outcome each (see
        :meth:`Outbox.decide_many`)."""
        outcomes = await self.outbox.decide_many(decisions, actor)
        if any(o.record is not None and o.record.status is MessageStatus.QUEUED for o in outcomes):
            self.new_work.set()
        return outcomes

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
        """Held messages waiting for a decision, newest first (see :meth:`Outbox.list_held`)."""
        return await self.outbox.list_held(
            api_key_id=api_key_id,
            kind=kind,
            tag=tag,
            older_than_ms=older_than_ms,
            limit=limit,
            before_id=before_id,
        )

    async def get_message(self, message_id: str) -> MessageDetails:
        """A message with its events and attempts; NotFoundError if unknown."""
        outbox = self.outbox
        record = await outbox.get_message(message_id)
        events = await outbox.list_events(message_id)
        attempts = await outbox.list_attempts(message_id)
        return MessageDetails(record, events, attempts, await self.audit_trail(message_id))

    async def audit_trail(self, message_id: str) -> list[AuditEntry]:
        """The audit entries about *message_id*, oldest first (at most
        :data:`~authmail_relay.db.audit_reads.MAX_LIST_LIMIT`)."""
        wanted = AuditFilter(subject=message_id[:MAX_FILTER_CHARS])
        return await list_entries(
            self.outbox.engine, wanted, limit=MAX_LIST_LIMIT, oldest_first=True
        )

    async def list_messages(
        self, *, status: MessageStatus | None = None, limit: int = 50, before_id: str | None = None
    ) -> list[MessageRecord]:
        """Newest first, optionally filtered by status."""
        return await self.outbox.list_messages(status=status, limit=limit, before_id=before_id)
