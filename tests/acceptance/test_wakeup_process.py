"""Across processes on PostgreSQL: a `worker` process that polls only once a minute still
delivers a message stored by another process at once, woken by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
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

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

POLL_SECONDS = 60
#: "Well under the poll interval": what a woken worker needs, with room for a busy host.
PROMPT_SECONDS = 10


def _worker_env(db_url: str, sink: SmtpServer) -> dict[str, str]:
    return service_env(
        db_url,
        sink,
        POLL_INTERVAL_SECONDS=str(POLL_SECONDS),
        LOG_LEVEL="INFO",
        SHUTDOWN_GRACE_SECONDS="5",
    )


async def _wait_for_log(
    log: Path, needle: str, timeout: float, worker: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while needle not in log.read_text(errors="replace"):
        assert worker.poll() is None, f"the worker exited:\n{log.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"no {needle!r} in the log:\n{log.read_text()}"
        await asyncio.sleep(0.05)


async def _sent_within(relay: Relay, message_id: str, timeout: float) -> float:
    started = time.monotonic()
    while (await relay.outbox.get_message(message_id)).status is not MessageStatus.SENT:
        elapsed = time.monotonic() - started
        assert elapsed < timeout, (
            f"not sent after {elapsed:.1f}s (the poll interval is {POLL_SECONDS}s)"
        )
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_worker_process_is_woken_by_a_message_stored_elsewhere(
    postgres_url: str, smtp_sink: SmtpServer, tmp_path: Path
) -> None:
    await migrate(postgres_url)
    log = tmp_path / "worker.log"
    with log.open("ab") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "worker"],
            env=_worker_env(postgres_url, smtp_sink),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        await _wait_for_log(log, "listening for wake-ups", 30, worker)
        # Let the worker finish the look it takes on connecting; from here on only a
        # notification (or the poll, a minute away) can make it claim again.
        await asyncio.sleep(1.0)
        settings = Settings(
            database_url=postgres_url,
            secrets_key=secrets_key_for(postgres_url),
            smtp=smtp_sink.config(tls="none"),
        )
        async with Relay(settings) as relay:
            for n in range(2):
                accepted = await relay.submit(
                    MessageRequest(to=f"user{n}@example.org", subject=f"n{n}", html="<p>x</p>")
                )
                await _sent_within(relay, accepted.id, PROMPT_SECONDS)
        assert len(smtp_sink.messages) == 2
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(15) == 0, log.read_text(errors="replace")
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(5)
