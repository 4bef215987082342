"""The in-process SQLite write queue: one writer at a time, urgent writers first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.db import create_engine
from authmail_relay.db.write_gate import urgent_writes, write_gate


async def test_urgent_writers_go_before_waiting_ordinary_ones(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    order: list[str] = []
    release = asyncio.Event()

    async def writer(name: str, urgent: bool = False, hold: asyncio.Event | None = None) -> None:
        with urgent_writes(urgent):
            async with write_gate(engine):
                order.append(name)
                if hold is not None:
                    await hold.wait()

    first = asyncio.create_task(writer("running", hold=release))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(writer(f"bulk {n}")) for n in range(3)]
    await asyncio.sleep(0)
    otp = asyncio.create_task(writer("otp", urgent=True))
    await asyncio.sleep(0)
    assert order == ["running"]  # one writer at a time
    release.set()
    await asyncio.gather(first, otp, *waiting)
    assert order == ["running", "otp", "bulk 0", "bulk 1", "bulk 2"]
    await engine.dispose()


async def test_a_cancelled_waiter_does_not_block_the_gate(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    release = asyncio.Event()

    async def hold() -> None:
        async with write_gate(engine):
            await release.wait()

    async def write() -> str:
        async with write_gate(engine):
            return "written"

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    doomed = asyncio.create_task(write())
    await asyncio.sleep(0)
    doomed.cancel()
    later = asyncio.create_task(write())
    await asyncio.sleep(0)
    release.set()
    await holder
    assert await asyncio.wait_for(later, 1) == "written"
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await engine.dispose()


async def test_postgres_needs_no_gate() -> None:
    engine = create_engine("postgresql://user@127.0.0.1:1/db")
    async with write_gate(engine), write_gate(engine):  # not a lock there: no deadlock
        pass
    await engine.dispose()
