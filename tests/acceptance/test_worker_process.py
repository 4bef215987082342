"""The worker as a real process: SIGKILL mid-batch loses nothing; SIGTERM drains gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import MessageStatus
from tests.support.db import migrate, secrets_key_for
from tests.support.processes import service_env
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow
CONCURRENCY = 4


def _worker_env(db_url: str, sink: SmtpServer) -> dict[str, str]:
    return service_env(
        db_url,
        sink,
        # Far above the sink's injected reply delays (at most 1 s here): a reply merely
        # slowed by a loaded machine must not time out, or the retry of that ambiguous
        # send is a second copy of a message that was never in flight at a crash.
        SMTP_TIMEOUT="5",
        # Raised to six SMTP timeouts (30 s) by the relay: a killed worker's messages are
        # taken over at once by its successor on this machine, not after the lease.
        LEASE_SECONDS="1",
        WORKER_CONCURRENCY=str(CONCURRENCY),
        POLL_INTERVAL_SECONDS="0.1",
        RETRY_BASE_SECONDS="0.1",
        SHUTDOWN_GRACE_SECONDS="5",
    )


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``authmail-relay worker``; its log goes to ``log`` (read it when a test fails)."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "worker"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
async def relay(db_url: str, smtp_sink: SmtpServer) -> AsyncIterator[Relay]:
    await migrate(db_url)
    settings = Settings(
        database_url=db_url, secrets_key=secrets_key_for(db_url), smtp=smtp_sink.config(tls="none")
    )
    async with Relay(settings) as relay:
        yield relay


async def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _statuses(relay: Relay) -> dict[str, MessageStatus]:
    return {r.id: r.status for r in await relay.list_messages(limit=200)}


async def test_sigkill_mid_batch_loses_nothing(
    relay: Relay, smtp_sink: SmtpServer, db_url: str, tmp_path: Path
) -> None:
    """Every accepted message is delivered after a crash; only in-flight ones may repeat."""
    smtp_sink.handler.delay_at("final_dot", 0.15)  # each message is stored, then acknowledged late
    ids = [
        (
            await relay.submit(
                MessageRequest(to=f"user{n}@example.org", subject=f"n{n}", html="<p>x</p>")
            )
        ).id
        for n in range(40)
    ]
    env = _worker_env(db_url, smtp_sink)
    first = _start_worker(env, tmp_path / "worker.log")
    try:
        await _wait_for(
            lambda: _async(len(smtp_sink.handler.data_received) >= 10), 30, "ten deliveries"
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    at_kill = await _statuses(relay)
    in_flight = {mid for mid, status in at_kill.items() if status is MessageStatus.SENDING}
    assert 0 < len(in_flight) <= CONCURRENCY
    assert any(status is MessageStatus.QUEUED for status in at_kill.values()), (
        "killed too late to mean anything"
    )

    second = _start_worker(env, tmp_path / "worker.log")
    try:
        await _wait_for(
            lambda: _all_sent(relay, len(ids)), 60, "every message to be sent after the restart"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0

    by_message_id: dict[str, list[bytes]] = {}
    for raw in smtp_sink.handler.data_received:
        header = next(
            line for line in raw.split(b"\r\n") if line.lower().startswith(b"message-id:")
        )
        by_message_id.setdefault(header.split(b":", 1)[1].strip().decode(), []).append(raw)
    records = {r.id: r for r in await relay.list_messages(limit=200)}
    assert {records[i].message_id for i in ids} == set(by_message_id), "lost or unexpected messages"
    duplicated = {mid for mid in ids if len(by_message_id[records[mid].message_id]) > 1}
    assert duplicated <= in_flight, "a message not in flight at the crash was sent twice"
    for mid in duplicated:
        copies = by_message_id[records[mid].message_id]
        assert len(set(copies)) == 1, "a resend differed from the first copy"
    assert max(Counter(len(c) for c in by_message_id.values())) <= 2


async def test_sigterm_finishes_in_flight_sends(
    relay: Relay, smtp_sink: SmtpServer, db_url: str, tmp_path: Path
) -> None:
    """SIGTERM: stop claiming, let the in-flight send finish, exit 0, leave the rest queued."""
    smtp_sink.handler.delay_at("final_dot", 0.5)
    ids = [
        (
            await relay.submit(MessageRequest(to="u@example.org", subject=f"n{n}", html="<p>x</p>"))
        ).id
        for n in range(10)
    ]
    env = _worker_env(db_url, smtp_sink) | {"WORKER_CONCURRENCY": "2"}
    worker = _start_worker(env, tmp_path / "worker.log")
    await _wait_for(
        lambda: _has_status(relay, MessageStatus.SENDING), 20, "the worker to start sending"
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    statuses = await _statuses(relay)
    counts = Counter(statuses[i] for i in ids)
    assert counts[MessageStatus.SENDING] == 0
    # What was in flight when the signal landed finished; nothing new was claimed after.
    assert 1 <= counts[MessageStatus.SENT] <= 4
    assert counts[MessageStatus.QUEUED] == 10 - counts[MessageStatus.SENT]
    assert len(smtp_sink.messages) == counts[MessageStatus.SENT]


async def test_a_restarted_worker_takes_over_at_once_from_its_killed_predecessor(
    relay: Relay, smtp_sink: SmtpServer, db_url: str, tmp_path: Path
) -> None:
    """SIGKILL with messages in flight under a 60 s lease: the next worker on this
    machine proves the first one gone and sends them at once, not after the lease."""
    smtp_sink.handler.delay_at("final_dot", 1.0)
    ids = [
        (
            await relay.submit(MessageRequest(to="u@example.org", subject=f"n{n}", html="<p>x</p>"))
        ).id
        for n in range(6)
    ]
    env = _worker_env(db_url, smtp_sink) | {"LEASE_SECONDS": "60"}
    first = _start_worker(env, tmp_path / "worker.log")
    try:
        await _wait_for(
            lambda: _async(len(smtp_sink.handler.data_received) >= 1), 20, "a message in flight"
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    in_flight = {mid for mid, s in (await _statuses(relay)).items() if s is MessageStatus.SENDING}
    assert in_flight
    killed_at = time.monotonic()
    second = _start_worker(env, tmp_path / "worker.log")
    try:
        await _wait_for(lambda: _all_sent(relay, len(ids)), 20, "every message to be sent")
        took = time.monotonic() - killed_at
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    assert took < 15, f"took {took:.1f} s: the predecessor's lease was waited out"
    for message_id in in_flight:
        shown = await relay.get_message(message_id)
        assert shown.message.status is MessageStatus.SENT
        assert [e.data.get("reclaimed") for e in shown.events if e.type.value == "message.sending"][
            -1
        ] is True


async def _async(value: bool) -> bool:
    return value


async def _all_sent(relay: Relay, expected: int) -> bool:
    statuses = await _statuses(relay)
    return sum(1 for s in statuses.values() if s is MessageStatus.SENT) == expected


async def _has_status(relay: Relay, status: MessageStatus) -> bool:
    return status in (await _statuses(relay)).values()
