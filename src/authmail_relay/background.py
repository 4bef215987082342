"""The background work of a service process, started and stopped in one order.

Beside the HTTP API (``serve``, ``dev``) or on its own (``worker``), a process that
delivers runs these things: the delivery :class:`~authmail_relay.worker.Worker` (with its
retention sweep), the :class:`~authmail_relay.webhooks.dispatcher.WebhookDispatcher` that
reports what the worker did, the :class:`~authmail_relay.db.wakeups.WakeupListener`
that wakes the worker when another process stores a message (PostgreSQL only), and the
:class:`~authmail_relay.oversight_sweep.OversightSweeper` (held messages that expire,
sent auth mail nobody used); beside them, the
:class:`~authmail_relay.audit_checkpoints.CheckpointLoop` signs checkpoints of the audit
trail::

    async with background_work(relay, settings, smtp=smtp) as work:
        await work.wait()  # until work.stop() (say, on SIGTERM) or a part fails

**Start.** The worker and the dispatcher are built before anything runs, so a bad
setting (a DKIM key file that cannot be read) fails the start with nothing to undo.
Then the worker and the dispatcher start (in the same turn of the event loop), then the
oversight sweep, then the wake-up listener, which only ever wakes the worker.

**Stop** (leaving the block, for whatever reason), in this order:

1. *Stop taking work.* The wake-up listener closes, the oversight sweep stops after the
   transaction in progress, and the worker claims nothing more.
   Accepted messages are already durable in the outbox; what is not claimed now waits
   there for the next worker.
2. *Finish what is in flight.* The worker lets its deliveries finish within
   ``SHUTDOWN_GRACE_SECONDS``, cancels the rest and hands their messages back to the
   queue. A delivery's result and the webhook events it causes are written in the same
   transaction, so every finished delivery has its events enqueued. Then the worker's
   retention sweep stops and its SMTP connections close.
3. *Then the dispatcher.* It kept running through step 2, so the events written there
   may still go out now; it stops claiming, lets its in-flight POSTs finish within the
   same grace and hands the rest back (their leases end; they are sent later).
4. *Then the audit checkpoints.* The checkpoint loop (every
   ``AUDIT_CHECKPOINT_SECONDS``; see :mod:`authmail_relay.audit_checkpoints`) signs one
   last checkpoint of the audit trail, which now holds everything this process did.
5. Nothing of this is left running when the block exits. The relay itself (its database
   connections) belongs to the caller, who closes it afterwards.

The HTTP server is outside this module: uvicorn stops accepting requests and finishes
those in flight before the application's lifespan leaves the block, so no request can
store a message after step 1 and expect this process to send it.

With ``until_idle`` (``worker --until-idle``) the worker runs until nothing is due, then
the dispatcher until nothing is due, so the notifications of what the worker did go out
before the process exits; :meth:`BackgroundWork.wait` returns then.

If the worker or the dispatcher fails, :meth:`BackgroundWork.wait` returns, the other
parts are stopped in the order above, and the failure is raised when the block exits.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from .audit_checkpoints import CheckpointLoop, checkpoint_keys
from .db.wakeups import WakeupListener
from .db.webhook_queue import WebhookQueue
from .oversight_sweep import OversightSweeper
from .relay import Relay
from .settings import Settings
from .smtp.config import SmtpConfig
from .webhooks.dispatcher import WebhookDispatcher
from .worker import Worker

__all__ = ["BackgroundWork", "background_work"]


class BackgroundWork:
    """The worker, the webhook dispatcher, the wake-up listener, the oversight sweep and
    the audit checkpoint loop of one process.

    An async context manager (see the module docstring for its start and stop order);
    :attr:`worker` and :attr:`dispatcher` exist from construction on, for readiness
    checks and tests.
    """

    def __init__(
        self, relay: Relay, settings: Settings, *, smtp: SmtpConfig, until_idle: bool = False
    ) -> None:
        self.until_idle = until_idle
        #: In-process hooks of the relay: a waiting request is told when its message is
        #: done, and auth mail submitted here holds bulk work back (no-ops without an API).
        self.worker = Worker(
            relay.outbox,
            smtp,
            settings,
            wake=relay.new_work,
            on_finished=relay.notify_finished,
            urgency=relay.urgency,
        )
        # Webhook deliveries go out from the process that runs the worker.
        self.dispatcher = WebhookDispatcher(
            WebhookQueue(relay.outbox.engine, keys=relay.outbox.keys),
            settings,
            worker_id=self.worker.worker_id,
            wake=relay.outbox.webhooks_due,
        )
        # Messages stored by other processes wake the worker too (PostgreSQL only).
        self.wakeups = WakeupListener(settings.database_url, relay.new_work)
        self.oversight = OversightSweeper(relay.outbox, settings.oversight_sweep_seconds)
        # Signed checkpoints of the audit trail's head (a missing key fails the start).
        self.checkpoints = CheckpointLoop(
            relay.outbox.engine,
            checkpoint_keys(settings, relay.outbox.keys),
            settings.audit_checkpoint_seconds,
        )
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._dispatcher_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BackgroundWork:
        worker_task = asyncio.create_task(
            self.worker.run(until_idle=self.until_idle), name="authmail-relay worker"
        )
        self._worker_task = worker_task
        self._dispatcher_task = asyncio.create_task(
            self._run_dispatcher(worker_task), name="authmail-relay webhooks"
        )
        self._checkpoint_task = asyncio.create_task(
            self.checkpoints.run(), name="authmail-relay audit checkpoints"
        )
        try:
            self.oversight.start()
            await self.wakeups.start()
        except BaseException:
            await self._shut_down()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failures = await self._shut_down()
        if failures and exc is None:
            raise failures[0]

    def stop(self) -> None:
        """Ask for a graceful stop: :meth:`wait` returns, and leaving the block stops the
        parts in the documented order. Safe to call more than once (a second signal)."""
        self._stopping.set()

    async def wait(self) -> None:
        """Return when :meth:`stop` is called or the worker or dispatcher ends (with
        ``until_idle``: when both are done; otherwise only a failure ends them)."""
        pending: set[asyncio.Future[Any]] = {
            task for task in (self._worker_task, self._dispatcher_task) if task is not None
        }
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
        try:
            while pending and not self._stopping.is_set():
                _, pending = await asyncio.wait(
                    {stopping, *pending}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stopping)
                if not self.until_idle:
                    break
        finally:
            stopping.cancel()

    async def _run_dispatcher(self, worker_task: asyncio.Task[None]) -> None:
        if self.until_idle:
            # After the worker, so it sends the events of everything the worker did.
            await asyncio.wait([worker_task])
            if worker_task.cancelled() or worker_task.exception() is not None:
                return
        await self.dispatcher.run(until_idle=self.until_idle)

    async def _shut_down(self) -> list[BaseException]:
        """Stop everything in the documented order; return the parts' failures."""
        failures: list[BaseException] = []
        try:
            await self.wakeups.close()  # 1. no more wake-ups from other processes
            await self.oversight.stop()  # 1. no more sweeps (their events still go out)
            self.worker.stop()  # 1. no more claims
            await _finish(self._worker_task, failures)  # 2. in-flight deliveries
        finally:
            try:
                self.dispatcher.stop()  # 3. the dispatcher, after the events of step 2
                await _finish(self._dispatcher_task, failures)
            finally:
                self.checkpoints.stop()  # 4. a last checkpoint of the audit trail
                await _finish(self._checkpoint_task, failures)
        return failures


def background_work(
    relay: Relay, settings: Settings, *, smtp: SmtpConfig, until_idle: bool = False
) -> BackgroundWork:
    """``async with background_work(relay, settings, smtp=smtp) as work:`` runs the worker,
    the webhook dispatcher and the wake-up listener for *relay* (which must be open)."""
    return BackgroundWork(relay, settings, smtp=smtp, until_idle=until_idle)


async def _finish(task: asyncio.Task[None] | None, failures: list[BaseException]) -> None:
    """Wait for *task* to end; record its failure, if it failed. (Cancelling the caller
    cancels the task too: nothing is left running.)"""
    if task is None:
        return
    try:
        await task
    except Exception as exc:  # raised by __aexit__ once everything has stopped
        failures.append(exc)
