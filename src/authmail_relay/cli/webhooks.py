"""``authmail-relay webhooks …``: registered endpoints and the delivery log from the shell.

An endpoint's secret is printed by ``create`` and ``rotate`` only; ``list`` and the
descriptions never show one.
"""

from __future__ import annotations

import argparse

from ..db.webhook_store import CLI_ACTOR, WebhookStore
from ..relay import Relay
from ..settings import Settings
from ..trust.secrets_at_rest import encode_key, load_keys, new_key
from ..vocabulary import DeliveryStatus
from ..webhooks.records import Delivery, Endpoint
from ._format import format_ms


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``webhooks`` action; returns the exit code."""
    action = args.webhooks_command
    if action == "new-key":
        print(encode_key(new_key()))
        return 0
    if action == "hash":
        print(load_keys(settings).address_hash(args.address[:320]))
        return 0
    async with Relay(settings) as relay:
        store = WebhookStore.from_settings(relay.outbox.engine, settings, keys=relay.outbox.keys)
        if action == "reencrypt":
            resealed = await store.reseal_secrets()
            print(f"sealed {resealed.sealed} secret(s) with key {resealed.key_id}")
            for problem in resealed.problems:
                print(f"left as is: {problem}")
            return 1 if resealed.problems else 0
        if action in ("create", "update") and args.url is not None:
            await relay.webhook_urls.check_with_dns(args.url, field="--url")
        await _act(action, args, store)
    return 0


async def _act(action: str, args: argparse.Namespace, store: WebhookStore) -> None:
    if action == "create":
        created = await store.create_endpoint(
            url=args.url,
            event_types=args.event or (),
            enabled=not args.disabled,
            description=args.description,
            actor=CLI_ACTOR,
        )
        print(_describe(created.endpoint))
        print(f"secret:      {created.secret}")
        print("             (shown this once: store it now)")
    elif action == "list":
        print(f"{'ID':<31} {'ON':<3} {'EVENTS':<24} URL")
        for endpoint in await store.list_endpoints():
            events = ",".join(t.value.split(".", 1)[1] for t in endpoint.event_types) or "all"
            on = "yes" if endpoint.enabled else "no"
            print(f"{endpoint.id:<31} {on:<3} {events:<24} {endpoint.url}")
    elif action == "update":
        enabled = True if args.enable else False if args.disable else None
        event_types = [] if args.all_events else args.event
        updated = await store.update_endpoint(
            args.id,
            url=args.url,
            event_types=event_types,
            enabled=enabled,
            description=args.description,
            actor=CLI_ACTOR,
        )
        print(_describe(updated))
    elif action == "delete":
        await store.delete_endpoint(args.id, actor=CLI_ACTOR)
        print(f"deleted {args.id}")
    elif action == "rotate":
        rotated = await store.rotate_secret(args.id, actor=CLI_ACTOR)
        print(_describe(rotated.endpoint))
        print(f"secret:      {rotated.secret}")
        print("             (shown this once; the old secret stays valid until the time above)")
    elif action == "deliveries":
        status = DeliveryStatus(args.status) if args.status else None
        deliveries = await store.list_deliveries(
            endpoint_id=args.endpoint,
            message_id=args.message,
            status=status,
            limit=min(200, max(1, args.limit)),
        )
        print(f"{'ID':<30} {'STATUS':<9} {'EVENT':<17} {'TARGET':<31} {'TRIES':>5}  LAST")
        for delivery in deliveries:
            print(_delivery_line(delivery))
    else:
        replayed = await store.replay(args.id)
        print(f"{replayed.id} is pending again and due now")


def _describe(endpoint: Endpoint) -> str:
    events = ", ".join(t.value for t in endpoint.event_types) or "all"
    lines = [
        f"id:          {endpoint.id}",
        f"url:         {endpoint.url}",
        f"events:      {events}",
        f"enabled:     {'yes' if endpoint.enabled else 'no'}"
        + (f" ({endpoint.disabled_reason})" if endpoint.disabled_reason else ""),
    ]
    if endpoint.description:
        lines.append(f"description: {endpoint.description}")
    if endpoint.previous_secret_expires_at is not None:
        until = format_ms(endpoint.previous_secret_expires_at)
        lines.append(f"old secret:  valid until {until} UTC")
    return "\n".join(lines)


def _delivery_line(delivery: Delivery) -> str:
    target = delivery.endpoint_id or "message webhook_url"
    if delivery.last_status_code is not None:
        last = f"HTTP {delivery.last_status_code}"
    else:
        last = (delivery.last_error or "-")[:60]
    return (
        f"{delivery.id:<30} {delivery.status:<9} {delivery.event_type:<17} {target:<31} "
        f"{delivery.attempt_count:>5}  {last}"
    )
