"""Pure upstream health: which failures are the upstream's fault, and its circuit breaker.

Nothing here reads a clock or does I/O; callers pass monotonic milliseconds, so every
transition is tested with plain numbers.

A failure is *the upstream's* when it says nothing about the message: the server could
not be reached, timed out or dropped the connection, answered ``421``, or refused our TLS
or credentials. Failures about the message (a recipient refused, content rejected, a
greylisting ``450`` at RCPT) leave the breaker alone: the server is working.

Breaker: after ``failure_threshold`` upstream failures in a row the breaker opens and the
upstream is skipped for ``cooldown_ms``; then one message may try it (half-open). Success
closes the breaker; another failure re-opens it with the cool-down doubled, up to
``max_cooldown_ms``. A *fatal* failure (authentication or TLS set-up: retrying cannot help
until an operator acts) opens it at once and raises an alert instead of burning retries.

An *uncertain* outcome — the connection lost or timed out after the final dot — counts
towards opening like any failure, so that mail moves to another upstream. But it also
proves that the server took the whole transaction: it may well have the message, and the
retry of that message (the same bytes) may be all it takes. So a breaker that every
failure since the last success was uncertain about is only a preference: while it is
open, the upstream is still used when no other one may be (:meth:`CircuitBreaker.
last_resort`). Otherwise one upstream that loses the reply to each message's first copy
would keep its breaker open for ever: each probe is a new message that fails the same
way, and the retries that would succeed never get through.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..vocabulary import BreakerState, ErrorCode, Priority
from .outcome import Outcome, Stage

__all__ = ["CircuitBreaker", "Health", "fails_over", "health_of"]

#: Failures caused by the upstream's set-up or our credentials for it.
_FATAL = frozenset(
    {
        ErrorCode.SMTP_AUTH_FAILED,
        ErrorCode.SMTP_AUTH_UNSUPPORTED,
        ErrorCode.PLAINTEXT_AUTH_REFUSED,
        ErrorCode.STARTTLS_UNSUPPORTED,
        ErrorCode.TLS_ERROR,
    }
)
#: Stages at which any failure is about the connection rather than the message.
_SETUP_STAGES = frozenset({Stage.CONNECT, Stage.STARTTLS, Stage.AUTH})
#: "Service not available, closing transmission channel" (RFC 5321 §3.8).
_SERVICE_CLOSING = 421


class Health(Enum):
    """What one attempt says about the upstream that handled it."""

    OK = "ok"  # the server worked (whatever it said about the message)
    FAULT = "fault"  # the server failed; counts towards opening the breaker
    FATAL = "fatal"  # set-up or credentials are wrong; opens the breaker at once
    #: The reply to the final dot was lost: counts like a fault, but see last_resort.
    UNCERTAIN = "uncertain"


def health_of(outcome: Outcome) -> Health:
    """Classify one attempt's outcome for the upstream's breaker."""
    if outcome.sent:
        return Health.OK
    if outcome.error_code in _FATAL:
        return Health.FATAL
    if outcome.smtp_code == _SERVICE_CLOSING:
        return Health.FAULT
    if outcome.error_code in (ErrorCode.SMTP_CONNECTION, ErrorCode.SMTP_TIMEOUT):
        return Health.FAULT
    if outcome.error_code is ErrorCode.SMTP_DISCONNECT_UNCERTAIN:
        return Health.UNCERTAIN
    if outcome.stage in _SETUP_STAGES:
        return Health.FAULT
    return Health.OK


def fails_over(outcome: Outcome, priority: Priority) -> bool:
    """Whether to try the next upstream at once, within the same claim.

    Always after a fatal set-up failure (the message is not at fault). For high-priority
    mail also after a connection failure, a timeout or any temporary (4xx) reply, since an
    auth mail that waits for the retry schedule is worthless. Never after an uncertain
    outcome (the first server may have the message) or a permanent refusal.
    """
    if outcome.sent or outcome.ambiguous:
        return False
    if health_of(outcome) is Health.FATAL:
        return True
    return priority is Priority.HIGH and outcome.retryable


@dataclass
class CircuitBreaker:
    """The breaker of one upstream. Not thread-safe; one event loop owns it."""

    failure_threshold: int = 3
    cooldown_ms: int = 30_000
    max_cooldown_ms: int = 600_000
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: int = 0
    current_cooldown_ms: int = 0
    probing: bool = False
    #: The error code that last opened the breaker (for status pages and logs).
    reason: ErrorCode | None = None
    #: Whether a failure other than an uncertain outcome was seen since the last success.
    hard_failure: bool = False

    def available(self, now_ms: int) -> bool:
        """Whether a message may use the upstream now (without taking the probe)."""
        if self.state is BreakerState.CLOSED:
            return True
        return not self.probing and now_ms >= self.opened_at + self.current_cooldown_ms

    def acquire(self, now_ms: int) -> bool:
        """Take the upstream for one message; False when the breaker refuses.

        After the cool-down this turns the breaker half-open and hands out the single probe.
        """
        if not self.available(now_ms):
            return False
        if self.state is not BreakerState.CLOSED:
            self.state = BreakerState.HALF_OPEN
            self.probing = True
        return True

    def last_resort(self) -> bool:
        """Whether a message may use the upstream although :meth:`available` says no,
        because no other upstream may be used: true while the breaker is open (and no
        probe is out) only for uncertain outcomes. Such a use is not a probe."""
        return self.state is BreakerState.OPEN and not self.probing and not self.hard_failure

    def release(self) -> None:
        """The message that took the probe ended without a verdict (e.g. cancelled)."""
        self.probing = False

    def record(self, health: Health, now_ms: int, reason: ErrorCode | None = None) -> bool:
        """Feed one attempt's verdict; returns True when this opened the breaker."""
        was_probe, self.probing = self.probing, False
        if health is Health.OK:
            self.state = BreakerState.CLOSED
            self.failures = 0
            self.current_cooldown_ms = 0
            self.reason = None
            self.hard_failure = False
            return False
        self.failures += 1
        self.hard_failure = self.hard_failure or health is not Health.UNCERTAIN
        if health is not Health.FATAL and not was_probe and self.failures < self.failure_threshold:
            return False
        if self.state is BreakerState.OPEN and not was_probe:
            return False  # a message that started before the breaker opened
        if was_probe and self.current_cooldown_ms:
            self.current_cooldown_ms = min(self.current_cooldown_ms * 2, self.max_cooldown_ms)
        else:
            self.current_cooldown_ms = self.cooldown_ms
        self.state = BreakerState.OPEN
        self.opened_at = now_ms
        self.reason = reason
        return True

    def reopens_in_ms(self, now_ms: int) -> int:
        """Milliseconds until the upstream may be tried again (0 when it may be now)."""
        if self.available(now_ms):
            return 0
        if self.probing:
            return self.cooldown_ms  # the probe's result will come before that
        return self.opened_at + self.current_cooldown_ms - now_ms
