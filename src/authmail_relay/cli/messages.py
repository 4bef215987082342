"""``authmail-relay send`` and ``authmail-relay messages list|show``: the outbox from the shell.

``send`` only queues (a running worker delivers) and prints the new message's id;
``messages`` reads, with recipients masked and no bodies (:mod:`._format`).
"""

from __future__ import annotations

import argparse

from ..mail.message_request import MessageRequest
from ..mail.scheduling import parse_rfc3339
from ..relay import Relay
from ..settings import Settings
from ..vocabulary import MessageStatus
from ._format import MESSAGE_LIST_HEADER, message_line, render_details


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``send`` or a ``messages`` action; returns the exit code."""
    if args.command == "send":
        return await _send(args, settings)
    async with Relay(settings) as relay:
        if args.messages_command == "list":
            status = MessageStatus(args.status) if args.status else None
            records = await relay.list_messages(status=status, limit=min(200, max(1, args.limit)))
            print(MESSAGE_LIST_HEADER)
            for record in records:
                print(message_line(record))
        else:
            print(render_details(await relay.get_message(args.id)))
    return 0


async def _send(args: argparse.Namespace, settings: Settings) -> int:
    """Queue one message and print its id (the request is checked before the database
    is opened)."""
    request = MessageRequest(
        to=args.to,
        subject=args.subject,
        html=args.html,
        text=args.text,
        from_addr=args.from_addr,
        priority=args.priority,
        expires_in_seconds=args.expires_in,
        send_at=None if args.send_at is None else parse_rfc3339(args.send_at),
    )
    async with Relay(settings) as relay:
        accepted = await relay.submit(request)
    print(accepted.id)
    return 0
