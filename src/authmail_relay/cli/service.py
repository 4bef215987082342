"""Service commands of the CLI (``send``, ``worker``, ``messages``, ``db``, ``dev``).

Imported only when one of them runs, so the base install never needs their
dependencies. Each command builds :class:`Settings` once and passes it down.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from ..db.engine import create_engine
from ..db.migrate import current_revision, upgrade
from ..db.wakeups import WakeupListener
from ..db.webhook_queue import WebhookQueue
from ..dkim.store import KeyStore
from ..mail.message_request import MessageRequest
from ..redaction import mask_address
from ..relay import MessageDetails, Relay
from ..settings import Settings
from ..vocabulary import MessageStatus
from ..webhooks.dispatcher import WebhookDispatcher
from ..worker import Worker
from .service_setup import configure_logging


async def dispatch(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run the parsed service command; returns the exit code."""
    settings = Settings.from_env(env)
    configure_logging(settings.log_level)
    if args.command == "serve":
        return await serve(settings, host=args.host, port=args.port, run_worker=not args.no_worker)
    if args.command == "send":
        return await send(args, settings)
    if args.command == "worker":
        if args.concurrency is not None:
            settings = dataclasses.replace(settings, worker_concurrency=max(1, args.concurrency))
        return await run_worker(settings, until_idle=args.until_idle)
    if args.command == "messages":
        return await messages(args, settings)
    if args.command == "webhooks":
        from .webhooks import run as run_webhooks

        return await run_webhooks(args, settings)
    if args.command == "keys":
        from .keys import run as run_keys

        return await run_keys(args, settings)
    if args.command in ("dkim", "domains"):
        from .dkim import run as run_dkim

        return await run_dkim(args, settings)
    if args.command == "db":
        return await db_upgrade(settings)
    if args.command == "dev":
        from .dev import run_dev

        return await run_dev(data_dir=args.data_dir, host=args.host, port=args.port, once=args.once)
    raise AssertionError(f"unhandled command {args.command}")


async def serve(settings: Settings, *, host: str | None, port: int | None, run_worker: bool) -> int:
    """Run the HTTP API (and, unless told not to, a worker) until SIGTERM/SIGINT.

    Everything that can be wrong with the settings or the database is checked before
    the server starts, so a bad start is one line on stderr, not a traceback.
    """
    import uvicorn

    from ..api import create_app
    from .service_setup import server_config

    settings.require_api_key()
    if run_worker:
        settings.require_smtp()
        KeyStore(settings.dkim_keys_dir).keys()  # a bad DKIM key file: one line, before start
    async with Relay(settings) as relay:
        app = create_app(settings, relay=relay, run_worker=run_worker)
        server = uvicorn.Server(
            server_config(app, settings, host=host or settings.host, port=port or settings.port)
        )
        await server.serve()
        return 0 if server.started else 1


async def send(args: argparse.Namespace, settings: Settings) -> int:
    """Queue one message and print its id."""
    request = MessageRequest(
        to=args.to,
        subject=args.subject,
        html=args.html,
        text=args.text,
        from_addr=args.from_addr,
        priority=args.priority,
        expires_in_seconds=args.expires_in,
    )
    async with Relay(settings) as relay:
        accepted = await relay.submit(request)
    print(accepted.id)
    return 0


async def run_worker(settings: Settings, *, until_idle: bool = False) -> int:
    """Deliver until SIGTERM/SIGINT (graceful) or, with ``until_idle``, until nothing is due.

    The webhook dispatcher runs next to the worker and stops with it; with
    ``until_idle`` it runs after the worker, so the notifications of what the worker did
    go out before the command exits.
    """
    smtp = settings.require_smtp()
    async with Relay(settings) as relay, WakeupListener(settings.database_url, relay.new_work):
        worker = Worker(relay.outbox, smtp, settings, wake=relay.new_work)
        dispatcher = WebhookDispatcher(
            WebhookQueue(relay.outbox.engine, keys=relay.outbox.keys),
            settings,
            worker_id=worker.worker_id,
            wake=relay.outbox.webhooks_due,
        )

        def stop() -> None:
            worker.stop()
            dispatcher.stop()

        stop_on_signals(stop)
        if until_idle:
            await worker.run(until_idle=True)
            await dispatcher.run(until_idle=True)
            return 0
        tasks = [asyncio.ensure_future(worker.run()), asyncio.ensure_future(dispatcher.run())]
        try:
            await asyncio.gather(*tasks)
        finally:
            stop()  # if one of them failed, the other stops too
            await asyncio.gather(*tasks, return_exceptions=True)
    return 0


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call ``stop()`` on SIGTERM and SIGINT (a second signal is handled the same way)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)


async def messages(args: argparse.Namespace, settings: Settings) -> int:
    """``messages list`` and ``messages show``."""
    async with Relay(settings) as relay:
        if args.messages_command == "list":
            status = MessageStatus(args.status) if args.status else None
            records = await relay.list_messages(status=status, limit=min(200, max(1, args.limit)))
            header = f"{'ID':<30} {'STATUS':<9} {'PRIO':<6} {'TRIES':>5}  {'CREATED (UTC)':<19}"
            print(f"{header}  TO / SUBJECT")
            for record in records:
                to = mask_address(record.recipients[0]) if record.recipients else "-"
                more = f" +{len(record.recipients) - 1}" if len(record.recipients) > 1 else ""
                columns = f"{record.id:<30} {record.status:<9} {record.priority:<6}"
                columns += f" {record.attempt_count:>5}  {format_ms(record.created_at):<19}"
                print(f"{columns}  {to}{more} / {record.subject[:40]}")
            return 0
        print(render_details(await relay.get_message(args.id)))
        return 0


def render_details(details: MessageDetails) -> str:
    """Human-readable view of one message: no body, recipients masked."""
    m = details.message
    lines = [
        f"id:          {m.id}",
        f"status:      {m.status}",
        f"kind:        {m.kind}   priority: {m.priority}",
        f"message-id:  {m.message_id}",
        f"subject:     {m.subject}",
        f"to:          {', '.join(mask_address(r) for r in m.recipients)}",
        f"created:     {format_ms(m.created_at)}",
        f"expires:     {format_ms(m.expires_at) if m.expires_at else 'never'}",
        f"attempts:    {m.attempt_count}",
    ]
    if m.last_error_code:
        lines.append(f"last error:  {m.last_error_code}: {m.last_error_message or ''}")
    if details.attempts:
        lines.append("attempts:")
        for a in details.attempts:
            flags = " ambiguous" if a.ambiguous else ""
            flags += " superseded" if a.superseded else ""
            code = f" {a.smtp_code}" if a.smtp_code else ""
            lines.append(
                f"  #{a.number} {format_ms(a.started_at)} {a.upstream} {a.result}"
                f"{f' {a.error_code}' if a.error_code else ''}{code}{flags}"
                f"{f' — {a.smtp_reply}' if a.smtp_reply else ''}"
            )
    lines.append("events:")
    for e in details.events:
        lines.append(f"  {format_ms(e.created_at)} {e.type}")
    return "\n".join(lines)


async def db_upgrade(settings: Settings) -> int:
    """Apply pending migrations and print the schema revision."""
    engine = create_engine(settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
    try:
        await upgrade(engine)
        print(f"database schema at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


def format_ms(ms: int | None) -> str:
    """Epoch milliseconds as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
