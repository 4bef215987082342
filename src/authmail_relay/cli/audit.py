"""``authmail-relay audit …``: the audit trail from the shell.

``list`` prints entries newest first; ``verify`` walks the whole chain and every signed
checkpoint and exits 1 naming the first broken entry or checkpoint; ``export`` writes
every entry oldest first as JSON Lines (:meth:`~authmail_relay.oversight.chain.AuditEntry.as_json`,
one object per line; with ``--checkpoints`` the signed checkpoints follow, each as
``{"checkpoint": {...}}``); ``checkpoint`` signs one of the head now. Nothing printed
holds a key or a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ..audit_checkpoints import checkpoint_keys, make_checkpoint
from ..db.audit_reads import (
    MAX_FILTER_CHARS,
    MAX_LIST_LIMIT,
    AuditFilter,
    iter_checkpoints,
    iter_entries,
    list_entries,
)
from ..db.audit_verify import verify_trail
from ..exceptions import ValidationError
from ..file_modes import write_private
from ..oversight.chain import AuditEntry
from ..relay import Relay
from ..settings import Settings
from ._format import format_ms

#: ``audit list`` columns.
LIST_HEADER = f"{'SEQ':>7}  {'AT (UTC)':<19}  {'ACTOR':<16} {'ACTION':<20} SUBJECT"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``audit`` action; returns the exit code."""
    action = args.audit_command
    async with Relay(settings) as relay:
        engine = relay.outbox.engine
        if action == "list":
            wanted = AuditFilter(
                subject=None if args.message is None else args.message[:MAX_FILTER_CHARS],
                actor=None if args.key is None else args.key[:MAX_FILTER_CHARS],
                action=args.action,
            )
            limit = min(MAX_LIST_LIMIT, max(1, args.limit))
            print(LIST_HEADER)
            for entry in await list_entries(engine, wanted, limit=limit):
                print(entry_line(entry))
            return 0
        keys = checkpoint_keys(settings, relay.outbox.keys)
        if action == "verify":
            found = await verify_trail(engine, keys.verifying)
            print(
                f"entries: {found.entries}  checkpoints: {found.checkpoints}  "
                f"head: {found.head_seq} {found.head_hash}"
            )
            if found.ok:
                print("the audit trail is intact")
                return 0
            where = (
                f"entry {found.broken_at}"
                if found.broken_at is not None
                else f"checkpoint {found.bad_checkpoint}"
            )
            print(f"BROKEN at {where}: {found.reason}", file=sys.stderr)
            return 1
        if action == "checkpoint":
            made = await make_checkpoint(engine, keys.signing)
            if made is None:
                print("the audit trail is empty: nothing to sign")
            else:
                print(f"checkpoint seq={made.seq} head_hash={made.head_hash} key_id={made.key_id}")
            return 0
        count = 0
        with _output(args.output) as out:
            async for entry in iter_entries(engine):
                out.write(json.dumps(entry.as_json(), sort_keys=True, ensure_ascii=True) + "\n")
                count += 1
            if args.checkpoints:
                async for checkpoint in iter_checkpoints(engine):
                    line = {"checkpoint": dataclasses.asdict(checkpoint)}
                    out.write(json.dumps(line, sort_keys=True) + "\n")
        if args.output is not None:
            print(f"exported {count} entries to {args.output}")
        return 0


def entry_line(entry: AuditEntry) -> str:
    """One row of ``audit list``."""
    return (
        f"{entry.seq:>7}  {format_ms(entry.at):<19}  {entry.actor[:16]:<16} "
        f"{entry.action:<20} {entry.subject}"
    )


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or *path* written as a new owner-only file (it may be large; it
    is streamed into the file as the entries are read)."""
    if path is None:
        yield sys.stdout
        return
    target = Path(path)
    try:
        write_private(target, b"", replace=True)
        handle = target.open("w", encoding="ascii")
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror}", field="--output") from None
    with handle:
        yield handle
