"""Helpers for contract tests of the webhook delivery queue."""

from __future__ import annotations

from authmail_relay.db.webhook_queue import WebhookQueue
from authmail_relay.webhooks.records import ClaimedDelivery, DeliveryAttempt


def delivery_attempt(claim: ClaimedDelivery, status: int | None, result: str) -> DeliveryAttempt:
    """An attempt on *claim* by worker ``d1``: answered with *status*, or refused (None)."""
    return DeliveryAttempt(
        number=claim.attempt_number,
        worker_id="d1",
        started_at=claim.claimed_at,
        latency_ms=12,
        status_code=status,
        result=result,
        error=None if status else "ConnectError: refused",
        response="ok" if status else None,
    )


async def claim_all(queue: WebhookQueue, lease_ms: int = 60_000) -> list[ClaimedDelivery]:
    """Every due delivery (up to 50), claimed by worker ``d1``."""
    return await queue.claim(worker_id="d1", limit=50, lease_ms=lease_ms)
