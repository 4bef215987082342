"""The status wait: wake-ups, polls, the deadline, several waiters on one message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

import pytest

from authmail_relay.status_waits import StatusWaits
from authmail_relay.vocabulary import MessageStatus

pytestmark = pytest.mark.library


@dataclass
class Stored:
    """A message's status as a fake store holds it; counts the reads."""

    status: MessageStatus = MessageStatus.QUEUED
    reads: int = 0

    async def read(self) -> Stored:
        self.reads += 1
        return Stored(self.status, self.reads)


def _sent(status: MessageStatus) -> bool:
    return status is MessageStatus.SENT


async def _timed(waiting: Awaitable[Stored]) -> tuple[Stored, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await waiting
    return result, loop.time() - started


async def test_read_first_answers_at_once_when_the_status_already_ends_the_wait() -> None:
    store = Stored(MessageStatus.SENT)
    waits = StatusWaits(poll_seconds=60)
    record, elapsed = await _timed(waits.wait("m", store.read, 30, until=_sent, read_first=True))
    assert record.status is MessageStatus.SENT
    assert store.reads == 1
    assert elapsed < 1


async def test_without_read_first_the_first_read_waits_for_the_first_poll() -> None:
    """A message just stored has nothing new to show: no read before the first poll."""
    store = Stored(MessageStatus.SENT)
    waits = StatusWaits(poll_seconds=0.3)
    _, elapsed = await _timed(waits.wait("m", store.read, 5, until=_sent, read_first=False))
    assert 0.3 <= elapsed < 2
    assert store.reads == 1


async def test_a_finished_message_is_read_at_once_even_without_read_first() -> None:
    store = Stored(MessageStatus.SENT)
    waits = StatusWaits(poll_seconds=60)
    waits.finished("m")
    _, elapsed = await _timed(waits.wait("m", store.read, 30, until=_sent, read_first=False))
    assert elapsed < 1


async def test_the_deadline_returns_the_message_as_it_is() -> None:
    store = Stored(MessageStatus.QUEUED)
    waits = StatusWaits(poll_seconds=0.1)
    record, elapsed = await _timed(waits.wait("m", store.read, 0.5, until=_sent, read_first=True))
    assert record.status is MessageStatus.QUEUED
    assert 0.5 <= elapsed < 1.5
    assert 3 <= store.reads <= 10  # polled along the way, not in a busy loop


async def test_a_wake_up_ends_every_wait_on_the_message_and_only_those() -> None:
    store, other = Stored(), Stored()
    waits = StatusWaits(poll_seconds=60)
    on_m = [
        asyncio.create_task(waits.wait("m", store.read, 30, until=_sent, read_first=True))
        for _ in range(3)
    ]
    on_n = asyncio.create_task(waits.wait("n", other.read, 30, until=_sent, read_first=True))
    await asyncio.sleep(0.1)
    store.status = MessageStatus.SENT
    waits.finished("m")
    records = await asyncio.wait_for(asyncio.gather(*on_m), 5)
    assert all(record.status is MessageStatus.SENT for record in records)
    assert not on_n.done()
    on_n.cancel()
    with pytest.raises(asyncio.CancelledError):
        await on_n
    assert waits._waiters == {}


async def test_a_wake_up_during_a_read_is_not_lost() -> None:
    """The status changes while the waiter is reading the old one: the wake-up that
    follows still makes it read again, long before the next poll."""
    waits = StatusWaits(poll_seconds=60)
    status = MessageStatus.QUEUED

    async def read() -> Stored:
        nonlocal status
        seen = Stored(status)
        if status is MessageStatus.QUEUED:
            status = MessageStatus.SENT
            waits.finished("m")  # arrives mid-read
        return seen

    record, elapsed = await _timed(waits.wait("m", read, 30, until=_sent, read_first=True))
    assert record.status is MessageStatus.SENT
    assert elapsed < 1


async def test_read_errors_are_raised_and_the_waiter_is_forgotten() -> None:
    waits = StatusWaits()

    async def missing() -> Stored:
        raise LookupError("no such message")

    with pytest.raises(LookupError):
        await waits.wait("m", missing, 30, until=_sent, read_first=True)
    assert waits._waiters == {}
