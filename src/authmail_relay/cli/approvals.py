"""``authmail-relay approvals list|show|approve|reject``: held messages from the shell.

Decisions made here are recorded with the actor ``cli`` (in ``decided_by``, the event and
the audit trail): whoever can run this command on the relay's host already holds its
database. Listing masks recipients and never shows a body (:mod:`._format`).
"""

from __future__ import annotations

import argparse

from ..relay import Relay
from ..settings import Settings
from ..vocabulary import Kind
from ._format import MESSAGE_LIST_HEADER, message_line, render_details

#: Who the core records as the approver of a decision made with this command.
CLI_ACTOR = "cli"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``approvals`` action; returns the exit code (errors raise, and ``main``
    turns them into exit codes 1 or 2)."""
    action = args.approvals_command
    async with Relay(settings) as relay:
        if action == "list":
            records = await relay.list_held(
                api_key_id=args.key,
                kind=Kind(args.kind) if args.kind else None,
                tag=args.tag,
                older_than_ms=None if args.older_than is None else max(0, args.older_than) * 1000,
                limit=min(200, max(1, args.limit)),
            )
            print(MESSAGE_LIST_HEADER)
            for record in records:
                print(message_line(record))
        elif action == "show":
            print(render_details(await relay.get_message(args.id)))
        elif action == "approve":
            record = await relay.approve(args.id, CLI_ACTOR, args.reason)
            print(f"{record.id} {record.status}")
        else:
            record = await relay.reject(args.id, CLI_ACTOR, args.reason)
            print(f"{record.id} {record.status}")
    return 0
