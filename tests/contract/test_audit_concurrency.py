"""Concurrent writers keep one gapless chain: every audited event gets exactly one entry,
in one order every process agrees on.

On PostgreSQL: several engines (separate connection pools, as separate relay processes
have) and separate OS processes enqueue at the same time; the audit lock serialises their
appends. On SQLite: concurrent tasks on several engines over one file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.audit_reads import iter_entries
from authmail_relay.db.audit_verify import verify_trail
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import audit, events
from tests.support.db import new_message

ENGINES = 3
TASKS_PER_ENGINE = 4
MESSAGES_PER_TASK = 10
PROCESSES = 2
MESSAGES_PER_PROCESS = 20

# A separate process: its own interpreter, engine and pool, enqueueing as fast as it can
# once the go file exists.
_PROCESS_WRITER = """
import asyncio, os, sys, time
from authmail_relay.db import create_engine
from authmail_relay.db.outbox import Outbox
from tests.support.db import new_message

async def main(url, go, count):
    engine = create_engine(url, busy_timeout_ms=30_000)
    outbox = Outbox(engine)
    await outbox.db_now_ms()
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    for _ in range(count):
        await outbox.enqueue(new_message())
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def _write(outbox: Outbox, start: asyncio.Event, count: int) -> None:
    await start.wait()
    for _ in range(count):
        await outbox.enqueue(new_message())


async def _assert_one_gapless_chain(url: str, expected_entries: int) -> None:
    engine = create_engine(url)
    try:
        found = await verify_trail(engine, {})
        assert found.ok, found
        seqs = [entry.seq async for entry in iter_entries(engine, page=37)]
        assert seqs == list(range(1, expected_entries + 1))
        async with engine.connect() as connection:
            queued = await connection.scalar(select(func.count()).select_from(events))
            entries = await connection.scalar(select(func.count()).select_from(audit))
        # One message.accepted entry per queued event, nothing else.
        assert entries == queued == expected_entries
    finally:
        await engine.dispose()


async def _engines_writing(url: str) -> int:
    """Run the in-process writers, all starting at one moment; how many they wrote."""
    engines = [create_engine(url, busy_timeout_ms=30_000) for _ in range(ENGINES)]
    start = asyncio.Event()
    try:
        outboxes = [Outbox(engine) for engine in engines]
        for outbox in outboxes:
            await outbox.db_now_ms()  # connected before the race
        tasks = [
            asyncio.create_task(_write(outbox, start, MESSAGES_PER_TASK))
            for outbox in outboxes
            for _ in range(TASKS_PER_ENGINE)
        ]
        start.set()
        await asyncio.gather(*tasks)
    finally:
        for engine in engines:
            await engine.dispose()
    return ENGINES * TASKS_PER_ENGINE * MESSAGES_PER_TASK


@pytest.mark.postgres
async def test_engines_and_processes_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    setup = create_engine(postgres_url)
    await upgrade(setup)
    await setup.dispose()
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[2]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PROCESS_WRITER,
            postgres_url,
            str(go),
            str(MESSAGES_PER_PROCESS),
            stdout=asyncio.subprocess.PIPE,
            cwd=root,
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"ready"
    go.touch()
    written = await _engines_writing(postgres_url)
    for process in processes:
        await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0
    await _assert_one_gapless_chain(postgres_url, written + PROCESSES * MESSAGES_PER_PROCESS)


async def test_concurrent_tasks_on_sqlite(sqlite_url: str) -> None:
    setup = create_engine(sqlite_url)
    await upgrade(setup)
    await setup.dispose()
    written = await _engines_writing(sqlite_url)
    await _assert_one_gapless_chain(sqlite_url, written)
