"""Several upstreams: failover, circuit breakers and alerts, through real SMTP servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.smtp.config import SmtpConfig
from authmail_relay.smtp.upstreams import UpstreamAlert
from authmail_relay.vocabulary import BreakerState, ErrorCode, Kind, MessageStatus
from authmail_relay.worker import Worker
from tests.support.db import migrate
from tests.support.smtpd import DEFAULT_FROM, HOST, SmtpServer, SmtpServerFactory, free_port


@dataclass
class Pair:
    relay: Relay
    settings: Settings
    first: SmtpConfig
    second: SmtpServer
    alerts: list[UpstreamAlert]

    def worker(self) -> Worker:
        return Worker(
            self.relay.outbox,
            self.first,
            self.settings,
            wake=self.relay.new_work,
            on_alert=self.alerts.append,
        )

    def has_status(self, message_id: str, status: MessageStatus) -> Callable[[], Awaitable[bool]]:
        """A check for :func:`_run_until`: the message has reached *status*."""

        async def check() -> bool:
            return (await self.relay.outbox.get_message(message_id)).status is status

        return check

    async def submit(self, n: int = 0, **fields: object) -> str:
        values: dict[str, object] = {
            "to": f"user{n}@example.org",
            "subject": f"Hello {n}",
            "html": "<p>Hi</p>",
        }
        values.update(fields)
        accepted = await self.relay.submit(MessageRequest(**values))  # type: ignore[arg-type]
        return accepted.id


MakePair = Callable[..., Awaitable[Pair]]


@pytest.fixture
async def make_pair(tmp_path: object, smtp_server: SmtpServerFactory) -> AsyncIterator[MakePair]:
    relays: list[Relay] = []

    async def make(first: SmtpConfig, **changes: object) -> Pair:
        url = f"sqlite:///{tmp_path}/failover-{len(relays)}.db"
        await migrate(url)
        second = smtp_server()
        settings = Settings(
            database_url=url,
            smtp=first,
            smtp_fallbacks=(second.config(),),
            worker_concurrency=3,
            poll_interval_seconds=0.05,
            retry_base_seconds=30,
            retry_max_seconds=60,
            shutdown_grace_seconds=2,
            smtp_breaker_failures=2,
            smtp_breaker_cooldown_seconds=0.5,
        )
        settings = replace(settings, **changes)  # type: ignore[arg-type]
        relay = Relay(settings)
        await relay.__aenter__()
        relays.append(relay)
        return Pair(relay, settings, first, second, [])

    yield make
    for relay in relays:
        await relay.__aexit__(None, None, None)


async def _run_until(
    worker: Worker, done: Callable[[], Awaitable[bool]], timeout: float = 10.0
) -> None:
    running = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + timeout
        while not await done():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def _until(done: Callable[[], Awaitable[bool]], deadline: float) -> None:
    while not await done():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _async(value: bool) -> bool:
    return value


def _closed_port_config() -> SmtpConfig:
    return SmtpConfig(host=HOST, port=free_port(), tls="none", timeout=2.0, from_addr=DEFAULT_FROM)


async def test_refused_first_upstream_sends_through_the_second(make_pair: MakePair) -> None:
    pair: Pair = await make_pair(_closed_port_config())
    otp = await pair.submit(0, kind=Kind.OTP, code="123456", subject="")
    worker = pair.worker()

    await _run_until(worker, pair.has_status(otp, MessageStatus.SENT))
    details = await pair.relay.get_message(otp)
    # The auth mail moved on at once, within one claim: two attempts, each naming its server.
    assert [a.upstream for a in details.attempts] == [
        pair.first.upstream,
        pair.second.config().upstream,
    ]
    assert details.attempts[0].error_code is ErrorCode.SMTP_CONNECTION
    assert details.message.attempt_count == 2
    assert len(pair.second.messages) == 1


async def test_breaker_opens_skips_and_closes_after_recovery(
    make_pair: MakePair, smtp_server: SmtpServerFactory
) -> None:
    """The first upstream answers 421 to every greeting for a while: after two failures
    its breaker opens and mail goes straight to the second; once it recovers, a probe
    closes the breaker and mail returns to it."""
    first = smtp_server()
    first.handler.reply_at("ehlo", "421 4.3.2 down for maintenance", times=2)
    # The cool-down must outlast sending the first two messages and claiming the third:
    # with 0.5 s, a loaded machine (parallel test workers) let the breaker go half-open
    # first, and the third message probed the recovered upstream instead of skipping it.
    cooldown = 3.0
    pair: Pair = await make_pair(first.config(), smtp_breaker_cooldown_seconds=cooldown)
    worker = pair.worker()
    ids = [await pair.submit(n, kind=Kind.OTP, code="123456", subject="") for n in range(2)]

    async def all_sent() -> bool:
        statuses = [(await pair.relay.outbox.get_message(i)).status for i in ids]
        return all(s is MessageStatus.SENT for s in statuses)

    running = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 10 + cooldown
        await _until(all_sent, deadline)
        breaker = worker.upstreams.all[0].breaker
        assert breaker.state is BreakerState.OPEN
        assert [a.fatal for a in pair.alerts] == [False]
        # While open, mail skips the first upstream without trying it.
        skipped = await pair.submit(5, kind=Kind.OTP, code="123456", subject="")
        ids.append(skipped)
        await _until(all_sent, deadline)
        assert [a.upstream for a in (await pair.relay.get_message(skipped)).attempts] == [
            pair.second.config().upstream
        ]
        # After the cool-down the (now healthy) first upstream is probed and used again.
        await asyncio.sleep(cooldown + 0.1)
        back = await pair.submit(6, kind=Kind.OTP, code="123456", subject="")
        ids.append(back)
        await _until(all_sent, deadline)
        assert breaker.state is BreakerState.CLOSED
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    assert len(first.messages) == 1
    assert first.messages[0].parsed()["To"] == "user6@example.org"
    assert len(pair.second.messages) == 3


async def test_auth_failure_opens_the_breaker_without_a_retry_storm(
    make_pair: MakePair, smtp_server: SmtpServerFactory
) -> None:
    """Wrong credentials on the only upstream: an alert, and none of the queued messages
    is tried against it while its breaker is open."""
    first = smtp_server(tls="starttls", auth=("relay", "right-password"))
    wrong = first.config(password="wrong-password")
    pair: Pair = await make_pair(wrong, smtp_breaker_cooldown_seconds=30)
    pair.second.stop()  # no failover: the point is how often the bad upstream is hit
    pair.settings = replace(pair.settings, smtp_fallbacks=())
    ids = [await pair.submit(n) for n in range(20)]
    worker = pair.worker()
    running = asyncio.create_task(worker.run())
    try:
        # Until the breaker has opened (however long a loaded machine takes to get there),
        # then as long again as the whole run used to last: time for a storm to show.
        await _until(lambda: _async(bool(pair.alerts)), time.monotonic() + 10)
        await asyncio.sleep(1.5)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
    # Only the messages already in flight when the breaker opened (at most the two
    # general slots of this worker) reached the server: one connection each.
    connections = first.handler.commands.count("STARTTLS")
    assert 1 <= connections <= 2
    assert [(a.fatal, a.reason) for a in pair.alerts] == [(True, ErrorCode.SMTP_AUTH_FAILED)]
    assert worker.upstreams.status()[0]["state"] == "open"
    statuses = [(await pair.relay.outbox.get_message(i)).status for i in ids]
    # Those used their attempt (deferred, kept for when the password is fixed); the rest
    # were never claimed, so no retries were burnt on them.
    assert statuses.count(MessageStatus.DEFERRED) == connections
    assert statuses.count(MessageStatus.QUEUED) == 20 - connections


async def test_auth_failure_fails_over_any_priority(
    make_pair: MakePair, smtp_server: SmtpServerFactory
) -> None:
    first = smtp_server(tls="starttls", auth=("relay", "right-password"))
    pair: Pair = await make_pair(first.config(password="nope"))
    message = await pair.submit(1, priority="low")
    worker = pair.worker()

    await _run_until(worker, pair.has_status(message, MessageStatus.SENT))
    assert len(pair.second.messages) == 1


async def test_normal_mail_waits_for_its_retry_instead_of_failing_over(
    make_pair: MakePair, smtp_server: SmtpServerFactory
) -> None:
    """A temporary refusal of ordinary mail follows the retry schedule (the first
    upstream may accept it later); only auth mail jumps to the next upstream."""
    first = smtp_server()
    first.handler.reply_at("mail", "451 4.3.0 try again later", times=1)
    pair: Pair = await make_pair(first.config())
    message = await pair.submit(1)
    worker = pair.worker()

    await _run_until(worker, pair.has_status(message, MessageStatus.DEFERRED))
    assert pair.second.messages == []
    assert worker.upstreams.all[0].breaker.state is BreakerState.CLOSED


async def test_temporary_refusal_of_an_auth_mail_fails_over_at_once(
    make_pair: MakePair, smtp_server: SmtpServerFactory
) -> None:
    first = smtp_server()
    first.handler.reply_at("mail", "451 4.3.0 try again later", times=1)
    pair: Pair = await make_pair(first.config())
    otp = await pair.submit(1, kind=Kind.OTP, code="123456", subject="")
    worker = pair.worker()

    await _run_until(worker, pair.has_status(otp, MessageStatus.SENT))
    details = await pair.relay.get_message(otp)
    assert [a.error_code for a in details.attempts] == [ErrorCode.SMTP_TRANSIENT, None]
    assert first.messages == []
    assert len(pair.second.messages) == 1


async def test_an_upstream_that_drops_after_the_dot_once_per_message_keeps_delivering(
    tmp_path: object, smtp_server: SmtpServerFactory
) -> None:
    """The only upstream hangs up after every message's first final dot (each first copy
    is stored: the outcome is ambiguous), then answers 250 to the retry. Default breaker
    threshold, short cool-down, one message at a time so new messages come before
    retries: every message is sent, none stalls behind an open breaker."""
    only = smtp_server()
    only.handler.disconnect_at_first_final_dot()
    url = f"sqlite:///{tmp_path}/drops.db"
    await migrate(url)
    settings = Settings(
        database_url=url,
        smtp=only.config(timeout=2.0),
        worker_concurrency=1,
        poll_interval_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.1,
        shutdown_grace_seconds=2,
        smtp_breaker_cooldown_seconds=0.5,
    )
    assert settings.smtp_breaker_failures == 3
    async with Relay(settings) as relay:
        pair = Pair(relay, settings, settings.require_smtp(), only, [])
        ids = [await pair.submit(n) for n in range(11)]

        async def all_sent() -> bool:
            statuses = [(await relay.outbox.get_message(i)).status for i in ids]
            return all(s is MessageStatus.SENT for s in statuses)

        worker = pair.worker()
        started = time.monotonic()
        await _run_until(worker, all_sent, timeout=15)
        took = time.monotonic() - started
        details = [await relay.get_message(i) for i in ids]
    assert took < 10, f"took {took:.1f} s"
    for detail in details:
        assert [a.error_code for a in detail.attempts] == [
            ErrorCode.SMTP_DISCONNECT_UNCERTAIN,
            None,
        ]
    # At least once: the first copy of each was stored before the hang-up.
    assert len(only.messages) == 22


async def test_uncertain_failures_still_move_mail_to_a_healthy_upstream(
    make_pair: MakePair, smtp_server: SmtpServerFactory
) -> None:
    """The first upstream loses the reply to every final dot: its breaker opens (it is
    not the last resort while the second works) and the retries go to the second."""
    first = smtp_server()
    first.handler.disconnect_at("final_dot")
    pair: Pair = await make_pair(
        first.config(timeout=2.0), retry_base_seconds=0.05, retry_max_seconds=0.1
    )
    ids = [await pair.submit(n) for n in range(4)]

    async def all_sent() -> bool:
        statuses = [(await pair.relay.outbox.get_message(i)).status for i in ids]
        return all(s is MessageStatus.SENT for s in statuses)

    worker = pair.worker()
    await _run_until(worker, all_sent)
    breaker = worker.upstreams.all[0].breaker
    assert breaker.state is BreakerState.OPEN
    assert breaker.reason is ErrorCode.SMTP_DISCONNECT_UNCERTAIN
    second = pair.second.config().upstream
    for message_id in ids:
        attempts = (await pair.relay.get_message(message_id)).attempts
        assert attempts[-1].upstream == second
        assert {a.error_code for a in attempts[:-1]} <= {ErrorCode.SMTP_DISCONNECT_UNCERTAIN}
    assert len(pair.second.messages) == 4
