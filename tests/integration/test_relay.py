"""The relay core: accepted means committed; rejected means nothing stored."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.exceptions import (
    HeaderInjectionError,
    InvalidAddressError,
    RelayNotOpenError,
    StorageError,
    ValidationError,
)
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.smtp.config import SmtpConfig
from authmail_relay.vocabulary import EventType, Kind, MessageStatus, Priority

SMTP = SmtpConfig(host="smtp.example.com", from_addr="Relay <relay@example.com>")


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'relay.db'}", smtp=SMTP)


async def test_submit_commits_the_rendered_message(tmp_path: Path) -> None:
    """The stored row has the composed bytes, the queued event and the defaults applied."""
    async with Relay(_settings(tmp_path)) as relay:
        accepted = await relay.submit(
            MessageRequest(
                to="ada@example.org", subject="Hello", html="<p>Hi</p>", tags=["welcome"]
            )
        )
        assert accepted.status is MessageStatus.QUEUED
        assert accepted.message_id.endswith("@example.com>")  # the sender's domain
        details = await relay.get_message(accepted.id)
    record = details.message
    assert record.sender == "relay@example.com"
    assert record.recipients == ("ada@example.org",)
    assert record.priority is Priority.NORMAL
    assert record.tags == ("welcome",)
    assert [event.type for event in details.events] == [EventType.QUEUED]
    assert relay.new_work.is_set()


async def test_auth_kinds_are_high_priority_and_expire(tmp_path: Path) -> None:
    """An OTP goes to the high lane and carries its expiry."""
    async with Relay(_settings(tmp_path)) as relay:
        accepted = await relay.submit(
            MessageRequest(
                to="a@example.org",
                code="123456",
                kind=Kind.OTP,
                expires_in_seconds=600,
            )
        )
        record = (await relay.get_message(accepted.id)).message
    assert record.priority is Priority.HIGH
    assert record.expires_at is not None
    assert 599_000 <= record.expires_at - record.created_at <= 601_000


@pytest.mark.parametrize(
    ("request_fields", "error"),
    [
        ({"subject": "Hi\r\nBcc: evil@example.net"}, HeaderInjectionError),
        ({"to": "a@example.org, b@example.org"}, InvalidAddressError),
        ({"from_addr": "Boss <boss@example.com>\n"}, HeaderInjectionError),
        ({"html": None, "text": None}, ValidationError),
        ({"tags": ["has space"]}, ValidationError),
    ],
)
async def test_invalid_requests_store_nothing(
    tmp_path: Path, request_fields: dict[str, object], error: type[Exception]
) -> None:
    """Validation happens before the commit: a rejected request leaves no row."""
    fields: dict[str, object] = {"to": "a@example.org", "subject": "Hi", "html": "<p>x</p>"}
    fields.update(request_fields)
    async with Relay(_settings(tmp_path)) as relay:
        with pytest.raises(error):
            await relay.submit(MessageRequest(**fields))  # type: ignore[arg-type]
        assert await relay.list_messages() == []


async def test_a_storage_failure_is_an_error_not_a_success(tmp_path: Path) -> None:
    """If the commit cannot happen (here: another writer holds the lock past the busy
    timeout) the caller gets StorageError, never an id, and nothing is stored."""
    settings = replace(_settings(tmp_path), db_busy_timeout_ms=100)
    request = MessageRequest(to="a@example.org", subject="Hi", html="<p>x</p>")
    async with Relay(settings) as relay:
        blocker = sqlite3.connect(tmp_path / "relay.db", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageError, match="locked"):
                await relay.submit(request)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        assert await relay.list_messages() == []


async def test_using_a_closed_relay_is_a_clear_error(tmp_path: Path) -> None:
    """Forgetting ``async with`` is explained, not an AttributeError."""
    relay = Relay(_settings(tmp_path))
    with pytest.raises(RelayNotOpenError, match="async with"):
        await relay.submit(MessageRequest(to="a@example.org", subject="Hi", html="<p>x</p>"))
