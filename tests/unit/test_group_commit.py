"""Group commit: concurrent records share flushes; nobody waits for a batch to fill."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

# The storage room (db/) needs the [http] extra, even for its pure parts.
pytest.importorskip("sqlalchemy", reason="the storage room needs the [http] extra")

from authmail_relay.db.group_commit import MAX_BATCH, GroupCommit


class Recorder:
    def __init__(self, *, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.gate = asyncio.Event()
        self.gate.set()

    async def flush(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.fail_on is not None and self.fail_on in items:
            raise OSError("disk full")
        return [item * 10 for item in items]


async def test_a_lone_record_is_written_at_once() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.flush)
    assert await asyncio.wait_for(commits.submit(1), 1) == 10
    assert recorder.batches == [[1]]


async def test_records_arriving_during_a_flush_share_the_next_one() -> None:
    recorder = Recorder()
    recorder.gate.clear()  # hold the first transaction open
    commits = GroupCommit(recorder.flush)
    first = asyncio.create_task(commits.submit(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.create_task(commits.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await asyncio.gather(first, *rest) == [0, 10, 20, 30, 40, 50]
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]


async def test_a_failed_flush_fails_each_of_its_records_only() -> None:
    recorder = Recorder(fail_on=3)
    recorder.gate.clear()
    commits = GroupCommit(recorder.flush)
    first = asyncio.create_task(commits.submit(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    batch = [asyncio.create_task(commits.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == 0
    results = await asyncio.gather(*batch, return_exceptions=True)
    assert all(isinstance(result, OSError) for result in results)
    assert await commits.submit(4) == 40  # the next batch is unaffected


async def test_batches_are_bounded() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commits = GroupCommit(recorder.flush)
    tasks = [asyncio.create_task(commits.submit(n)) for n in range(MAX_BATCH * 2 + 1)]
    await asyncio.sleep(0)
    recorder.gate.set()
    await asyncio.gather(*tasks)
    assert max(len(batch) for batch in recorder.batches) == MAX_BATCH
    assert sum(len(batch) for batch in recorder.batches) == MAX_BATCH * 2 + 1


async def test_cancelled_writer_releases_its_callers() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commits = GroupCommit(recorder.flush)
    waiting = asyncio.create_task(commits.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert commits._writer is not None
    commits._writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_batch_size_is_configurable() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commits = GroupCommit(recorder.flush, max_batch=2)
    tasks = [asyncio.create_task(commits.submit(n)) for n in range(5)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await asyncio.gather(*tasks) == [0, 10, 20, 30, 40]
    assert [len(batch) for batch in recorder.batches] == [2, 2, 1]
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(recorder.flush, max_batch=0)
