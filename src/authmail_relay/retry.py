"""Pure retry decisions: what to do with a message after one send attempt.

No clock, randomness or I/O is read here: the caller passes ``now_ms`` (database time)
and a ``rand`` function, so every branch is tested with plain values.

Schedule: the n-th retry waits ``base * 2**(n-1)``, capped at ``max_delay``, with
"equal jitter" (a uniformly random point in the upper half of that delay), so a burst
of failures does not retry in lock-step (the formula is :mod:`authmail_relay.backoff`).
A message is never scheduled for a moment at or after its ``expires_at`` (it is expired
instead: a dead link is not worth sending) nor after its ``give_up_at`` (it fails with
the last error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .backoff import backoff_delay
from .smtp.outcome import Outcome
from .vocabulary import ErrorCode

#: Failures caused by the relay's own configuration or the upstream's state rather than
#: by the message. They are retried on the normal schedule (and so survive until an
#: operator fixes the password or the certificate) instead of failing every queued message.
RELAY_SIDE_ERRORS = frozenset(
    {
        ErrorCode.SMTP_AUTH_FAILED,
        ErrorCode.SMTP_AUTH_UNSUPPORTED,
        ErrorCode.PLAINTEXT_AUTH_REFUSED,
        ErrorCode.STARTTLS_UNSUPPORTED,
        ErrorCode.TLS_ERROR,
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters, in milliseconds."""

    base_delay_ms: int = 5_000
    max_delay_ms: int = 900_000

    def delay_ms(self, attempt_number: int, rand: Callable[[], float]) -> int:
        """Delay after the ``attempt_number``-th failed attempt (1-based), jittered."""
        delay = backoff_delay(
            attempt_number - 1, self.base_delay_ms, self.max_delay_ms, rand=rand, exponent_cap=32
        )
        return int(delay)


@dataclass(frozen=True)
class Sent:
    """The upstream accepted the message."""


@dataclass(frozen=True)
class Retry:
    """Try again at ``at_ms`` (database time)."""

    at_ms: int


@dataclass(frozen=True)
class GiveUp:
    """Stop: the message failed with ``error_code``."""

    error_code: ErrorCode
    reason: str


@dataclass(frozen=True)
class Expire:
    """Stop: the message would only be sent after its ``expires_at``."""


Decision = Sent | Retry | GiveUp | Expire


def decide(
    outcome: Outcome,
    *,
    attempt_number: int,
    now_ms: int,
    expires_at: int | None,
    give_up_at: int,
    policy: RetryPolicy,
    rand: Callable[[], float],
) -> Decision:
    """Turn one attempt's :class:`Outcome` into the message's next step."""
    if outcome.sent:
        return Sent()
    code = outcome.error_code or ErrorCode.UNKNOWN
    if not (outcome.retryable or code in RELAY_SIDE_ERRORS):
        return GiveUp(code, outcome.message)
    at_ms = now_ms + policy.delay_ms(attempt_number, rand)
    if expires_at is not None and at_ms >= expires_at:
        return Expire()
    if at_ms > give_up_at:
        return GiveUp(code, f"{outcome.message}; gave up after the maximum message age")
    return Retry(at_ms)
