"""``authmail-relay worker``: delivery (and webhook) work without the HTTP API.

The worker, the webhook dispatcher and the wake-ups are started and stopped by
:mod:`authmail_relay.background`, in the order documented there; SIGTERM and SIGINT ask
for that graceful stop.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
from collections.abc import Callable

from ..background import background_work
from ..relay import Relay
from ..settings import Settings


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver until SIGTERM/SIGINT (graceful) or, with ``--until-idle``, until nothing is
    due: then the webhook dispatcher runs until idle too, so the notifications of what
    the worker did go out before the command exits."""
    if args.concurrency is not None:
        settings = dataclasses.replace(settings, worker_concurrency=max(1, args.concurrency))
    smtp = settings.require_smtp()
    async with (
        Relay(settings) as relay,
        background_work(relay, settings, smtp=smtp, until_idle=args.until_idle) as work,
    ):
        stop_on_signals(work.stop)
        await work.wait()
    return 0


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call ``stop()`` on SIGTERM and SIGINT (a second signal is handled the same way)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
