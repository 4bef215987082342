"""DKIM at send time: a real worker signs what it sends to a real SMTP sink.

The signatures are checked on the bytes the sink received, with dkimpy as the
independent verifier and the records as ``dkim generate`` prints them as DNS. The
stored message stays unsigned, so each attempt is signed with the keys of the moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")
pytest.importorskip("dkim", reason="DKIM needs the [http] extra")
from sqlalchemy import select

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.schema import messages
from authmail_relay.dkim.keys import DkimKey, generate
from authmail_relay.dkim.store import KeyStore
from authmail_relay.exceptions import ConfigurationError
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import MessageStatus
from authmail_relay.worker import Worker
from tests.support.dkim_records import verify_all
from tests.support.smtpd import SmtpServer

DOMAIN = "sender.example"  # the domain of tests.support.smtpd.DEFAULT_FROM


@pytest.fixture
async def relay(sqlite_url: str, smtp_sink: SmtpServer, tmp_path: Path) -> AsyncIterator[Relay]:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    await engine.dispose()
    settings = Settings(
        database_url=sqlite_url,
        smtp=smtp_sink.config(),
        poll_interval_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.1,
        dkim_keys_dir=str(tmp_path / "keys"),
    )
    async with Relay(settings) as running:
        yield running


def _keys(relay: Relay, *algorithms: str) -> list[DkimKey]:
    keys = [generate(DOMAIN, f"t-{a}", a) for a in algorithms]  # type: ignore[arg-type]
    KeyStore(relay.settings.dkim_keys_dir).save(keys)
    return keys


async def _send(relay: Relay, sink: SmtpServer) -> tuple[str, bytes]:
    accepted = await relay.submit(
        MessageRequest(to="ada@example.org", subject="Your code", html="<p>123456</p>")
    )
    worker = Worker(relay.outbox, relay.settings.require_smtp(), relay.settings)
    await worker.run(until_idle=True)
    assert (await relay.outbox.get_message(accepted.id)).status is MessageStatus.SENT
    return accepted.id, sink.messages[-1].raw


async def _stored_raw(relay: Relay, message_id: str) -> bytes:
    async with relay.outbox.engine.connect() as connection:
        row = (
            await connection.execute(select(messages.c.raw).where(messages.c.id == message_id))
        ).one()
    return bytes(row.raw)


@pytest.mark.parametrize("algorithms", [("rsa",), ("ed25519",), ("rsa", "ed25519")])
async def test_what_the_sink_received_verifies(
    relay: Relay, smtp_sink: SmtpServer, algorithms: tuple[str, ...]
) -> None:
    keys = _keys(relay, *algorithms)
    message_id, received = await _send(relay, smtp_sink)
    lines = [key.zone_line() for key in keys]
    assert verify_all(received, lines) == [True] * len(algorithms)
    stored = await _stored_raw(relay, message_id)
    assert b"DKIM-Signature" not in stored
    # Exactly the stored bytes, with the signatures put in front: nothing else changed.
    assert received.endswith(stored)
    assert received[: -len(stored)].count(b"DKIM-Signature:") == len(algorithms)


async def test_tampering_with_the_received_bytes_fails(relay: Relay, smtp_sink: SmtpServer) -> None:
    keys = _keys(relay, "rsa", "ed25519")
    _, received = await _send(relay, smtp_sink)
    lines = [key.zone_line() for key in keys]
    tampered = received.replace(b"123456", b"654321")
    assert tampered != received
    assert verify_all(tampered, lines) == [False, False]
    assert verify_all(received.replace(b"Your code", b"Your c0de"), lines) == [False, False]


async def test_no_keys_no_signature(relay: Relay, smtp_sink: SmtpServer) -> None:
    message_id, received = await _send(relay, smtp_sink)
    assert received == await _stored_raw(relay, message_id)


async def test_a_retry_is_signed_with_the_keys_of_the_moment(
    relay: Relay, smtp_sink: SmtpServer, tmp_path: Path
) -> None:
    """Rotation: the stored bytes stay unsigned, so the next worker signs with its keys."""
    old = _keys(relay, "rsa")
    smtp_sink.handler.reply_at("final_dot", "451 4.3.0 try again", times=1)
    accepted = await relay.submit(
        MessageRequest(to="ada@example.org", subject="Your code", html="<p>123456</p>")
    )
    # The retry comes due 1.5-3 s later: long enough that a busy machine cannot reach it
    # within the first run.
    slow_retry = replace(relay.settings, retry_base_seconds=3.0, retry_max_seconds=3.0)
    await Worker(relay.outbox, relay.settings.require_smtp(), slow_retry).run(until_idle=True)
    assert (await relay.outbox.get_message(accepted.id)).status is MessageStatus.DEFERRED
    [first] = smtp_sink.handler.data_received
    assert verify_all(first, [old[0].zone_line()]) == [True]

    rotated = replace(slow_retry, dkim_keys_dir=str(tmp_path / "rotated"))
    [new] = [generate(DOMAIN, "t-new", "rsa")]
    KeyStore(rotated.dkim_keys_dir).save([new])
    worker = Worker(relay.outbox, relay.settings.require_smtp(), rotated)
    for _ in range(200):
        await worker.run(until_idle=True)
        if (await relay.outbox.get_message(accepted.id)).status is MessageStatus.SENT:
            break
        await asyncio.sleep(0.05)
    received = smtp_sink.messages[-1].raw
    assert b"s=t-new" in received
    assert b"s=t-rsa" not in received
    assert verify_all(received, [new.zone_line()]) == [True]
    assert b"DKIM-Signature" not in await _stored_raw(relay, accepted.id)


def test_a_bad_key_file_stops_the_worker_at_start(relay: Relay) -> None:
    folder = Path(relay.settings.dkim_keys_dir) / DOMAIN
    folder.mkdir(parents=True)
    (folder / "broken.rsa.key").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nnope\n")
    with pytest.raises(ConfigurationError, match="broken"):
        Worker(relay.outbox, relay.settings.require_smtp(), relay.settings)
