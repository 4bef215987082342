"""The upstream SMTP servers a worker sends through, in failover order.

Each :class:`Upstream` is a connection pool plus a circuit breaker. The worker asks
:meth:`Upstreams.choose` for the first upstream in the configured order whose breaker lets
a message through, and reports every attempt's outcome back with :meth:`Upstreams.report`;
the decisions themselves live in :mod:`authmail_relay.smtp.circuit_breaker`. This module only
adds the clock, the logging and the alert callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ..vocabulary import BreakerState, ErrorCode
from .circuit_breaker import CircuitBreaker, Health, health_of
from .config import SmtpConfig
from .outcome import Outcome
from .pool import SessionFactory, SmtpPool

__all__ = ["Upstream", "UpstreamAlert", "Upstreams"]

log = logging.getLogger("authmail_relay.upstreams")


@dataclass(frozen=True)
class UpstreamAlert:
    """An upstream's breaker opened. ``fatal`` means retrying cannot help (credentials,
    TLS set-up): an operator has to act."""

    upstream: str
    reason: ErrorCode | None
    fatal: bool
    retry_in_seconds: float


@dataclass
class Upstream:
    """One upstream server: where it is, its connections and its breaker."""

    config: SmtpConfig
    pool: SmtpPool
    breaker: CircuitBreaker

    @property
    def name(self) -> str:
        """``host:port``, as recorded with every attempt."""
        return self.config.upstream


class Upstreams:
    """The ordered upstreams of one worker."""

    def __init__(
        self,
        configs: Sequence[SmtpConfig],
        *,
        pool_size: int,
        reserved_for_high: int = 1,
        max_idle_seconds: float = 30.0,
        max_age_seconds: float = 300.0,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        session_factory: SessionFactory | None = None,
        on_alert: Callable[[UpstreamAlert], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not configs:
            raise ValueError("at least one upstream is needed")
        self.all = [
            Upstream(
                config,
                SmtpPool(
                    config,
                    size=pool_size,
                    reserved_for_high=reserved_for_high,
                    max_idle_seconds=max_idle_seconds,
                    max_age_seconds=max_age_seconds,
                    session_factory=session_factory,
                ),
                CircuitBreaker(
                    failure_threshold=failure_threshold,
                    cooldown_ms=int(cooldown_seconds * 1000),
                ),
            )
            for config in configs
        ]
        self._on_alert = on_alert or (lambda _alert: None)
        self._clock = clock
        #: Every alert raised so far (a status page shows the latest).
        self.alerts: list[UpstreamAlert] = []

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def choose(self, exclude: Collection[Upstream] = ()) -> Upstream | None:
        """The first upstream, in order, that is not excluded and whose breaker lets a
        message through now (taking its probe if it is half-open); failing that, the
        first whose breaker is open for uncertain outcomes only (the last resort, see
        :mod:`authmail_relay.smtp.circuit_breaker`); None if there is none.

        The caller must :meth:`report` (or :meth:`abandon`) every upstream it was given.
        """
        now = self._now_ms()
        candidates = [u for u in self.all if u not in exclude]
        for upstream in candidates:
            if upstream.breaker.acquire(now):
                return upstream
        return next((u for u in candidates if u.breaker.last_resort()), None)

    def has_available(self, exclude: Collection[Upstream] = ()) -> bool:
        """Whether :meth:`choose` would find an upstream now (without taking a probe)."""
        now = self._now_ms()
        return any(
            u.breaker.available(now) or u.breaker.last_resort()
            for u in self.all
            if u not in exclude
        )

    def seconds_until_available(self) -> float:
        """How long until some upstream may be tried again (0 when one may be now)."""
        if self.has_available():
            return 0.0
        now = self._now_ms()
        return min(u.breaker.reopens_in_ms(now) for u in self.all) / 1000

    def abandon(self, upstream: Upstream) -> None:
        """The message given *upstream* ended without an outcome (cancelled, lease lost)."""
        upstream.breaker.release()

    def report(self, upstream: Upstream, outcome: Outcome) -> None:
        """Feed one attempt's outcome to *upstream*'s breaker; alert when it opens."""
        health = health_of(outcome)
        breaker = upstream.breaker
        if not breaker.record(health, self._now_ms(), outcome.error_code):
            return
        alert = UpstreamAlert(
            upstream=upstream.name,
            reason=outcome.error_code,
            fatal=health is Health.FATAL,
            retry_in_seconds=breaker.current_cooldown_ms / 1000,
        )
        self.alerts.append(alert)
        del self.alerts[:-20]
        reason = alert.reason.value if alert.reason else "failure"
        if alert.fatal:
            log.error(
                "ALERT upstream %s: %s; it is skipped for %.0fs and then probed with one "
                "message (check its credentials and TLS settings)",
                alert.upstream,
                reason,
                alert.retry_in_seconds,
            )
        else:
            log.warning(
                "upstream %s failing (%s); skipped for %.0fs%s",
                alert.upstream,
                reason,
                alert.retry_in_seconds,
                "" if breaker.hard_failure else " while another upstream can be used",
            )
        self._on_alert(alert)

    def status(self) -> list[dict[str, Any]]:
        """One entry per upstream for status pages: name, breaker state, connections."""
        now = self._now_ms()
        return [
            {
                "upstream": u.name,
                "state": (
                    BreakerState.HALF_OPEN
                    if u.breaker.state is BreakerState.OPEN and u.breaker.available(now)
                    else u.breaker.state
                ).value,
                "reason": u.breaker.reason.value if u.breaker.reason else None,
                "connections_in_use": u.pool.in_use,
                "connections_idle": u.pool.idle,
            }
            for u in self.all
        ]

    async def close(self) -> None:
        """Close every pooled connection."""
        for upstream in self.all:
            await upstream.pool.close()
