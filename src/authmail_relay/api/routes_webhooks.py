"""``/v1/webhooks``: registered endpoints and the delivery log.

Endpoint URLs get the webhook address policy at request time (scheme, user info, blocked
IP literals and names, and — by asynchronous DNS — names that resolve to blocked
addresses): a URL the relay would never call is a ``422`` here, not a silent failure
later. The secret is returned by create and rotate only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from ..db.webhook_store import WebhookStore
from ..exceptions import NotFoundError, ValidationError
from ..ids import is_message_id
from ..vocabulary import DeliveryStatus
from ..webhooks.records import is_delivery_id, is_endpoint_id
from .deps import AdminCaller, ReadCaller, RelayDep
from .fields import DELIVERY_ID_PATTERN, ENDPOINT_ID_PATTERN, MESSAGE_ID_PATTERN
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute
from .schemas_webhooks import (
    DeliveryDetail,
    DeliveryList,
    DeliveryView,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    EndpointUpdate,
    EndpointView,
    delivery_detail,
    delivery_view,
    endpoint_created,
    endpoint_view,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=CountedRoute)
MAX_PAGE = 200
#: Statuses of routes with a JSON body.
_WITH_BODY = (*AUTHENTICATED, 400, 422)


def get_store(request: Request) -> WebhookStore:
    store: WebhookStore = request.app.state.webhooks
    return store


StoreDep = Annotated[WebhookStore, Depends(get_store)]


def _endpoint_id(value: str) -> str:
    if not is_endpoint_id(value):
        raise NotFoundError(f"no webhook endpoint {value[:40]!r}")
    return value


def _delivery_id(value: str) -> str:
    if not is_delivery_id(value):
        raise NotFoundError(f"no webhook delivery {value[:40]!r}")
    return value


@router.post(
    "",
    status_code=201,
    response_model=EndpointCreated,
    responses=problems(*_WITH_BODY),
    summary="Register an endpoint (its secret is shown in this answer only)",
)
async def create_endpoint(
    body: EndpointCreate, caller: AdminCaller, relay: RelayDep, store: StoreDep
) -> EndpointCreated:
    await relay.webhook_urls.check_with_dns(body.url, field="url")
    created = await store.create_endpoint(
        url=body.url,
        event_types=body.event_types or (),
        enabled=body.enabled,
        description=body.description,
        actor=caller.key_id,
    )
    return endpoint_created(created.endpoint, created.secret)


@router.get(
    "", response_model=EndpointList, responses=problems(*AUTHENTICATED), summary="List endpoints"
)
async def list_endpoints(caller: AdminCaller, store: StoreDep) -> EndpointList:
    return EndpointList(data=[endpoint_view(e) for e in await store.list_endpoints()])


# The delivery routes come before "/{endpoint_id}", which would otherwise match them.
@router.get(
    "/deliveries",
    response_model=DeliveryList,
    responses=problems(*AUTHENTICATED, 422),
    summary="Recent deliveries, newest first",
)
async def list_deliveries(
    caller: ReadCaller,
    store: StoreDep,
    endpoint_id: Annotated[
        str | None, Query(max_length=40, json_schema_extra={"pattern": ENDPOINT_ID_PATTERN})
    ] = None,
    message_id: Annotated[
        str | None, Query(max_length=40, json_schema_extra={"pattern": MESSAGE_ID_PATTERN})
    ] = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=40,
            description="next_cursor of the previous page.",
            json_schema_extra={"pattern": DELIVERY_ID_PATTERN},
        ),
    ] = None,
) -> DeliveryList:
    if cursor is not None and not is_delivery_id(cursor):
        raise ValidationError("cursor is not one this API returned", field="cursor")
    if endpoint_id is not None and not is_endpoint_id(endpoint_id):
        raise ValidationError("endpoint_id is not an endpoint id", field="endpoint_id")
    if message_id is not None and not is_message_id(message_id):
        raise ValidationError("message_id is not a message id", field="message_id")
    deliveries = await store.list_deliveries(
        endpoint_id=endpoint_id,
        message_id=message_id,
        status=status,
        limit=limit,
        before_id=cursor,
    )
    next_cursor = deliveries[-1].id if len(deliveries) == limit else None
    return DeliveryList(data=[delivery_view(d) for d in deliveries], next_cursor=next_cursor)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=problems(*AUTHENTICATED, 404),
    summary="One delivery with its body and attempts",
)
async def get_delivery(delivery_id: str, caller: ReadCaller, store: StoreDep) -> DeliveryDetail:
    delivery, attempts = await store.get_delivery(_delivery_id(delivery_id))
    return delivery_detail(delivery, attempts)


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryView,
    responses=problems(*AUTHENTICATED, 404, 409),
    summary="Send a delivery again (same webhook-id and body), due now",
)
async def replay_delivery(delivery_id: str, caller: AdminCaller, store: StoreDep) -> DeliveryView:
    return delivery_view(await store.replay(_delivery_id(delivery_id)))


@router.get(
    "/{endpoint_id}",
    response_model=EndpointView,
    responses=problems(*AUTHENTICATED, 404),
    summary="One endpoint",
)
async def get_endpoint(endpoint_id: str, caller: AdminCaller, store: StoreDep) -> EndpointView:
    return endpoint_view(await store.get_endpoint(_endpoint_id(endpoint_id)))


@router.patch(
    "/{endpoint_id}",
    response_model=EndpointView,
    responses=problems(*_WITH_BODY, 404),
    summary="Change an endpoint's URL, event types, description or enabled flag",
)
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, caller: AdminCaller, relay: RelayDep, store: StoreDep
) -> EndpointView:
    checked_id = _endpoint_id(endpoint_id)
    if body.url is not None:
        await relay.webhook_urls.check_with_dns(body.url, field="url")
    updated = await store.update_endpoint(
        checked_id,
        url=body.url,
        event_types=body.event_types,
        enabled=body.enabled,
        description=body.description,
        actor=caller.key_id,
    )
    return endpoint_view(updated)


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, 404),
    summary="Delete an endpoint with its deliveries",
)
async def delete_endpoint(endpoint_id: str, caller: AdminCaller, store: StoreDep) -> Response:
    await store.delete_endpoint(_endpoint_id(endpoint_id), actor=caller.key_id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate",
    response_model=EndpointCreated,
    responses=problems(*AUTHENTICATED, 404),
    summary="New secret; the old one stays valid for WEBHOOK_SECRET_GRACE_SECONDS",
)
async def rotate_secret(endpoint_id: str, caller: AdminCaller, store: StoreDep) -> EndpointCreated:
    rotated = await store.rotate_secret(_endpoint_id(endpoint_id), actor=caller.key_id)
    return endpoint_created(rotated.endpoint, rotated.secret)
