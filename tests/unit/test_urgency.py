"""Urgent work tracking: bulk mail steps aside while an auth mail is in progress."""

from __future__ import annotations

import asyncio

from authmail_relay.urgency import Urgency


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_active_from_begin_to_end_and_listeners_hear_the_calm() -> None:
    urgency = Urgency()
    calmed: list[str] = []
    urgency.on_calm(lambda: calmed.append("calm"))
    assert not urgency.active
    urgency.begin("request")
    urgency.rename("request", "msg_1")
    assert urgency.active
    urgency.end("request")  # the old name is gone: nothing ends
    assert urgency.active
    urgency.end("msg_1")
    assert not urgency.active
    assert calmed == ["calm"]
    urgency.end("msg_1")  # ending twice is harmless
    assert calmed == ["calm"]


async def test_forgotten_entries_expire() -> None:
    clock = Clock()
    urgency = Urgency(hold_seconds=2.0, clock=clock)
    urgency.begin("deferred message")
    clock.now += 1.9
    assert urgency.active
    clock.now += 0.2
    assert not urgency.active  # never finished here: stops holding bulk mail back


async def test_calm_waits_for_the_end_or_the_bound() -> None:
    urgency = Urgency()
    await asyncio.wait_for(urgency.calm(at_most=5), 1)  # nothing urgent: at once
    urgency.begin("otp")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await urgency.calm(at_most=0.05)  # still urgent: gives up after the bound
    assert loop.time() - started >= 0.04
    waiting = asyncio.create_task(urgency.calm(at_most=5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    urgency.end("otp")
    await asyncio.wait_for(waiting, 1)
