"""Concurrent claimers never get the same message.

Each claimer has its own engine (its own connections), as separate relay processes would;
one SQLite test also runs the claimers in separate OS processes on the same file.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
from pathlib import Path

import pytest

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import AttemptRecord, Outbox
from authmail_relay.vocabulary import EventType, MessageStatus
from tests.support.db import new_message

MESSAGES = 200
CLAIMERS = 8


async def _fill(outbox: Outbox, count: int) -> set[str]:
    return {(await outbox.enqueue(new_message())).id for _ in range(count)}


async def _drain(
    url: str,
    worker_id: str,
    ready: asyncio.Event,
    start: asyncio.Event,
    *,
    lease_ms: int = 60_000,
    finish: bool,
) -> list[str]:
    """Claim in small batches until nothing is due; optionally record each as sent."""
    engine = create_engine(url, busy_timeout_ms=30_000)
    outbox = Outbox(engine)
    claimed: list[str] = []
    try:
        await outbox.db_now_ms()  # connect before the race starts
        ready.set()
        await start.wait()
        while claims := await outbox.claim(worker_id=worker_id, limit=3, lease_ms=lease_ms):
            for claim in claims:
                claimed.append(claim.id)
                if finish:
                    now = await outbox.db_now_ms()
                    attempt = AttemptRecord(started_at=now, finished_at=now, upstream="mx:25")
                    assert await outbox.mark_sent(claim, attempt)
            # A real worker spends a while sending; without that pause, SQLite's busy handler
            # (which sleeps between retries) can let one claimer take every batch.
            await asyncio.sleep(0.005)
    finally:
        await engine.dispose()
    return claimed


async def _race(url: str, names: list[str], *, finish: bool) -> list[list[str]]:
    """Run one claimer per name at the same moment; return what each one claimed."""
    start = asyncio.Event()
    ready = [asyncio.Event() for _ in names]
    tasks = [
        asyncio.ensure_future(_drain(url, name, flag, start, finish=finish))
        for name, flag in zip(names, ready, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(flag.wait() for flag in ready)), timeout=60)
    start.set()
    return list(await asyncio.gather(*tasks))


async def _assert_claimed_once(outbox: Outbox, ids: set[str], claimed: list[str]) -> None:
    duplicates = [i for i, n in collections.Counter(claimed).items() if n > 1]
    assert duplicates == []
    assert set(claimed) == ids
    for message_id in ids:
        sending = [e for e in await outbox.list_events(message_id) if e.type is EventType.SENDING]
        assert len(sending) == 1


@pytest.mark.parametrize("finish", [False, True], ids=["claim-only", "claim-and-send"])
async def test_concurrent_claimers_claim_each_message_exactly_once(
    outbox: Outbox, db_url: str, finish: bool
) -> None:
    ids = await _fill(outbox, MESSAGES)

    results = await _race(db_url, [f"worker-{n}" for n in range(CLAIMERS)], finish=finish)

    claimed = [message_id for result in results for message_id in result]
    await _assert_claimed_once(outbox, ids, claimed)
    assert sum(1 for result in results if result) > 1  # the work was actually shared
    counts = await outbox.count_by_status()
    expected = MessageStatus.SENT if finish else MessageStatus.SENDING
    assert counts[expected] == MESSAGES


async def test_concurrent_reclaimers_take_over_each_expired_lease_once(
    outbox: Outbox, db_url: str
) -> None:
    ids = await _fill(outbox, 60)
    stale = await outbox.claim(worker_id="died", limit=60, lease_ms=100)
    assert len(stale) == 60
    while await outbox.db_now_ms() <= max(c.lease_expires_at for c in stale):
        await asyncio.sleep(0.05)

    results = await _race(db_url, [f"r{n}" for n in range(4)], finish=False)

    claimed = [message_id for result in results for message_id in result]
    assert sorted(claimed) == sorted(ids)
    for message_id in ids:
        events = await outbox.list_events(message_id)
        takeovers = [e for e in events if e.type is EventType.SENDING and e.data["reclaimed"]]
        assert len(takeovers) == 1


_PROCESS_CLAIMER = """
import asyncio, json, os, sys

from authmail_relay.db import create_engine
from authmail_relay.db.outbox import AttemptRecord, Outbox


async def drain(url, worker_id, go_file):
    engine = create_engine(url, busy_timeout_ms=30_000)
    outbox = Outbox(engine)
    await outbox.db_now_ms()
    print("ready", flush=True)
    while not os.path.exists(go_file):
        await asyncio.sleep(0.005)
    claimed = []
    while claims := await outbox.claim(worker_id=worker_id, limit=3, lease_ms=60_000):
        for claim in claims:
            claimed.append(claim.id)
            now = await outbox.db_now_ms()
            attempt = AttemptRecord(started_at=now, finished_at=now, upstream="mx:25")
            assert await outbox.mark_sent(claim, attempt)
        await asyncio.sleep(0.005)
    await engine.dispose()
    return claimed


async def main(url, name, go_file):
    results = await asyncio.gather(
        drain(url, name + "-a", go_file), drain(url, name + "-b", go_file)
    )
    print(json.dumps([i for r in results for i in r]), flush=True)


asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
async def test_separate_processes_share_one_sqlite_file(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        outbox = Outbox(engine)
        ids = await _fill(outbox, MESSAGES)
        go_file = tmp_path / "go"
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _PROCESS_CLAIMER,
                sqlite_url,
                f"process-{n}",
                str(go_file),
                stdout=asyncio.subprocess.PIPE,
            )
            for n in range(2)
        ]
        for process in processes:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            assert ready.strip() == b"ready"
        go_file.touch()  # both start claiming at the same moment
        outputs = [await asyncio.wait_for(p.communicate(), timeout=120) for p in processes]
        assert [p.returncode for p in processes] == [0, 0]

        per_process = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
        assert all(per_process), "each process should have claimed something"
        claimed = [message_id for result in per_process for message_id in result]
        await _assert_claimed_once(outbox, ids, claimed)
        assert (await outbox.count_by_status())[MessageStatus.SENT] == MESSAGES
        for message_id in ids:
            [attempt] = await outbox.list_attempts(message_id)
            assert not attempt.superseded
    finally:
        await engine.dispose()
