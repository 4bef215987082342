"""The webhook dispatcher: claim due deliveries under a lease, send them, record the result.

It runs in the worker process, next to the delivery worker, with up to
``WEBHOOK_CONCURRENCY`` deliveries in flight; each is bounded by
``WEBHOOK_TIMEOUT_SECONDS``, and one target (a registered endpoint, or one host and port
of per-request URLs) has at most ``WEBHOOK_CONCURRENCY_PER_TARGET`` of them, so a slow
receiver, however long its backlog, holds that many slots and never the others. One
delivery reads top to bottom: *target still there? → resolve and check the address →
sign → POST → decide (pure policy) → record with a guarded update*. Time is the
database's: the claim's "now" plus monotonic time since.

A delivery that is given up is logged (``webhook delivery … abandoned``) and reported to
the ``on_abandoned`` hook, the place for metrics. There is no event type for it: the
message's own history is not changed by what happens to its notifications.

:meth:`WebhookDispatcher.stop` stops claiming at once, lets in-flight attempts finish
within ``shutdown_grace_seconds``, then cancels the rest and releases their leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable

import httpcore
import httpx

from ..db.webhook_queue import WebhookQueue
from ..exceptions import StorageError, WebhookDeliveryError, WebhookUrlError
from ..ids import new_worker_id
from ..settings import Settings
from ..task_pool import TaskPool
from .http import post
from .records import ClaimedDelivery, DeliveryAttempt
from .retry import (
    AttemptResult,
    Delivered,
    GiveUp,
    RetryAt,
    WebhookRetryPolicy,
    decide_delivery,
)
from .signing import legacy_headers, standard_headers
from .ssrf import Resolver, UrlGuard

log = logging.getLogger("authmail_relay.webhooks")

#: Called with the delivery and the reason whenever a delivery is abandoned.
AbandonedHook = Callable[[ClaimedDelivery, str], None]


class WebhookDispatcher:
    """Sends pending webhook deliveries until stopped (or, ``until_idle``, none is due)."""

    def __init__(
        self,
        queue: WebhookQueue,
        settings: Settings,
        *,
        worker_id: str | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        rand: Callable[[], float] = random.random,
        on_abandoned: AbandonedHook | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self.guard = UrlGuard(
            settings.webhook_allow_hosts,
            resolver=resolver,
            resolve_timeout=settings.webhook_timeout_seconds,
        )
        self.policy = WebhookRetryPolicy(
            base_delay_ms=int(settings.webhook_retry_base_seconds * 1000),
            max_delay_ms=int(settings.webhook_retry_max_seconds * 1000),
            client_error_attempts=settings.webhook_client_error_attempts,
        )
        self._ssl_context = ssl_context or httpx.create_ssl_context()
        self._network_backend = network_backend
        self._rand = rand
        self._on_abandoned = on_abandoned or (lambda _delivery, _reason: None)
        self._stop = asyncio.Event()
        #: Set when deliveries were written in this process (``Outbox.webhooks_due``).
        self._wake = wake or asyncio.Event()
        self._in_flight = TaskPool()
        #: Monotonic time of the last loop turn.
        self.last_beat = time.monotonic()

    def stop(self) -> None:
        """Stop claiming and shut down gracefully."""
        self._stop.set()
        self._wake.set()

    async def run(self, *, until_idle: bool = False) -> None:
        """Deliver until :meth:`stop` (or until nothing is due, with ``until_idle``)."""
        log.info("webhook dispatcher %s started", self.worker_id)
        try:
            while not self._stop.is_set():
                self.last_beat = time.monotonic()
                free = self.settings.webhook_concurrency - len(self._in_flight)
                claims = await self._claim(free) if free > 0 else []
                for claim in claims:
                    self._in_flight.spawn(self._deliver(claim, time.monotonic()))
                if claims:
                    continue
                if until_idle and not self._in_flight:
                    break
                await self._idle_wait()
        finally:
            await self._shutdown()
        log.info("webhook dispatcher %s stopped", self.worker_id)

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        try:
            return await self.queue.claim(
                worker_id=self.worker_id,
                limit=limit,
                lease_ms=self.settings.webhook_lease_ms,
                per_target=self.settings.webhook_concurrency_per_target,
            )
        except StorageError as exc:
            log.error("webhook claim failed: %s", exc)
            return []

    async def _idle_wait(self) -> None:
        """Sleep until deliveries are written here, one finishes, a poll is due, or stop."""
        await self._in_flight.wait_any(self._wake, self.settings.poll_interval_seconds)
        if not self._stop.is_set():
            self._wake.clear()

    async def _shutdown(self) -> None:
        await self._in_flight.drain(self.settings.shutdown_grace_seconds)

    async def _deliver(self, claim: ClaimedDelivery, started: float) -> None:
        try:
            await self._attempt(claim, started)
        except asyncio.CancelledError:
            with contextlib.suppress(StorageError):
                await asyncio.shield(self.queue.release(claim))
            raise
        except StorageError as exc:
            # The lease runs out and another attempt is made: nothing is lost.
            log.error("could not record webhook delivery %s: %s", claim.id, exc)
        except Exception:
            # A bug must not end the dispatcher; the lease runs out and the delivery is
            # attempted again.
            log.exception("webhook delivery %s failed unexpectedly", claim.id)

    def _now_ms(self, claim: ClaimedDelivery, started: float) -> int:
        return claim.claimed_at + int((time.monotonic() - started) * 1000)

    async def _attempt(self, claim: ClaimedDelivery, started: float) -> None:
        if claim.url is None:
            reason = claim.target_problem or "no target"
            await self._finish(claim, None, GiveUp(reason))
            return
        attempt_start = self._now_ms(claim, started)
        clock = time.monotonic()
        result, response = await self._send(claim, claim.url, attempt_start)
        latency_ms = int((time.monotonic() - clock) * 1000)
        now = self._now_ms(claim, started)
        decision = decide_delivery(
            result,
            attempt_number=claim.attempt_number,
            now_ms=now,
            give_up_at=claim.give_up_at,
            policy=self.policy,
            rand=self._rand,
        )
        outcome = (
            "succeeded"
            if isinstance(decision, Delivered)
            else "retry"
            if isinstance(decision, RetryAt)
            else "failed"
        )
        attempt = DeliveryAttempt(
            number=claim.attempt_number,
            worker_id=self.worker_id,
            started_at=attempt_start,
            latency_ms=latency_ms,
            status_code=result.status_code,
            result=outcome,
            error=result.error,
            response=response,
        )
        log.info(
            "webhook delivery %s (%s) attempt %d: %s, %s in %d ms",
            claim.id,
            claim.event_type,
            claim.attempt_number,
            result.status_code if result.status_code is not None else result.error,
            outcome,
            latency_ms,
        )
        await self._finish(claim, attempt, decision)

    async def _send(
        self, claim: ClaimedDelivery, url: str, started_at_ms: int
    ) -> tuple[AttemptResult, str | None]:
        """One HTTP attempt within WEBHOOK_TIMEOUT_SECONDS, resolution included; never
        raises for the receiver's or the network's failures."""
        total = self.settings.webhook_timeout_seconds
        try:
            return await asyncio.wait_for(self._exchange(claim, url, started_at_ms), total)
        except asyncio.TimeoutError:
            return AttemptResult(error=f"no answer within {total:g} s"), None

    async def _exchange(
        self, claim: ClaimedDelivery, url: str, started_at_ms: int
    ) -> tuple[AttemptResult, str | None]:
        try:
            pinned = await self.guard.resolve(self.guard.check(url))
        except WebhookUrlError as exc:
            return AttemptResult(error=f"blocked: {exc.message}", blocked=True), None
        except WebhookDeliveryError as exc:
            return AttemptResult(error=exc.message), None
        body = claim.payload.encode("utf-8")
        timestamp = started_at_ms // 1000
        headers = standard_headers(claim.id, timestamp, body, claim.secrets)
        if claim.per_request:
            headers.update(legacy_headers(claim.legacy_secret, timestamp, body))
        try:
            reply = await post(
                pinned,
                body,
                headers,
                ssl_context=self._ssl_context,
                connect_timeout=self.settings.webhook_connect_timeout_seconds,
                total_timeout=self.settings.webhook_timeout_seconds,
                network_backend=self._network_backend,
            )
        except WebhookDeliveryError as exc:
            return AttemptResult(error=exc.message), None
        result = AttemptResult(status_code=reply.status_code, retry_after=reply.retry_after)
        return result, reply.body_start

    async def _finish(
        self,
        claim: ClaimedDelivery,
        attempt: DeliveryAttempt | None,
        decision: Delivered | RetryAt | GiveUp,
    ) -> None:
        kept = await asyncio.shield(self.queue.record(claim, attempt, decision))
        if not kept:
            log.warning("webhook delivery %s: the lease was lost; result not recorded", claim.id)
            return
        if isinstance(decision, GiveUp):
            log.warning(
                "webhook delivery %s (%s of %s) abandoned after %d attempt(s): %s",
                claim.id,
                claim.event_type,
                claim.message_id,
                claim.attempt_number if attempt is not None else claim.attempt_number - 1,
                decision.reason,
            )
            if decision.disable_endpoint:
                log.warning("webhook endpoint %s disabled: %s", claim.endpoint_id, decision.reason)
            try:
                self._on_abandoned(claim, decision.reason)
            except Exception:  # a metrics hook must not take the dispatcher down
                log.exception("the on_abandoned hook failed")
