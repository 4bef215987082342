"""``send_at`` and the status wait in the relay core, over a real SQLite outbox.

The HTTP routes and the SDK are tested in ``tests/api``; the pure rules in
``tests/unit/test_scheduling.py``. Here: the core applies the rules once for every
adapter (submit and the dry-run render alike), stores the send time with a retry window
that opens at it, and waits for statuses without a worker or with one.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.exceptions import NotFoundError, ValidationError
from authmail_relay.ids import new_message_id
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.smtp.config import SmtpConfig
from authmail_relay.vocabulary import EventType, Kind, MessageStatus, OversightMode

SMTP = SmtpConfig(host="smtp.example.com", from_addr="Relay <relay@example.com>")
MAIL = {"to": "ada@example.org", "subject": "Hello", "html": "<p>Hi</p>"}


def _settings(tmp_path: Path, **changes: object) -> Settings:
    base = Settings(database_url=f"sqlite:///{tmp_path / 'relay.db'}", smtp=SMTP)
    return replace(base, **changes)  # type: ignore[arg-type]


def _ms(moment: datetime) -> int:
    """Exact epoch milliseconds (no float rounding)."""
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)


def _in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def test_a_scheduled_message_waits_for_its_time_and_keeps_its_retry_window(
    tmp_path: Path,
) -> None:
    send_at = _in(3600)
    async with Relay(_settings(tmp_path, max_message_age_seconds=600)) as relay:
        accepted = await relay.submit(MessageRequest(**MAIL, send_at=send_at))
        details = await relay.get_message(accepted.id)
    record = details.message
    wanted = _ms(send_at)
    assert record.status is MessageStatus.QUEUED
    assert record.next_attempt_at == wanted
    assert record.give_up_at == wanted + 600_000
    [queued] = details.events
    assert queued.type is EventType.QUEUED
    assert queued.data["send_at"] == wanted


async def test_a_past_send_time_is_due_now(tmp_path: Path) -> None:
    async with Relay(_settings(tmp_path)) as relay:
        accepted = await relay.submit(MessageRequest(**MAIL, send_at=_in(-86400 * 365)))
        record = (await relay.get_message(accepted.id)).message
    assert record.next_attempt_at == record.created_at
    assert record.give_up_at == record.created_at + 86_400_000


@pytest.mark.parametrize(
    ("fields", "send_in"),
    [
        (MAIL, 31 * 86400),
        ({**MAIL, "expires_in_seconds": 3600}, 3600),
        ({**MAIL, "expires_in_seconds": 3600}, 7200),
        # The auth kinds' default lifetimes (10 and 15 minutes) count as expires_in.
        ({"to": "ada@example.org", "kind": Kind.OTP, "code": "1234"}, 601),
        ({"to": "ada@example.org", "kind": Kind.MAGIC_LINK, "token": "t"}, 901),
        (MAIL, None),  # naive: below
    ],
)
async def test_bad_send_times_are_refused_by_submit_and_the_dry_run(
    tmp_path: Path, fields: dict[str, object], send_in: float | None
) -> None:
    now = datetime.now(timezone.utc)
    send_at = datetime(2099, 1, 1, 12, 0) if send_in is None else now + timedelta(seconds=send_in)
    settings = _settings(tmp_path, magic_link_base_url="https://app.example.com")
    # The relay's clock stands still, so "exactly at the expiry" is exactly that.
    async with Relay(settings, clock=lambda: now) as relay:
        request = MessageRequest(**fields, send_at=send_at)  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as refused:
            await relay.submit(request)
        assert refused.value.field == "send_at"
        with pytest.raises(ValidationError):
            await relay.preview(request)
        assert await relay.list_messages() == []


async def test_an_auth_mail_may_be_scheduled_inside_its_lifetime(tmp_path: Path) -> None:
    async with Relay(_settings(tmp_path)) as relay:
        request = MessageRequest(to="ada@example.org", kind=Kind.OTP, code="1234", send_at=_in(300))
        assert relay.is_scheduled(request)
        await relay.preview(request)
        record = (await relay.get_message((await relay.submit(request)).id)).message
    assert record.expires_at is not None
    assert record.created_at < record.next_attempt_at < record.expires_at
    assert not relay.is_scheduled(MessageRequest(**MAIL))
    assert not relay.is_scheduled(MessageRequest(**MAIL, send_at=_in(-1)))


async def test_a_held_scheduled_message_keeps_its_time_when_approved(tmp_path: Path) -> None:
    send_at = _in(3600)
    async with Relay(_settings(tmp_path, oversight_default=OversightMode.GATED)) as relay:
        accepted = await relay.submit(MessageRequest(**MAIL, send_at=send_at))
        assert accepted.status is MessageStatus.HELD
        approved = await relay.approve(accepted.id, "approver")
        assert approved.status is MessageStatus.QUEUED
        assert approved.next_attempt_at == _ms(send_at)
        assert await relay.outbox.claim(worker_id="w", limit=5, lease_ms=60_000) == []
        # And a scheduled message can still be withdrawn.
        cancelled = await relay.cancel(accepted.id)
    assert cancelled.status is MessageStatus.CANCELLED


# Waiting for a status ----------------------------------------------------------------


async def test_a_wait_reads_first_and_ends_at_once_on_a_status_that_ends_it(
    tmp_path: Path,
) -> None:
    async with Relay(_settings(tmp_path, oversight_default=OversightMode.GATED)) as relay:
        held = await relay.submit(MessageRequest(**MAIL))
        started = asyncio.get_running_loop().time()
        record = await relay.wait_for_outcome(
            held.id, 30, until=lambda status: status.ends_wait, read_first=True
        )
        assert record.status is MessageStatus.HELD
        assert asyncio.get_running_loop().time() - started < 1
        with pytest.raises(NotFoundError):
            await relay.wait_for_outcome(new_message_id(), 30, read_first=True)


async def test_a_wait_without_a_worker_runs_out_and_answers_as_it_is(tmp_path: Path) -> None:
    async with Relay(_settings(tmp_path)) as relay:
        queued = await relay.submit(MessageRequest(**MAIL))
        loop = asyncio.get_running_loop()
        started = loop.time()
        record = await relay.wait_for_outcome(
            queued.id, 0.6, until=lambda status: status.ends_wait, read_first=True
        )
        elapsed = loop.time() - started
    assert record.status is MessageStatus.QUEUED
    assert 0.6 <= elapsed < 1.5


async def test_a_cancel_wakes_every_waiter_on_the_message(tmp_path: Path) -> None:
    """Several requests may wait on one message; each gets its own wake-up."""
    async with Relay(_settings(tmp_path)) as relay:
        # Polls far apart: only the cancel's wake-up can end these waits in time.
        relay._waits.poll_seconds = 60
        queued = await relay.submit(MessageRequest(**MAIL, send_at=_in(3600)))
        loop = asyncio.get_running_loop()
        started = loop.time()
        waits = [
            asyncio.create_task(
                relay.wait_for_outcome(
                    queued.id, 20, until=lambda status: status.ends_wait, read_first=True
                )
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0.3)
        assert not any(wait.done() for wait in waits)
        await relay.cancel(queued.id)
        records = await asyncio.gather(*waits)
        assert all(r.status is MessageStatus.CANCELLED for r in records)
        assert loop.time() - started < 5
        # Nothing is left registered once every waiter is done.
        assert relay._waits._waiters == {}
