"""Exponential backoff: the one formula for the wait before a retry (pure, standard library).

Retry number ``n`` (0 for the first retry) waits up to ``base * 2**n``, never more than
``maximum``. With a ``rand`` function the wait is "equal jitter": a uniformly random point
in the upper half of that ceiling, so failures that happened together do not retry in
lock-step. Without one it is the ceiling itself.

Three schedules use it, each with its own numbers: a message's retries
(:class:`authmail_relay.retry.RetryPolicy`, milliseconds, exponent capped at 32), a webhook
delivery's (:class:`authmail_relay.webhooks.retry.WebhookRetryPolicy`, milliseconds,
capped at 40) and the HTTP client's (:mod:`authmail_relay.client`, seconds, no jitter, no
cap). The caps are kept as they were: base and maximum delays are unbounded settings, so
a cap can decide the result when ``maximum / base`` exceeds ``2**32``. This module imports
nothing, so the client can use it without the server side of the package.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["backoff_delay"]


def backoff_delay(
    retry: int,
    base: float,
    maximum: float,
    *,
    rand: Callable[[], float] | None = None,
    exponent_cap: int | None = None,
) -> float:
    """The wait before retry number *retry* (0-based; a negative number counts as 0).

    The ceiling is ``min(maximum, base * 2**exponent)``, the exponent being *retry*, at
    most *exponent_cap* when one is given. Integer *base* and *maximum* keep the ceiling
    exact. Returns the ceiling (as a float) without *rand*; with it,
    ``ceiling / 2 + rand() * ceiling / 2``, *rand* returning a number in ``[0, 1)``
    (called once). The unit is the caller's: the result is in the unit of *base*.
    """
    exponent = max(retry, 0)
    if exponent_cap is not None:
        exponent = min(exponent, exponent_cap)
    # Integer arguments stay integers here (the annotation is only for the type checker).
    ceiling: float = min(maximum, base * 2**exponent)
    if rand is None:
        return float(ceiling)
    return ceiling / 2 + rand() * ceiling / 2
