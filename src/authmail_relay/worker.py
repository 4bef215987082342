"""The delivery worker: claim due messages under a lease, send them, record the result.

One :class:`Worker` runs a claim loop and up to ``WORKER_CONCURRENCY`` deliveries at a
time. Slots are shared between the priority lanes by :class:`~authmail_relay.lanes.LaneSlots`
(reserved slots for high priority; a guaranteed share for low). Messages go out through
the configured upstreams (:mod:`authmail_relay.upstreams`): each has a pool of reused
connections and a circuit breaker, and the first healthy one in order is used. A
delivery reads top to bottom: *expired? → pick an upstream → send (checking expiry and
the lease again just before MAIL FROM) → on an upstream failure of an auth mail, try the
next upstream at once → decide (pure retry policy) → record with a guarded update*.
Times come from the database clock: the claim carries the database's "now", and the
worker adds the monotonic time elapsed since.

Stopping (:meth:`Worker.stop`, wired to SIGTERM by the CLI) stops claiming at once, lets
in-flight sends finish within ``shutdown_grace_seconds``, then cancels the rest and
hands their messages back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .circuit_breaker import fails_over
from .db.write_gate import urgent_writes
from .dkim_signing import DkimSigner, SigningError
from .dkim_store import KeyStore
from .exceptions import StorageError
from .lanes import LaneSlots
from .outbox import AttemptRecord, Claim, Outbox
from .rate_limits import Limit
from .retry import Expire, GiveUp, Retry, RetryPolicy, Sent, decide
from .settings import Settings
from .smtp_config import SmtpConfig
from .smtp_outcome import Outcome
from .smtp_pool import SessionFactory
from .task_pool import TaskPool
from .upstreams import Upstream, UpstreamAlert, Upstreams
from .urgency import Urgency
from .vocabulary import Priority

log = logging.getLogger("authmail_relay.worker")

#: Longest a bulk send waits for auth mail in progress before it goes anyway.
URGENT_HOLD_SECONDS = 0.25
_HIGH_LANE = frozenset({Priority.HIGH})
_LOW_LANE = frozenset({Priority.LOW})
_OTHER_LANES = frozenset({Priority.NORMAL, Priority.LOW})


@dataclass
class _Timing:
    """Database time for one claim: its claim-time ``now`` plus monotonic time since."""

    claimed_at_ms: int
    started: float = field(default_factory=time.monotonic)

    def now_ms(self) -> int:
        return self.claimed_at_ms + int((time.monotonic() - self.started) * 1000)


def default_worker_id() -> str:
    """``host:pid:random`` — unique enough to tell lease owners apart in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


class Worker:
    """Sends queued messages until stopped (or, with ``until_idle``, until none is due).

    ``smtp`` is the first upstream; ``settings.smtp_fallbacks`` (SMTP2_* …) follow it in
    failover order. ``on_alert`` is called when an upstream's breaker opens.
    """

    def __init__(
        self,
        outbox: Outbox,
        smtp: SmtpConfig,
        settings: Settings,
        *,
        worker_id: str | None = None,
        wake: asyncio.Event | None = None,
        session_factory: SessionFactory | None = None,
        rand: Callable[[], float] = random.random,
        on_finished: Callable[[str], None] | None = None,
        on_alert: Callable[[UpstreamAlert], None] | None = None,
        signer: DkimSigner | None = None,
        urgency: Urgency | None = None,
    ) -> None:
        self.outbox = outbox
        self.smtp = smtp
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.policy = RetryPolicy(
            base_delay_ms=int(settings.retry_base_seconds * 1000),
            max_delay_ms=int(settings.retry_max_seconds * 1000),
        )
        self._wake = wake or asyncio.Event()
        self._stop = asyncio.Event()
        #: Auth mail in progress in this process (the API's): bulk work steps aside.
        self._urgency = urgency
        if urgency is not None:
            urgency.on_calm(self._wake.set)
        self._rand = rand
        self._in_flight = TaskPool()
        self.lanes = LaneSlots(
            settings.worker_concurrency,
            reserved=settings.high_priority_reserved,
            low_share=settings.low_priority_share,
        )
        #: The upstreams in failover order, each with its connection pool and breaker.
        self.upstreams = Upstreams(
            (smtp, *settings.smtp_fallbacks),
            pool_size=settings.pool_size,
            reserved_for_high=settings.high_priority_reserved,
            max_idle_seconds=settings.smtp_max_idle_seconds,
            max_age_seconds=settings.smtp_max_connection_age_seconds,
            failure_threshold=settings.smtp_breaker_failures,
            cooldown_seconds=settings.smtp_breaker_cooldown_seconds,
            session_factory=session_factory,
            on_alert=on_alert,
        )
        self._on_finished = on_finished or (lambda _message_id: None)
        #: The global sending rate (SEND_RATE_PER_MINUTE), shared through the database by
        #: every worker on it; None when unlimited.
        self._send_cap = (
            Limit(
                "send",
                "send:global",
                settings.send_rate_per_minute,
                int(settings.send_rate_window_seconds * 1000),
            )
            if settings.send_rate_per_minute > 0
            else None
        )
        #: Lanes whose last claim came back short: nothing more is due in them until new
        #: work is signalled or a poll interval passes, so they are not asked again (an
        #: empty claim still costs a write transaction).
        self._drained: set[Priority] = set()
        self._scanned_at = 0.0
        #: Monotonic time of the last loop turn; readiness checks call a stale one dead.
        self.last_beat = time.monotonic()
        self.running = False
        #: DKIM keys, read once (ConfigurationError here names a bad key file).
        self.signer = (
            signer if signer is not None else DkimSigner(KeyStore(settings.dkim_keys_dir).keys())
        )

    def stop(self) -> None:
        """Ask the worker to stop claiming and shut down gracefully."""
        self._stop.set()
        self._wake.set()

    async def run(self, *, until_idle: bool = False) -> None:
        """Deliver until :meth:`stop` (or until nothing is due, with ``until_idle``)."""
        log.info("worker %s started", self.worker_id)
        self.running = True
        try:
            while not self._stop.is_set():
                self.last_beat = time.monotonic()
                if not self.upstreams.has_available():
                    # Every breaker is open: leave the messages queued (no attempt burnt)
                    # until one may be probed.
                    if until_idle and not self._in_flight:
                        break
                    await self._idle_wait(self.upstreams.seconds_until_available())
                    continue
                self._forget_drained_lanes()
                looked_everywhere = not self._drained
                claims = await self._claim_lanes()
                for claim in claims:
                    task = self._in_flight.spawn(self._deliver(claim, _Timing(claim.claimed_at)))
                    self.lanes.track(task, claim.priority)
                if claims:
                    continue
                if until_idle and not self._in_flight:
                    if looked_everywhere:
                        break
                    self._drained.clear()  # one full look before calling the queue empty
                    continue
                await self._idle_wait()
        finally:
            self.running = False
            await self._shutdown()
        log.info("worker %s stopped", self.worker_id)

    async def _claim_lanes(self) -> list[Claim]:
        """Fill free slots: high priority first, into any slot; then low priority up to its
        guaranteed share; then normal (and low, if normal runs dry) into the rest of the
        slots not reserved for high priority."""
        lanes = self.lanes
        with urgent_writes():
            high = await self._claim(lanes.free(), _HIGH_LANE)
        general_free = lanes.general_free(len(high))
        if general_free <= 0 or (self._urgency is not None and self._urgency.active):
            return high
        low = await self._claim(lanes.low_room(general_free), _LOW_LANE)
        return high + low + await self._claim(general_free - len(low), _OTHER_LANES)

    def _forget_drained_lanes(self) -> None:
        """Look at every lane again after new work was signalled or a poll interval."""
        now = time.monotonic()
        if self._wake.is_set() or now - self._scanned_at >= self.settings.poll_interval_seconds:
            if not self._stop.is_set():
                self._wake.clear()
            self._drained.clear()
            self._scanned_at = now

    async def _claim(self, limit: int, lanes: frozenset[Priority]) -> list[Claim]:
        if limit <= 0 or lanes <= self._drained:
            return []
        claims = await self._claim_from(limit, lanes)
        if len(claims) < limit:
            self._drained |= lanes
        return claims

    async def _claim_from(self, limit: int, lanes: frozenset[Priority]) -> list[Claim]:
        try:
            return await self.outbox.claim(
                worker_id=self.worker_id,
                limit=limit,
                lease_ms=self.settings.lease_ms,
                priorities=lanes,
                send_cap=self._send_cap,
            )
        except StorageError as exc:
            log.error("claim failed: %s", exc)
            return []

    async def _idle_wait(self, at_most: float | None = None) -> None:
        """Sleep until new work is signalled, a delivery finishes, a poll is due or stop."""
        timeout = self.settings.poll_interval_seconds
        if at_most is not None:
            timeout = min(timeout, max(at_most, 0.01))
        await self._in_flight.wait_any(self._wake, timeout)

    async def _shutdown(self) -> None:
        if len(self._in_flight):
            log.info(
                "waiting up to %.0fs for %d send(s)",
                self.settings.shutdown_grace_seconds,
                len(self._in_flight),
            )
        await self._in_flight.drain(self.settings.shutdown_grace_seconds)
        await self.upstreams.close()

    async def _deliver(self, claim: Claim, timing: _Timing) -> None:
        current: Claim | None = claim
        tried: list[Upstream] = []
        try:
            if _expired(claim, timing.now_ms()):
                await self._expire(claim)
                return
            if self._urgency is not None and claim.priority is not Priority.HIGH:
                # Let an auth mail in progress through an uncrowded loop first (bounded).
                await self._urgency.calm(at_most=URGENT_HOLD_SECONDS)
            raw = self._signed(claim)
            while current is not None:
                upstream = self.upstreams.choose(exclude=tried)
                if upstream is None:
                    # Every breaker opened meanwhile: back to the queue, no attempt counted.
                    await self.outbox.release(current)
                    return
                tried.append(upstream)
                current = await self._attempt(upstream, current, raw, timing, tried)
        except asyncio.CancelledError:
            if current is not None:
                with contextlib.suppress(StorageError):
                    await asyncio.shield(self.outbox.release(current))
            raise
        except StorageError as exc:
            # The lease will expire and another attempt will be made; see docs/storage.md.
            log.error("could not record the result of %s: %s", claim.id, exc)

    async def _attempt(
        self,
        upstream: Upstream,
        claim: Claim,
        raw: bytes,
        timing: _Timing,
        tried: list[Upstream],
    ) -> Claim | None:
        """One attempt on *upstream*; returns the claim to try on the next upstream, or
        None when the message is settled for now (recorded, expired or lease lost)."""
        started = timing.now_ms()
        try:
            outcome = await self._send(upstream, claim, raw, timing)
        except BaseException:
            self.upstreams.abandon(upstream)
            raise
        if outcome is None:
            self.upstreams.abandon(upstream)
            return None
        self.upstreams.report(upstream, outcome)
        attempt = AttemptRecord(
            started_at=started,
            finished_at=timing.now_ms(),
            upstream=upstream.name,
            error_code=outcome.error_code,
            smtp_code=outcome.smtp_code,
            smtp_reply=outcome.smtp_reply,
            ambiguous=outcome.ambiguous,
            refused=outcome.refused,
        )
        if fails_over(outcome, claim.priority) and self.upstreams.has_available(exclude=tried):
            log.info(
                "%s attempt %d on %s: %s; trying the next upstream",
                claim.id,
                claim.attempt_number,
                upstream.name,
                outcome.error_code.value if outcome.error_code else "failed",
            )
            return await asyncio.shield(self.outbox.record_attempt(claim, attempt))
        await self._record(claim, outcome, attempt)
        return None

    async def _send(
        self, upstream: Upstream, claim: Claim, raw: bytes, timing: _Timing
    ) -> Outcome | None:
        """Run the SMTP transaction; None when it was called off before MAIL FROM (the
        message expired, which is recorded here, or the lease was lost)."""
        verdict: list[str] = []

        async def before_mail() -> bool:
            now = timing.now_ms()
            if _expired(claim, now):
                verdict.append("expired")
                return False
            if claim.lease_expires_at - now < self._lease_margin_ms():
                renewed = await self.outbox.extend_lease(claim, self.settings.lease_ms)
                if renewed is None:
                    verdict.append("lease lost")
                    return False
            return True

        async with upstream.pool.session(high=claim.priority is Priority.HIGH) as session:
            outcome = await session.send(
                claim.sender,
                claim.recipients,
                raw,
                smtputf8=not (
                    claim.sender.isascii() and all(r.isascii() for r in claim.recipients)
                ),
                before_mail=before_mail,
            )
        if outcome is None:
            if verdict == ["expired"]:
                await self._expire(claim)
            else:
                log.warning("%s: lease lost before sending; another worker owns it", claim.id)
        return outcome

    async def _expire(self, claim: Claim) -> None:
        await self.outbox.mark_expired(claim)
        log.info("%s expired before sending", claim.id)
        self._on_finished(claim.id)

    def _signed(self, claim: Claim) -> bytes:
        """The bytes to send: signed now, so a key rotation also applies to retries.
        A signing failure sends the message unsigned rather than not at all."""
        try:
            return self.signer.sign(claim.raw)
        except SigningError as exc:
            log.error("%s: %s; sending unsigned", claim.id, exc.message)
            return claim.raw

    def _lease_margin_ms(self) -> int:
        # Enough for MAIL, RCPT, DATA and the final dot each to take a full timeout.
        return int(5 * self.smtp.timeout * 1000)

    async def _record(self, claim: Claim, outcome: Outcome, attempt: AttemptRecord) -> None:
        decision = decide(
            outcome,
            attempt_number=claim.attempt_number,
            now_ms=attempt.finished_at,
            expires_at=claim.expires_at,
            give_up_at=claim.give_up_at,
            policy=self.policy,
            rand=self._rand,
        )
        if isinstance(decision, Sent):
            partial = outcome.message if outcome.refused else None
            kept = await asyncio.shield(
                self.outbox.mark_sent(claim, attempt, error_message=partial)
            )
        elif isinstance(decision, Retry):
            kept = await asyncio.shield(
                self.outbox.mark_deferred(
                    claim, attempt, retry_at=decision.at_ms, error_message=outcome.message
                )
            )
        elif isinstance(decision, GiveUp):
            kept = await asyncio.shield(
                self.outbox.mark_failed(
                    claim, attempt, error_code=decision.error_code, error_message=decision.reason
                )
            )
        else:
            assert isinstance(decision, Expire)
            kept = await asyncio.shield(self.outbox.mark_expired(claim, attempt))
        log.info(
            "%s attempt %d: %s%s",
            claim.id,
            claim.attempt_number,
            type(decision).__name__.lower(),
            f" ({outcome.error_code})" if outcome.error_code else "",
        )
        if not kept:
            log.warning("%s: lease was lost; the result was recorded as superseded", claim.id)
        elif not isinstance(decision, Retry):
            self._on_finished(claim.id)


def _expired(claim: Claim, now_ms: int) -> bool:
    return claim.expires_at is not None and now_ms >= claim.expires_at
