"""The delivery worker's claim loop: lease due messages, hand each to a delivery.

One :class:`Worker` claims in batches and keeps up to ``WORKER_CONCURRENCY`` deliveries
(:mod:`authmail_relay.delivery`) in flight. Slots are shared between the priority lanes by
:class:`~authmail_relay.lanes.LaneSlots` (reserved slots for high priority; a guaranteed
share for low). Messages go out through the configured upstreams
(:mod:`authmail_relay.smtp.upstreams`): each has a pool of reused connections and a circuit
breaker; while every breaker is open (and none only for uncertain outcomes, see
:mod:`authmail_relay.smtp.circuit_breaker`) nothing is claimed, nor while a result the database
refused is being retried (:mod:`authmail_relay.delivery`). New work wakes the loop at once
(the ``wake`` event: in-process submits, PostgreSQL notifications); otherwise it polls.

Stopping (:meth:`Worker.stop`, wired to SIGTERM by the CLI) stops claiming at once, lets
in-flight sends finish within ``shutdown_grace_seconds``, then cancels the rest and
hands their messages back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace

from .db.lease_recovery import release_orphaned_leases
from .db.outbox import Claim, Outbox
from .db.retention_sweep import RetentionSweeper
from .db.write_gate import urgent_writes
from .delivery import Deliverer
from .dkim.signing import DkimSigner
from .dkim.store import KeyStore
from .exceptions import StorageError
from .ids import new_worker_id
from .lanes import LaneSlots
from .settings import Settings
from .smtp.config import SmtpConfig
from .smtp.pool import SessionFactory
from .smtp.upstreams import UpstreamAlert, Upstreams
from .task_pool import TaskPool
from .trust.rate_limits import Limit
from .urgency import Urgency
from .vocabulary import Priority

log = logging.getLogger("authmail_relay.worker")

_HIGH_LANE = frozenset({Priority.HIGH})
_LOW_LANE = frozenset({Priority.LOW})
_OTHER_LANES = frozenset({Priority.NORMAL, Priority.LOW})


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
        self.worker_id = worker_id or new_worker_id()
        self._wake = wake or asyncio.Event()
        self._stop = asyncio.Event()
        #: Auth mail in progress in this process (the API's): bulk work steps aside.
        self._urgency = urgency
        if urgency is not None:
            urgency.on_calm(self._wake.set)
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
        #: Erases what finished messages no longer need (any process's messages).
        self.retention = RetentionSweeper(outbox.engine, settings)
        self._delivery = Deliverer(
            outbox,
            self.upstreams,
            replace(settings, smtp=smtp),
            signer=self.signer,
            rand=rand,
            on_finished=on_finished or (lambda _message_id: None),
            urgency=urgency,
        )

    def stop(self) -> None:
        """Ask the worker to stop claiming and shut down gracefully."""
        self._stop.set()
        self._wake.set()

    async def run(self, *, until_idle: bool = False) -> None:
        """Deliver until :meth:`stop` (or until nothing is due, with ``until_idle``)."""
        log.info("worker %s started", self.worker_id)
        self.running = True
        self.retention.start()
        try:
            await self._take_over_from_stopped_workers()
            while not self._stop.is_set():
                self.last_beat = time.monotonic()
                if not self.upstreams.has_available():
                    # Every breaker is open: leave the messages queued (no attempt burnt)
                    # until one may be probed.
                    if until_idle and not self._in_flight:
                        break
                    await self._idle_wait(self.upstreams.seconds_until_available())
                    continue
                if self._delivery.unrecorded:
                    # Results the database refused are being retried: send nothing more
                    # until they are stored (docs/delivery.md). New work stays signalled.
                    await self._in_flight.wait_any(self._stop, self.settings.poll_interval_seconds)
                    continue
                self._forget_drained_lanes()
                looked_everywhere = not self._drained
                claims = await self._claim_lanes()
                for claim in claims:
                    task = self._in_flight.spawn(self._delivery.deliver(claim))
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
            try:
                await self._shutdown()  # deliveries in flight first: they hold leases
            finally:
                await self.retention.stop()
        log.info("worker %s stopped", self.worker_id)

    async def _take_over_from_stopped_workers(self) -> None:
        """End at once the leases of workers that provably died (a crashed predecessor on
        this machine), instead of waiting for them to run out."""
        try:
            taken, handed = await release_orphaned_leases(self.outbox.engine)
        except StorageError as exc:
            log.error("could not look for leases of stopped workers: %s", exc)
            return
        if taken or handed:
            log.warning(
                "took over %d message(s) and %d webhook delivery(ies) from stopped workers",
                taken,
                handed,
            )
            self._wake.set()

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
        if self._in_flight:
            log.info(
                "waiting up to %.0fs for %d send(s)",
                self.settings.shutdown_grace_seconds,
                len(self._in_flight),
            )
        await self._in_flight.drain(self.settings.shutdown_grace_seconds)
        await self.upstreams.close()
