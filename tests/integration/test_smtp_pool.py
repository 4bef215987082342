"""The per-upstream connection pool against real aiosmtpd servers on loopback."""

from __future__ import annotations

import asyncio
import ssl

import pytest

pytest.importorskip("aiosmtplib", reason="the pool needs the [http] extra")

from authmail_relay.smtp.config import SmtpConfig
from authmail_relay.smtp.pool import SmtpPool
from authmail_relay.smtp.session import SmtpSession
from tests.support.smtpd import SmtpServer, SmtpServerFactory

SENDER = "noreply@sender.example"


def _message(n: int) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: user{n}@example.org\r\nSubject: pooled {n}\r\n"
        f"Message-ID: <pooled-{n}@sender.example>\r\n\r\nbody {n}\r\n"
    ).encode()


class Counting:
    """A session factory that remembers every session it made."""

    def __init__(self) -> None:
        self.sessions: list[SmtpSession] = []

    def __call__(self, config: SmtpConfig, context: ssl.SSLContext | None) -> SmtpSession:
        session = SmtpSession(config, context=context)
        self.sessions.append(session)
        return session

    @property
    def connections(self) -> int:
        return sum(session.connections_opened for session in self.sessions)


async def _send(pool: SmtpPool, n: int, *, high: bool = False) -> bool:
    async with pool.session(high=high) as session:
        outcome = await session.send(SENDER, [f"user{n}@example.org"], _message(n))
    assert outcome is not None
    return outcome.sent


async def test_connections_are_reused_and_limited(smtp_sink: SmtpServer) -> None:
    """30 messages over a pool of 3 open at most 3 connections, and reuse them."""
    smtp_sink.handler.delay_at("final_dot", 0.02)
    factory = Counting()
    pool = SmtpPool(smtp_sink.config(), size=3, reserved_for_high=0, session_factory=factory)
    peak = 0

    async def one(n: int) -> bool:
        nonlocal peak
        async with pool.session() as session:
            peak = max(peak, pool.in_use)
            outcome = await session.send(SENDER, [f"user{n}@example.org"], _message(n))
        return outcome is not None and outcome.sent

    try:
        results = await asyncio.gather(*(one(n) for n in range(30)))
    finally:
        await pool.close()
    assert all(results)
    assert peak == 3
    assert factory.connections == 3
    assert smtp_sink.handler.commands.count("EHLO") == 3
    assert smtp_sink.handler.commands.count("MAIL") == 30
    assert len(smtp_sink.messages) == 30


async def test_dropped_idle_connection_is_detected_and_replaced(
    smtp_server: SmtpServerFactory,
) -> None:
    """The server drops idle clients after 0.3 s; the RSET health check notices and the
    next message goes out once, on a new connection."""
    server = smtp_server(timeout=0.3)
    factory = Counting()
    pool = SmtpPool(server.config(), size=1, reserved_for_high=0, session_factory=factory)
    try:
        assert await _send(pool, 1)
        await asyncio.sleep(0.8)  # the server hangs up meanwhile
        assert await _send(pool, 2)
    finally:
        await pool.close()
    assert factory.connections == 2
    assert [m.parsed()["Subject"] for m in server.messages] == ["pooled 1", "pooled 2"]


async def test_old_connections_are_replaced(smtp_sink: SmtpServer) -> None:
    factory = Counting()
    pool = SmtpPool(
        smtp_sink.config(),
        size=1,
        reserved_for_high=0,
        max_age_seconds=0.2,
        session_factory=factory,
    )
    try:
        assert await _send(pool, 1)
        assert await _send(pool, 2)  # young: reused
        await asyncio.sleep(0.3)
        assert await _send(pool, 3)  # too old: replaced
    finally:
        await pool.close()
    assert factory.connections == 2
    assert smtp_sink.handler.commands.count("EHLO") == 2


async def test_a_failed_transaction_never_leaks_into_the_next_message(
    smtp_sink: SmtpServer,
) -> None:
    """Failures at every stage, interleaved with reuse: each accepted message arrives
    exactly once, each failed one not at all, and nothing else reaches DATA's end."""
    handler = smtp_sink.handler
    handler.reply_at("mail", "451 4.3.0 try later", times=2)
    handler.disconnect_at("rcpt", times=2)
    handler.reply_at("data", "452 4.3.1 no room", times=2)
    handler.reply_at("final_dot", "554 5.7.1 rejected", times=2)
    pool = SmtpPool(smtp_sink.config(), size=2, reserved_for_high=0)
    try:
        results = await asyncio.gather(*(_send(pool, n) for n in range(24)))
    finally:
        await pool.close()
    sent = sorted(n for n, ok in enumerate(results) if ok)
    assert len(sent) == 24 - 8
    subjects = sorted(int(m.parsed()["Subject"].split()[1]) for m in smtp_sink.messages)
    assert subjects == sent  # every accepted one exactly once, no refused one
    # Only the two final-dot rejections reached the end of DATA besides the accepted ones.
    assert len(handler.data_received) == len(sent) + 2


async def test_reserved_connection_is_kept_for_high_priority(smtp_sink: SmtpServer) -> None:
    """With the only general connection busy, other mail waits but an auth mail does not."""
    pool = SmtpPool(smtp_sink.config(), size=2, reserved_for_high=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with pool.session():
            await release.wait()

    holder = asyncio.create_task(hold())
    try:
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(_send(pool, 1))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # normal mail queues for the general connection
        assert await asyncio.wait_for(_send(pool, 2, high=True), 5)
        release.set()
        assert await asyncio.wait_for(waiting, 5)
    finally:
        release.set()
        await holder
        await pool.close()
    assert pool.reserved_for_high == 1
    assert SmtpPool(smtp_sink.config(), size=1, reserved_for_high=1).reserved_for_high == 0
