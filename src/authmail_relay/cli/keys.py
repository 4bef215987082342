"""``authmail-relay keys …``: stored API keys from the shell.

The full key is printed by ``create`` and ``rotate`` only, on standard output, and
never logged. Changes are audited with the actor ``cli``; ``create`` takes
``--oversight`` (default ``OVERSIGHT_DEFAULT``) and ``set-oversight ID MODE`` changes a
key's mode.
"""

from __future__ import annotations

import argparse

from ..db.api_keys_store import ApiKey, ApiKeyStore
from ..exceptions import ValidationError
from ..relay import Relay
from ..settings import Settings
from ._format import format_ms

#: The audit actor of every change made from the command line.
ACTOR = "cli"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``keys`` action; returns the exit code."""
    async with Relay(settings) as relay:
        await _act(args.keys_command, args, ApiKeyStore(relay.outbox.engine), settings)
    return 0


async def _act(
    action: str, args: argparse.Namespace, store: ApiKeyStore, settings: Settings
) -> None:
    if action == "create":
        if not args.scope:
            raise ValidationError("give the key at least one scope (--scope or --scopes)")
        created = await store.create(
            name=args.name,
            scopes=args.scope,
            allowed_senders=args.sender,
            allowed_origins=args.origin,
            expires_in_days=args.expires_in,
            rate_limit_per_minute=args.rate_limit,
            oversight=args.oversight or settings.oversight_default,
            actor=ACTOR,
        )
        print(_describe(created.key))
        print(f"key:         {created.token}")
        print("             (shown this once: store it now)")
    elif action == "list":
        print(f"{'ID':<13} {'STATE':<8} {'OVERSIGHT':<10} {'SCOPES':<24} NAME")
        for key in await store.list():
            mode, scopes = key.oversight.value, ",".join(_scopes(key))
            print(f"{key.id:<13} {_state(key):<8} {mode:<10} {scopes:<24} {key.name}")
    elif action == "revoke":
        print(_describe(await store.revoke(args.id, actor=ACTOR)))
    elif action == "set-oversight":
        print(_describe(await store.set_oversight(args.id, args.mode, actor=ACTOR)))
    else:
        rotated = await store.rotate(args.id, actor=ACTOR)
        print(_describe(rotated.key))
        print(f"key:         {rotated.token}")
        print(f"             (shown this once; {args.id} stays valid until you revoke it)")


def _scopes(key: ApiKey) -> list[str]:
    return sorted(s.value for s in key.scopes)


def _state(key: ApiKey) -> str:
    return "revoked" if key.revoked_at is not None else "active"


def _describe(key: ApiKey) -> str:
    lines = [
        f"id:          {key.id}",
        f"name:        {key.name}",
        f"scopes:      {', '.join(_scopes(key))}",
        f"oversight:   {key.oversight.value}",
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
