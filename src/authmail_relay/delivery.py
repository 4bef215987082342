"""Delivering one claimed message: the per-message half of the worker.

A delivery reads top to bottom: *expired? → pick an upstream → send (checking expiry and
the lease again just before MAIL FROM) → on an upstream failure of an auth mail, try the
next upstream at once → decide (pure retry policy) → record with a guarded update*.
Times come from the database clock: the claim carries the database's "now", and the
delivery adds the monotonic time elapsed since.

Once an attempt has an outcome, its result is recorded whatever it takes: a write the
database refuses (a full disk, say) is tried again with a growing pause (up to
:data:`RECORD_RETRY_MAX_SECONDS`), the lease being renewed meanwhile where the database
still allows that, for as long as the process runs. While any result waits like this the
worker claims nothing new (:attr:`Deliverer.unrecorded`), so this process never sends a
message again whose ``250`` it holds but could not store; and a message whose outcome is
in hand is not handed back to the queue on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .db.outbox import AttemptRecord, Claim, Outbox
from .dkim.signing import DkimSigner, SigningError
from .exceptions import StorageError
from .retry import Expire, GiveUp, Retry, RetryPolicy, Sent, decide
from .settings import Settings
from .smtp.circuit_breaker import fails_over
from .smtp.outcome import Outcome
from .smtp.upstreams import Upstream, Upstreams
from .urgency import Urgency
from .vocabulary import Priority

log = logging.getLogger("authmail_relay.worker")

#: Longest a bulk send waits for auth mail in progress before it goes anyway.
URGENT_HOLD_SECONDS = 0.25
#: Pauses between tries to store a result the database refused: doubling from the first
#: to the last.
RECORD_RETRY_FIRST_SECONDS = 0.1
RECORD_RETRY_MAX_SECONDS = 5.0

_T = TypeVar("_T")


@dataclass
class _Timing:
    """Database time for one claim: its claim-time ``now`` plus monotonic time since."""

    claimed_at_ms: int
    started: float = field(default_factory=time.monotonic)

    def now_ms(self) -> int:
        return self.claimed_at_ms + int((time.monotonic() - self.started) * 1000)


class Deliverer:
    """Sends claimed messages through the upstreams and records the results."""

    def __init__(
        self,
        outbox: Outbox,
        upstreams: Upstreams,
        settings: Settings,
        *,
        signer: DkimSigner,
        rand: Callable[[], float],
        on_finished: Callable[[str], None],
        urgency: Urgency | None,
    ) -> None:
        self.outbox = outbox
        self.upstreams = upstreams
        self.settings = settings
        self.signer = signer
        self.policy = RetryPolicy(
            base_delay_ms=int(settings.retry_base_seconds * 1000),
            max_delay_ms=int(settings.retry_max_seconds * 1000),
        )
        self._rand = rand
        self._on_finished = on_finished
        self._urgency = urgency
        # Enough for MAIL, RCPT, DATA and the final dot each to take a full timeout.
        self._lease_margin = int(5 * settings.require_smtp().timeout * 1000)
        #: Messages whose outcome is known and being recorded.
        self._settling: set[str] = set()
        #: Of those, the ones whose result the database refused at least once.
        self.unrecorded: set[str] = set()

    async def deliver(self, claim: Claim) -> None:
        """Send one claimed message and record what happened (never raises but for
        cancellation, which hands the message back to the queue)."""
        timing = _Timing(claim.claimed_at)
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
            if current is not None and current.id in self._settling:
                # Sent (or tried) but not recorded: handing it back would send it again at
                # once; its lease runs out instead (docs/delivery.md).
                log.error("%s: stopped before its result could be recorded", claim.id)
            elif current is not None:
                with contextlib.suppress(StorageError):
                    await asyncio.shield(self.outbox.release(current))
            raise
        except StorageError as exc:
            # The lease will expire and another attempt will be made; see docs/storage.md.
            log.error("could not record the result of %s: %s", claim.id, exc)
        finally:
            self._settling.discard(claim.id)
            self.unrecorded.discard(claim.id)
            if self._urgency is not None and claim.priority is Priority.HIGH:
                # Sent, deferred, failed or handed back: bulk mail need not wait for it.
                self._urgency.end(claim.id)

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
        # Until recorded, this message is not to be handed back (see deliver).
        self._settling.add(claim.id)
        following = await self._settle(upstream, claim, outcome, started, timing, tried)
        self._settling.discard(claim.id)
        return following

    async def _settle(
        self,
        upstream: Upstream,
        claim: Claim,
        outcome: Outcome,
        started: int,
        timing: _Timing,
        tried: list[Upstream],
    ) -> Claim | None:
        """Record *outcome*: as one attempt of a failover, or as the claim's result."""
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
            return await self._persist(
                claim, timing, lambda: self.outbox.record_attempt(claim, attempt)
            )
        await self._record(claim, outcome, attempt, timing)
        return None

    async def _persist(
        self, claim: Claim, timing: _Timing, write: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Run *write* (shielded from cancellation) until the database takes it.

        Between tries the pause doubles up to RECORD_RETRY_MAX_SECONDS, and the lease is
        renewed when it runs low (a small in-place update, which a full disk may still
        allow); a renewal that fails changes nothing. Ends with the write's result, with
        cancellation (the worker stopping), or with StorageError once the lease turns out
        lost (the result is then another worker's to write).
        """
        pause = RECORD_RETRY_FIRST_SECONDS
        lease_end = claim.lease_expires_at
        tries = 0
        while True:
            try:
                result = await asyncio.shield(write())
            except StorageError as exc:
                tries += 1
                self.unrecorded.add(claim.id)
                if tries == 1 or tries % 10 == 0:
                    log.error(
                        "could not record the result of %s (try %d): %s; retrying",
                        claim.id,
                        tries,
                        exc,
                    )
            else:
                if tries:
                    log.warning("%s: result recorded after %d failed tries", claim.id, tries)
                    self.unrecorded.discard(claim.id)
                return result
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECORD_RETRY_MAX_SECONDS)
            if lease_end - timing.now_ms() < self._lease_margin:
                renewed: Claim | None = claim
                with contextlib.suppress(StorageError):
                    renewed = await self.outbox.extend_lease(claim, self.settings.lease_ms)
                if renewed is None:
                    # Another worker holds the message now (or an earlier try did commit
                    # and only its answer was lost): this result is no longer ours to
                    # write, and waiting on it would keep the worker from claiming.
                    self.unrecorded.discard(claim.id)
                    raise StorageError(f"the lease of {claim.id} was lost while its result waited")
                lease_end = renewed.lease_expires_at

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
            if claim.lease_expires_at - now < self._lease_margin:
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

    async def _record(
        self, claim: Claim, outcome: Outcome, attempt: AttemptRecord, timing: _Timing
    ) -> None:
        decision = decide(
            outcome,
            attempt_number=claim.attempt_number,
            now_ms=attempt.finished_at,
            expires_at=claim.expires_at,
            give_up_at=claim.give_up_at,
            policy=self.policy,
            rand=self._rand,
        )
        write: Callable[[], Awaitable[bool]]
        if isinstance(decision, Sent):
            partial = outcome.message if outcome.refused else None

            def write() -> Awaitable[bool]:
                return self.outbox.mark_sent(claim, attempt, error_message=partial)

        elif isinstance(decision, Retry):
            retry_at = decision.at_ms

            def write() -> Awaitable[bool]:
                return self.outbox.mark_deferred(
                    claim, attempt, retry_at=retry_at, error_message=outcome.message
                )

        elif isinstance(decision, GiveUp):
            give_up = decision

            def write() -> Awaitable[bool]:
                return self.outbox.mark_failed(
                    claim, attempt, error_code=give_up.error_code, error_message=give_up.reason
                )

        else:
            assert isinstance(decision, Expire)

            def write() -> Awaitable[bool]:
                return self.outbox.mark_expired(claim, attempt)

        kept = await self._persist(claim, timing, write)
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
