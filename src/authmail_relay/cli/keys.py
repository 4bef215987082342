"""``authmail-relay keys …``: stored API keys from the shell.

:func:`add_parser` only builds arguments and imports nothing beyond the standard library
(the CLI parser is built in the base install too); :func:`run` needs the ``[http]``
extra and imports it when a ``keys`` command actually runs. The full key is printed by
``create`` and ``rotate`` only, on standard output, and never logged.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..vocabulary import Scope

if TYPE_CHECKING:
    from ..db.api_keys_store import ApiKey, ApiKeyStore
    from ..settings import Settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys`` and its actions to the CLI's sub-commands."""
    keys = commands.add_parser("keys", help="stored API keys (scopes, senders, rotation)")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="make a key; prints it once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[s.value for s in Scope],
        help="repeatable",
    )
    create.add_argument(
        "--sender",
        action="append",
        default=[],
        metavar="ADDRESS_OR_DOMAIN",
        help="repeatable; an address, a domain, or *.domain for its subdomains",
    )
    create.add_argument(
        "--origin", action="append", default=[], metavar="URL", help="repeatable link origin"
    )
    create.add_argument("--expires-in", type=float, default=None, metavar="DAYS")
    create.add_argument("--rate-limit", type=int, default=None, metavar="PER_MINUTE")

    actions.add_parser("list", help="every key (never secrets)")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id")
    rotate = actions.add_parser("rotate", help="new key, same settings; the old one stays valid")
    rotate.add_argument("id")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``keys`` action; returns the exit code."""
    from ..db.api_keys_store import ApiKeyStore
    from ..relay import Relay

    async with Relay(settings) as relay:
        await _act(args.keys_command, args, ApiKeyStore(relay.outbox.engine))
    return 0


async def _act(action: str, args: argparse.Namespace, store: ApiKeyStore) -> None:
    if action == "create":
        created = await store.create(
            name=args.name,
            scopes=args.scope,
            allowed_senders=args.sender,
            allowed_origins=args.origin,
            expires_in_days=args.expires_in,
            rate_limit_per_minute=args.rate_limit,
        )
        print(_describe(created.key))
        print(f"key:         {created.token}")
        print("             (shown this once: store it now)")
    elif action == "list":
        print(f"{'ID':<13} {'STATE':<8} {'SCOPES':<24} NAME")
        for key in await store.list():
            print(f"{key.id:<13} {_state(key):<8} {','.join(_scopes(key)):<24} {key.name}")
    elif action == "revoke":
        print(_describe(await store.revoke(args.id)))
    else:
        rotated = await store.rotate(args.id)
        print(_describe(rotated.key))
        print(f"key:         {rotated.token}")
        print(f"             (shown this once; {args.id} stays valid until you revoke it)")


def _scopes(key: ApiKey) -> list[str]:
    return sorted(s.value for s in key.scopes)


def _state(key: ApiKey) -> str:
    return "revoked" if key.revoked_at is not None else "active"


def _describe(key: ApiKey) -> str:
    from .service import format_ms

    lines = [
        f"id:          {key.id}",
        f"name:        {key.name}",
        f"scopes:      {', '.join(_scopes(key))}",
        f"senders:     {', '.join(key.allowed_senders) or '(default sender only)'}",
        f"origins:     {', '.join(key.allowed_origins) or '-'}",
        f"rate limit:  {key.rate_limit_per_minute or '-'} per minute",
        f"created:     {format_ms(key.created_at)}",
        f"expires:     {format_ms(key.expires_at)}",
        f"last used:   {format_ms(key.last_used_at)}",
        f"revoked:     {format_ms(key.revoked_at)}",
    ]
    if key.rotated_from:
        lines.append(f"rotated from {key.rotated_from}")
    return "\n".join(lines)
