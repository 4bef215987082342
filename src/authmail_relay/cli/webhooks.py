"""``authmail-relay webhooks …``: registered endpoints and the delivery log from the shell.

:func:`add_parser` only builds arguments and imports nothing beyond the standard library
(the CLI parser is built in the base install too); :func:`run` needs the ``[http]``
extra and imports it when a ``webhooks`` command actually runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..vocabulary import WEBHOOK_EVENT_TYPES, DeliveryStatus

if TYPE_CHECKING:
    from ..db.webhook_store import WebhookStore
    from ..settings import Settings
    from ..webhooks.records import Delivery, Endpoint

_EVENTS = sorted(t.value for t in WEBHOOK_EVENT_TYPES)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``webhooks`` and its actions to the CLI's sub-commands."""
    webhooks = commands.add_parser("webhooks", help="registered webhook endpoints and deliveries")
    actions = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="register an endpoint; prints its secret once")
    create.add_argument("--url", required=True, help="http(s) URL of the receiver")
    create.add_argument(
        "--event", action="append", choices=_EVENTS, default=None, help="repeatable; default all"
    )
    create.add_argument("--description", default="")
    create.add_argument("--disabled", action="store_true", help="register it switched off")

    actions.add_parser("list", help="every endpoint (never secrets)")

    update = actions.add_parser("update", help="change an endpoint")
    update.add_argument("id")
    update.add_argument("--url", default=None)
    events = update.add_mutually_exclusive_group()
    events.add_argument("--event", action="append", choices=_EVENTS, default=None)
    events.add_argument("--all-events", action="store_true", help="receive every event type")
    update.add_argument("--description", default=None)
    switch = update.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true")
    switch.add_argument("--disable", action="store_true")

    delete = actions.add_parser("delete", help="remove an endpoint and its deliveries")
    delete.add_argument("id")

    rotate = actions.add_parser("rotate", help="new secret (old one valid for the grace period)")
    rotate.add_argument("id")

    listing = actions.add_parser("deliveries", help="recent deliveries, newest first")
    listing.add_argument("--endpoint", default=None, metavar="ENDPOINT_ID")
    listing.add_argument("--message", default=None, metavar="MESSAGE_ID")
    listing.add_argument("--status", choices=[s.value for s in DeliveryStatus], default=None)
    listing.add_argument("--limit", type=int, default=20)

    replay = actions.add_parser("replay", help="send a delivery again, now")
    replay.add_argument("id", metavar="DELIVERY_ID")

    hashing = actions.add_parser("hash", help="the to_hash this relay's payloads show for ADDRESS")
    hashing.add_argument("address", metavar="ADDRESS")
    actions.add_parser("new-key", help="print a fresh secrets key (for SECRETS_KEY)")
    actions.add_parser(
        "reencrypt", help="seal every stored webhook secret with the current secrets key"
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``webhooks`` action; returns the exit code."""
    from ..db.webhook_store import WebhookStore
    from ..relay import Relay
    from ..trust.secrets_at_rest import encode_key, load_keys, new_key

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
        )
        print(_describe(updated))
    elif action == "delete":
        await store.delete_endpoint(args.id)
        print(f"deleted {args.id}")
    elif action == "rotate":
        rotated = await store.rotate_secret(args.id)
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
    from .service import format_ms

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
