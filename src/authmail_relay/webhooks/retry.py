"""Pure decisions for webhook deliveries: what one attempt's result means for the delivery.

No clock, randomness or I/O: the caller passes ``now_ms`` (database time) and ``rand``.

* ``2xx``: delivered.
* A network error, a timeout, ``5xx`` or ``429``: retried with exponential backoff
  (``base * 2**(n-1)``, capped at ``max_delay``, equal jitter in the upper half: see
  :mod:`authmail_relay.backoff`) — later if the receiver's ``Retry-After`` asks for more.
* ``410 Gone``: given up at once, and a registered endpoint is disabled.
* Any other ``4xx``, and every ``3xx`` (redirects are never followed): retried until the
  delivery has made ``client_error_attempts`` attempts, then given up.
* A blocked address (see :mod:`authmail_relay.webhooks.ssrf`): given up at once.

Retries go on until ``give_up_at`` (creation + the maximum age): the last one is moved to
``give_up_at`` itself rather than dropped, so a receiver that is down for less than the
maximum age still gets every delivery; a failure at or after ``give_up_at`` gives up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

from ..backoff import backoff_delay

__all__ = [
    "AttemptResult",
    "Decision",
    "Delivered",
    "GiveUp",
    "RetryAt",
    "WebhookRetryPolicy",
    "decide_delivery",
    "describe",
    "retry_after_ms",
]


@dataclass(frozen=True)
class WebhookRetryPolicy:
    """Backoff parameters, in milliseconds, and how often a ``4xx``/``3xx`` is retried."""

    base_delay_ms: int = 5_000
    max_delay_ms: int = 3_600_000
    client_error_attempts: int = 3

    def delay_ms(self, attempt_number: int, rand: Callable[[], float]) -> int:
        """The wait after the ``attempt_number``-th failed attempt (1-based), jittered."""
        delay = backoff_delay(
            attempt_number - 1, self.base_delay_ms, self.max_delay_ms, rand=rand, exponent_cap=40
        )
        return int(delay)


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt observed: an HTTP status, or an error instead of one.

    ``blocked`` marks a URL the address policy refused (nothing was sent);
    ``retry_after`` is the raw ``Retry-After`` header of the response, if any.
    """

    status_code: int | None = None
    error: str | None = None
    blocked: bool = False
    retry_after: str | None = None


@dataclass(frozen=True)
class Delivered:
    """The receiver took it (``2xx``)."""


@dataclass(frozen=True)
class RetryAt:
    """Try again at ``at_ms`` (database time)."""

    at_ms: int
    reason: str


@dataclass(frozen=True)
class GiveUp:
    """Stop. ``disable_endpoint``: the receiver said the endpoint is gone (``410``)."""

    reason: str
    disable_endpoint: bool = False


Decision = Delivered | RetryAt | GiveUp


def describe(result: AttemptResult) -> str:
    """A short reason for logs and the attempt row, e.g. ``HTTP 503`` or the error."""
    if result.status_code is not None:
        return f"HTTP {result.status_code}"
    return result.error or "no response"


def decide_delivery(
    result: AttemptResult,
    *,
    attempt_number: int,
    now_ms: int,
    give_up_at: int,
    policy: WebhookRetryPolicy,
    rand: Callable[[], float],
) -> Decision:
    """Turn one attempt's result into the delivery's next step (see the module docstring)."""
    status = result.status_code
    reason = describe(result)
    if status is not None and 200 <= status < 300:
        return Delivered()
    if result.blocked:
        return GiveUp(reason)
    if status == 410:
        return GiveUp(f"{reason}: the receiver says the endpoint is gone", disable_endpoint=True)
    transient = status is None or status == 429 or status >= 500
    if not transient and attempt_number >= policy.client_error_attempts:
        return GiveUp(f"{reason} after {attempt_number} attempts")
    if now_ms >= give_up_at:
        return GiveUp(f"{reason}; gave up after the maximum delivery age")
    delay = policy.delay_ms(attempt_number, rand)
    asked = retry_after_ms(result.retry_after, now_ms) if transient else None
    if asked is not None:
        delay = max(delay, asked)
    return RetryAt(min(now_ms + delay, give_up_at), reason)


def retry_after_ms(value: str | None, now_ms: int) -> int | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as a wait in ms; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text) * 1000
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    wait = int(moment.timestamp() * 1000) - now_ms
    return max(wait, 0)
