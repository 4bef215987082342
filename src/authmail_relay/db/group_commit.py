"""Group commit: write the results that arrive together in one transaction.

Each commit costs the same fixed price (taking the write lock, a durable flush to disk,
the round trips around the statements) however many rows it carries. When several sends
finish at about the same moment, :class:`GroupCommit` hands their records to one
``flush`` call instead of one transaction each. Nothing waits to fill a batch: the first
record is written at once, and whatever arrives while that transaction runs goes into
the next one, so a lone record is never delayed and a burst shares its commits.

If a flush fails, every record in it gets the same exception (the transaction rolled
back, so none of them was written) — exactly what each caller would have seen alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Most records written in one transaction by default (keeps each transaction short).
MAX_BATCH = 64


class GroupCommit(Generic[Item, Result]):
    """Batches concurrent :meth:`submit` calls into calls of ``flush``.

    ``flush(items)`` must return one result per item, in order, and either write all of
    them or raise.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write *item* (with whatever else is waiting) and return its result."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        while self._pending:
            size = self._max_batch
            batch, self._pending = self._pending[:size], self._pending[size:]
            try:
                results = await self._flush([item for item, _ in batch])
            except asyncio.CancelledError:
                # The loop is shutting down: nobody will write these; do not leave their
                # callers waiting forever.
                for _, future in batch + self._pending:
                    future.cancel()
                self._pending = []
                raise
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
