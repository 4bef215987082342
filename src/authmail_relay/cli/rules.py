"""``authmail-relay rules …``: approval rules from the shell.

Each repeatable option (``--kind``, ``--tag``, ``--recipient``, ``--recipient-domain``,
``--sender``, ``--api-key``, ``--priority``) adds a value to one condition; ``update``
with any of them replaces every condition, without them leaves the conditions as they
are. Changes are audited with the actor ``cli``. Bad input is exit code 2 with the
store's message; an unknown id is exit code 1.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..db.rules_store import RulesStore, StoredRule
from ..oversight.rules import CONDITION_FIELDS
from ..relay import Relay
from ..settings import Settings
from ._format import format_ms

#: The audit actor of every change made from the command line.
ACTOR = "cli"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``rules`` action; returns the exit code."""
    async with Relay(settings) as relay:
        await _act(args.rules_command, args, RulesStore(relay.outbox.engine))
    return 0


def _conditions(args: argparse.Namespace) -> dict[str, list[str]] | None:
    """The conditions given on the command line; None when no condition option was."""
    given = {name: getattr(args, name) for name in CONDITION_FIELDS}
    chosen = {name: values for name, values in given.items() if values is not None}
    return chosen or None


async def _act(action: str, args: argparse.Namespace, store: RulesStore) -> None:
    if action == "list":
        print(f"{'POS':>3} {'ID':<30} {'ACTION':<8} CONDITIONS")
        for stored in await store.list():
            rule = stored.rule
            print(f"{rule.position:>3} {rule.id:<30} {rule.action.value:<8} {_summary(stored)}")
    elif action == "show":
        print(_describe(await store.get(args.id)))
    elif action == "create":
        created = await store.create(
            args.action,
            _conditions(args) or {},
            args.description or "",
            args.position,
            actor=ACTOR,
        )
        print(_describe(created))
    elif action == "update":
        changes: dict[str, Any] = {
            "action": args.action,
            "conditions": _conditions(args),
            "description": args.description,
            "position": args.position,
        }
        print(_describe(await store.update(args.id, **changes, actor=ACTOR)))
    else:
        gone = await store.delete(args.id, actor=ACTOR)
        print(f"deleted {gone.rule.id} (was at position {gone.rule.position})")


def _summary(stored: StoredRule) -> str:
    conditions = stored.rule.conditions
    if not conditions:
        return "(every send)"
    return "; ".join(f"{name}={','.join(sorted(conditions[name]))}" for name in sorted(conditions))


def _describe(stored: StoredRule) -> str:
    rule = stored.rule
    lines = [
        f"id:          {rule.id}",
        f"position:    {rule.position}",
        f"action:      {rule.action.value}",
        f"description: {rule.description or '-'}",
        f"created:     {format_ms(stored.created_at)}",
        f"updated:     {format_ms(stored.updated_at)}",
        "conditions:  " + ("(none: matches every send)" if not rule.conditions else ""),
    ]
    for name in sorted(rule.conditions):
        lines.append(f"  {name}: {', '.join(sorted(rule.conditions[name]))}")
    return "\n".join(lines)
