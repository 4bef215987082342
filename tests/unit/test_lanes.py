"""Slot sharing between the priority lanes (counts only; the worker tests run it for real)."""

from __future__ import annotations

import asyncio

import pytest

from authmail_relay.lanes import LaneSlots
from authmail_relay.vocabulary import Priority


async def _hold(slots: LaneSlots, priority: Priority, release: asyncio.Event) -> None:
    slots.track(asyncio.create_task(release.wait()), priority)  # type: ignore[arg-type]


async def test_reserved_slots_and_low_share() -> None:
    slots = LaneSlots(6, reserved=1, low_share=0.2)
    assert slots.low_quota == 1
    release = asyncio.Event()
    for _ in range(5):
        await _hold(slots, Priority.NORMAL, release)
    # Other mail has taken every slot it may: only the reserved one is left, for high.
    assert slots.free() == 1
    assert slots.general_free() == 0
    assert slots.low_room(slots.general_free()) == 0
    release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert slots.busy() == 0
    assert slots.general_free() == 5
    # Low priority is offered its share first; the rest is open to both.
    assert slots.low_room(5) == 1


async def test_low_share_counts_low_mail_in_flight() -> None:
    slots = LaneSlots(11, reserved=1, low_share=0.3)
    assert slots.low_quota == 3
    hold = asyncio.Event()
    await _hold(slots, Priority.LOW, hold)
    assert slots.low_room(10) == 2
    assert slots.low_room(1) == 1
    hold.set()


def test_no_share_and_tiny_workers() -> None:
    assert LaneSlots(4, low_share=0).low_quota == 0
    single = LaneSlots(1, reserved=1)
    assert single.reserved == 0  # one slot: other mail must be able to use it
    assert single.general_free() == 1
    with pytest.raises(ValueError, match="at least 1"):
        LaneSlots(0)


async def test_high_claims_reduce_general_room() -> None:
    slots = LaneSlots(4, reserved=1)
    assert slots.general_free(high_claimed=0) == 3
    assert slots.general_free(high_claimed=2) == 2
    assert slots.general_free(high_claimed=4) == 0
