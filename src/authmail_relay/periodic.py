"""A background sweep that runs at start and then every few seconds until stopped.

The retention sweep and the oversight sweep share this loop: one pass (:meth:`Sweep.pass_`)
at start and then every ``interval`` seconds; a pass that fails is logged (a database
failure as one line, a bug with its traceback) and tried again at the next interval, so
a sweep never takes its process down; :meth:`Sweep.stop` lets the pass in progress
finish (its transaction commits) and returns once the loop has ended. Standard library
only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .exceptions import StorageError

__all__ = ["Sweep"]


class Sweep:
    """Subclasses implement :meth:`pass_`; *name* names the task and the log lines."""

    def __init__(self, name: str, interval: float, log: logging.Logger) -> None:
        self.name = name
        self.interval = interval
        self._log = log
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def stopping(self) -> bool:
        """True once :meth:`stop` was called: a long pass checks it between batches."""
        return self._stop.is_set()

    async def pass_(self) -> str | None:
        """One pass; returns what to log (at INFO) when it did something, else None."""
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"authmail-relay {self.name}")

    async def stop(self) -> None:
        """Stop after the pass in progress (if any) has committed."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = await self.pass_()
            except StorageError as exc:
                self._log.error("%s failed: %s", self.name, exc)
            except Exception:
                # A bug must not take the process down; the next interval tries again.
                self._log.exception("%s failed unexpectedly", self.name)
            else:
                if done:
                    self._log.info("%s", done)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
