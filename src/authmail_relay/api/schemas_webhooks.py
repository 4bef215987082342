"""Wire models of ``/v1/webhooks`` and the record → view functions (pure).

Views never carry a secret, except :class:`EndpointCreated` — the answer to create and
rotate, the only times a secret is shown.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..db.webhook_store import MAX_DESCRIPTION_CHARS
from ..vocabulary import WEBHOOK_EVENT_TYPES
from ..webhooks.records import Delivery, DeliveryAttempt, Endpoint
from .fields import ONE_LINE_PATTERN, RequestModel, Url
from .views import iso, iso_or_none

_EVENT_NAMES = sorted(t.value for t in WEBHOOK_EVENT_TYPES)
#: An event type's name: published as the closed list, checked by the store.
EventName = Annotated[str, Field(max_length=64, json_schema_extra={"enum": _EVENT_NAMES})]
_EVENTS_FIELD = f"Event types to receive ({', '.join(_EVENT_NAMES)}); empty or absent: all."
Description = Annotated[
    str,
    Field(max_length=MAX_DESCRIPTION_CHARS, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
]


class EndpointCreate(RequestModel):
    """``POST /v1/webhooks``."""

    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="http(s) URL; must resolve to public addresses.")
    event_types: list[EventName] | None = Field(None, max_length=20, description=_EVENTS_FIELD)
    enabled: bool = True
    description: Description = ""


class EndpointUpdate(RequestModel):
    """``PATCH /v1/webhooks/{id}``: the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[EventName] | None = Field(None, max_length=20, description=_EVENTS_FIELD)
    enabled: bool | None = Field(None, description="true also clears disabled_reason.")
    description: Description | None = None


class EndpointView(BaseModel):
    """A registered endpoint (never its secret)."""

    id: str
    url: str
    description: str
    event_types: list[str] = Field(description="Empty: every event type.")
    enabled: bool
    disabled_reason: str | None = Field(description="Why the relay disabled it, e.g. a 410.")
    previous_secret_valid_until: str | None = Field(
        description="After a rotation: until when the old secret is still signed with."
    )
    created_at: str
    updated_at: str


class EndpointCreated(EndpointView):
    """An endpoint with its signing secret: shown once, store it now."""

    secret: str = Field(description="whsec_…: verify signatures with it (Standard Webhooks).")


class EndpointList(BaseModel):
    data: list[EndpointView]


class DeliveryView(BaseModel):
    """One event to one target. ``endpoint_id`` null: the message's own webhook_url."""

    id: str = Field(description="Also the webhook-id header of every attempt.")
    message_id: str
    endpoint_id: str | None
    event_type: str
    status: str = Field(description="pending, succeeded or failed.")
    attempt_count: int
    in_flight: bool
    next_attempt_at: str | None = Field(description="When pending: the next attempt.")
    give_up_at: str
    last_status_code: int | None
    last_error: str | None
    created_at: str
    updated_at: str
    finished_at: str | None


class DeliveryAttemptView(BaseModel):
    number: int
    started_at: str
    latency_ms: int
    status_code: int | None
    result: str = Field(description="succeeded, retry or failed.")
    error: str | None
    response: str | None = Field(description="The start of the answer (at most 1 KiB).")


class DeliveryDetail(DeliveryView):
    """A delivery with the body it sends and its attempts, oldest first."""

    payload: dict[str, Any]
    attempts: list[DeliveryAttemptView]


class DeliveryList(BaseModel):
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    data: list[DeliveryView]
    next_cursor: str | None


def endpoint_view(endpoint: Endpoint) -> EndpointView:
    return EndpointView(**_endpoint_fields(endpoint))


def endpoint_created(endpoint: Endpoint, secret: str) -> EndpointCreated:
    return EndpointCreated(**_endpoint_fields(endpoint), secret=secret)


def _endpoint_fields(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": [t.value for t in endpoint.event_types],
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_valid_until": iso_or_none(endpoint.previous_secret_expires_at),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView(**_delivery_fields(delivery))


def delivery_detail(delivery: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryDetail:
    return DeliveryDetail(
        **_delivery_fields(delivery),
        payload=json.loads(delivery.payload),
        attempts=[
            DeliveryAttemptView(
                number=a.number,
                started_at=iso(a.started_at),
                latency_ms=a.latency_ms,
                status_code=a.status_code,
                result=a.result,
                error=a.error,
                response=a.response,
            )
            for a in attempts
        ],
    )


def _delivery_fields(delivery: Delivery) -> dict[str, Any]:
    pending = delivery.finished_at is None
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "endpoint_id": delivery.endpoint_id,
        "event_type": delivery.event_type.value,
        "status": delivery.status.value,
        "attempt_count": delivery.attempt_count,
        "in_flight": delivery.in_flight,
        "next_attempt_at": iso(delivery.next_attempt_at) if pending else None,
        "give_up_at": iso(delivery.give_up_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "updated_at": iso(delivery.updated_at),
        "finished_at": iso_or_none(delivery.finished_at),
    }
