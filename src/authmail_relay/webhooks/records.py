"""The values of the webhook tables: endpoints, deliveries, attempts and claims.

Times are epoch milliseconds on the database clock. Records never carry an endpoint's
secret; only :class:`EndpointSecret` (returned once, by create and rotate) and the
dispatcher's :class:`ClaimedDelivery` do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..ids import new_id
from ..vocabulary import WEBHOOK_EVENT_TYPES, DeliveryStatus, EventType

__all__ = [
    "ClaimedDelivery",
    "Delivery",
    "DeliveryAttempt",
    "Endpoint",
    "EndpointSecret",
    "event_types_from_json",
    "is_delivery_id",
    "is_endpoint_id",
    "matches",
    "new_delivery_id",
    "new_endpoint_id",
]

ENDPOINT_PREFIX = "whep_"
DELIVERY_PREFIX = "whd_"
_ULID_CHARS = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _has_shape(value: str, prefix: str) -> bool:
    body = value[len(prefix) :]
    return value.startswith(prefix) and len(body) == 26 and set(body) <= _ULID_CHARS


def new_endpoint_id() -> str:
    """``whep_`` + ULID."""
    return new_id(ENDPOINT_PREFIX)


def new_delivery_id() -> str:
    """``whd_`` + ULID; also the ``webhook-id`` header of every attempt of the delivery."""
    return new_id(DELIVERY_PREFIX)


def is_endpoint_id(value: str) -> bool:
    return _has_shape(value, ENDPOINT_PREFIX)


def is_delivery_id(value: str) -> bool:
    return _has_shape(value, DELIVERY_PREFIX)


def event_types_from_json(text: str) -> tuple[EventType, ...]:
    """An endpoint's filter as stored; unknown strings (from a newer version) are skipped."""
    known = {event_type.value: event_type for event_type in EventType}
    return tuple(known[value] for value in json.loads(text) if value in known)


def matches(event_types_json: str, event_type: EventType) -> bool:
    """Whether an endpoint with this stored filter receives *event_type* (``[]``: all)."""
    if event_type not in WEBHOOK_EVENT_TYPES:
        return False
    wanted = json.loads(event_types_json)
    return not wanted or event_type.value in wanted


@dataclass(frozen=True)
class Endpoint:
    """A registered endpoint, without its secret.

    ``event_types`` empty means every webhook event type. ``disabled_reason`` says why
    the relay disabled it by itself (``None`` when enabled, or disabled by a caller).
    ``previous_secret_expires_at`` is set while a rotated-out secret is still signed with.
    """

    id: str
    url: str
    description: str
    event_types: tuple[EventType, ...]
    enabled: bool
    disabled_reason: str | None
    created_at: int
    updated_at: int
    previous_secret_expires_at: int | None


@dataclass(frozen=True)
class EndpointSecret:
    """An endpoint with its signing secret: shown once, when created or rotated."""

    endpoint: Endpoint
    secret: str = field(repr=False)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One HTTP attempt: the status (None without a response), what it led to, why."""

    number: int
    worker_id: str
    started_at: int
    latency_ms: int
    status_code: int | None
    result: str
    error: str | None
    response: str | None


@dataclass(frozen=True)
class Delivery:
    """One event to one target. ``endpoint_id`` None: the message's own webhook_url.

    ``in_flight`` is true while a dispatcher holds a live lease on it. ``payload`` is the
    exact JSON that is (or was) sent.
    """

    id: str
    event_id: int
    message_id: str
    endpoint_id: str | None
    event_type: EventType
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: int
    give_up_at: int
    last_status_code: int | None
    last_error: str | None
    created_at: int
    updated_at: int
    finished_at: int | None
    in_flight: bool
    payload: str


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to one dispatcher, with everything needed to send it.

    ``url`` is None when the target is gone: an endpoint deleted or disabled since the
    event (``target_problem`` says which), or a message without a webhook URL.
    ``secrets`` are the Standard Webhooks signing secrets (current first; empty for an
    unsigned per-request webhook); ``legacy_secret`` signs the ``X-Email-Service-*``
    headers, which only per-request deliveries carry (``per_request``).
    """

    id: str
    message_id: str
    endpoint_id: str | None
    event_type: EventType
    payload: str
    attempt_number: int
    give_up_at: int
    lease_token: str
    lease_expires_at: int
    claimed_at: int
    worker_id: str
    url: str | None
    # Kept out of repr, so a claim in a log line or a test failure shows no secret.
    secrets: tuple[str, ...] = field(repr=False)
    legacy_secret: str | None = field(repr=False)
    target_problem: str | None = None

    @property
    def per_request(self) -> bool:
        return self.endpoint_id is None


def endpoint_from_row(row: Mapping[Any, Any]) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        event_types=event_types_from_json(row["event_types"]),
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
    )


def delivery_from_row(row: Mapping[Any, Any], now: int) -> Delivery:
    lease_end = row["lease_expires_at"]
    return Delivery(
        id=row["id"],
        event_id=row["event_id"],
        message_id=row["message_id"],
        endpoint_id=row["endpoint_id"],
        event_type=EventType(row["event_type"]),
        status=DeliveryStatus(row["status"]),
        attempt_count=row["attempt_count"],
        next_attempt_at=row["next_attempt_at"],
        give_up_at=row["give_up_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        in_flight=row["status"] == DeliveryStatus.PENDING.value
        and lease_end is not None
        and lease_end >= now,
        payload=row["payload"],
    )


def delivery_attempt_from_row(row: Mapping[Any, Any]) -> DeliveryAttempt:
    return DeliveryAttempt(
        number=row["number"],
        worker_id=row["worker_id"],
        started_at=row["started_at"],
        latency_ms=row["latency_ms"],
        status_code=row["status_code"],
        result=row["result"],
        error=row["error"],
        response=row["response"],
    )
