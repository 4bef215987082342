"""The Python client's scheduled sends, long poll, template and domain calls (both
twins) against the real running app, delivering to a real SMTP sink."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")

import asyncio
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from authmail_relay.client import (
    Accepted,
    DomainDkim,
    DomainReport,
    Message,
    MessageAuditEntry,
    TemplateCatalog,
    TemplateKind,
    TemplatePreview,
    error_info,
)
from authmail_relay.exceptions import NotFoundError, ValidationError
from authmail_relay.vocabulary import Kind, MessageStatus
from tests.api.conftest import Api
from tests.api.test_client_sdk import MAIL, UNKNOWN_ID, ApiFactory, Faulty, Twin

pytestmark = pytest.mark.slow
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["async", "sync"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(blocking=request.param == "sync")


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _soon(seconds: float = 300) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


# send_at ------------------------------------------------------------------------------


async def test_every_sending_method_schedules(api: Api, twin: Twin) -> None:
    """An aware datetime (any zone) or an RFC 3339 string; the /send* methods answer
    queued at once; nothing is sent before its time."""
    in_tokyo = _soon().astimezone(timezone(timedelta(hours=9)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with twin.open(api) as client:
        outcomes = [
            await client.send(**MAIL, send_at=in_tokyo),
            await client.send_otp("ada@example.org", "482913", send_at=in_tokyo),
            await client.send_magic_link("ada@example.org", "tok-1", send_at=in_tokyo),
            await client.send_password_reset("ada@example.org", "tok-2", send_at=in_tokyo),
        ]
        accepted = await client.create_message(
            "ada@example.org", kind="otp", code="1", send_at=in_tokyo.isoformat()
        )
        shown = [await client.get_message(o.id) for o in outcomes]
        shown.append(await client.get_message(accepted.id))
    assert loop.time() - started < api.settings.send_wait_seconds
    assert [(o.sent, o.status) for o in outcomes] == [(False, "queued")] * 4
    assert isinstance(accepted, Accepted)
    assert accepted.status is MessageStatus.QUEUED
    for message in shown:
        assert message.next_attempt_at is not None
        assert _ms(message.next_attempt_at) == _ms(in_tokyo)
    assert api.sink.messages == []


async def test_bad_send_at_is_refused_locally_or_by_the_relay(api: Api, twin: Twin) -> None:
    """A naive datetime or a non-time never leaves the client; a string the relay refuses
    is its 422, naming send_at; so is a time past the 30 days or the expiry."""
    faults = Faulty()
    async with twin.open(api, transport=faults) as client:
        for value in (datetime(2030, 1, 1), 1_900_000_000, _soon().date()):
            with pytest.raises(ValidationError) as local:
                await client.send(**MAIL, send_at=value)
            assert local.value.field == "send_at"
            assert error_info(local.value) is None
        assert faults.requests == []
        refused = []
        for value, extra in [
            ("2030-01-01T00:00:00", {}),
            ("next tuesday", {}),
            (_soon(31 * 86400), {}),
            (_soon(120), {"expires_in": 60}),
        ]:
            with pytest.raises(ValidationError) as remote:
                await client.create_message(
                    "ada@example.org", subject="s", html_body="<p>x</p>", send_at=value, **extra
                )
            refused.append(remote.value)
    assert [error.field for error in refused] == ["send_at"] * 4
    assert all(error_info(error) is not None for error in refused)
    assert await api.relay.list_messages() == []


# wait_for_message ---------------------------------------------------------------------


async def test_wait_for_message_returns_once_sent_with_its_audit(api: Api, twin: Twin) -> None:
    async with twin.open(api) as client:
        created = await client.create_message(**MAIL)
        loop = asyncio.get_running_loop()
        started = loop.time()
        message = await client.wait_for_message(created.id, timeout=60)
        elapsed = loop.time() - started
    assert isinstance(message, Message)
    assert message.status is MessageStatus.SENT
    assert elapsed < 10
    assert len(api.sink.messages) == 1
    assert message.audit
    assert all(isinstance(entry, MessageAuditEntry) for entry in message.audit)
    actions = [entry.action for entry in message.audit]
    assert actions[0] == "message.accepted"
    assert "message.sent" in actions
    assert [entry.seq for entry in message.audit] == sorted(e.seq for e in message.audit)
    assert message.audit[0].at.tzinfo is not None


async def test_a_long_poll_outlasts_the_clients_own_timeout(
    api_factory: ApiFactory, twin: Twin
) -> None:
    """No worker: the relay answers after the wait, with the message queued. The client's
    timeout is shorter than the wait; the call's own timeout is the wait on top of it."""
    async with api_factory(run_worker=False) as api, twin.open(api, timeout=1) as client:
        created = await client.create_message(**MAIL)
        loop = asyncio.get_running_loop()
        started = loop.time()
        message = await client.wait_for_message(created.id, timeout=2)
        elapsed = loop.time() - started
        with pytest.raises(NotFoundError):
            await client.wait_for_message(UNKNOWN_ID, timeout=30)
    assert message.status is MessageStatus.QUEUED
    assert 2 <= elapsed < 2.9
    assert twin.sleeps == []  # answered on the first attempt, no retry


@pytest.mark.parametrize("timeout", [0, -1, 0.0, 120.5, 121, math.nan, math.inf, True, "5", None])
async def test_wait_timeouts_are_checked_before_anything_is_sent(
    api: Api, twin: Twin, timeout: Any
) -> None:
    faults = Faulty()
    async with twin.open(api, transport=faults) as client:
        with pytest.raises(ValidationError) as raised:
            await client.wait_for_message(UNKNOWN_ID, timeout=timeout)
        with pytest.raises(ValidationError):
            await client.wait_for_message("", timeout=5)
    assert raised.value.field == "timeout"
    assert faults.requests == []


# Templates and domains ----------------------------------------------------------------


async def test_templates_are_listed_and_previewed(api: Api, twin: Twin) -> None:
    faults = Faulty()
    async with twin.open(api, transport=faults) as client:
        catalog = await client.list_templates()
        french = await client.preview_template(Kind.OTP, locale="fr")
        default = await client.preview_template("magic_link")
        with pytest.raises(ValidationError) as malformed:
            await client.preview_template("otp", locale="not a locale!")
        sent = len(faults.requests)
        with pytest.raises(ValidationError) as raw:
            await client.preview_template("raw")
        with pytest.raises(ValidationError):
            await client.preview_template("newsletter")
        assert len(faults.requests) == sent  # refused locally
    assert isinstance(catalog, TemplateCatalog)
    assert catalog.default_locale == "en"
    assert {"en", "fr", "pt-BR"} <= set(catalog.locales)
    assert all(isinstance(kind, TemplateKind) for kind in catalog.kinds)
    assert {kind.kind for kind in catalog.kinds} == {"otp", "magic_link", "password_reset"}
    assert all(dict(kind.overridden) == {} for kind in catalog.kinds)
    assert isinstance(french, TemplatePreview)
    assert (french.kind, french.locale) == ("otp", "fr")
    assert french.html is not None
    assert 'lang="fr"' in french.html
    assert default.locale is None
    assert default.subject
    assert malformed.value.field == "locale"
    assert raw.value.field == "kind"


async def test_overridden_template_parts_are_reported(
    api_factory: ApiFactory, twin: Twin, tmp_path: Path
) -> None:
    (tmp_path / "templates" / "de").mkdir(parents=True)
    (tmp_path / "templates" / "de" / "otp.txt").write_text("Code: {{code}}\n", encoding="utf-8")
    async with (
        api_factory(templates_dir=str(tmp_path / "templates"), run_worker=False) as api,
        twin.open(api) as client,
    ):
        catalog = await client.list_templates()
    [otp] = [kind for kind in catalog.kinds if kind.kind == "otp"]
    assert dict(otp.overridden) == {"de": ("text",)}


async def test_check_domain_reports_the_dns(
    api_factory: ApiFactory, twin: Twin, tmp_path: Path
) -> None:
    pytest.importorskip("dns", reason="domain checks need the [http] extra")
    from authmail_relay.dkim.keys import generate
    from authmail_relay.dkim.store import KeyStore
    from tests.support.dns_server import dns_server

    key = generate("acme.example", "s1", "rsa")
    KeyStore(tmp_path / "keys").save([key])
    records: dict[str, list[Any]] = {
        key.record_name[:-1]: [key.record_value],
        "acme.example": ["v=spf1 include:_spf.example.net -all"],
        "_dmarc.acme.example": ["v=DMARC1; p=reject; rua=mailto:d@acme.example"],
    }
    async with dns_server(records) as server:
        settings = {"dkim_keys_dir": str(tmp_path / "keys"), "dns_resolver": server.address}
        async with api_factory(**settings, run_worker=False) as api, twin.open(api) as client:
            report = await client.check_domain("acme.example")
            for bad in ("", "..", "a/b", "x" * 254):
                with pytest.raises(ValidationError) as raised:
                    await client.check_domain(bad)
                assert raised.value.field == "domain"
    assert isinstance(report, DomainReport)
    assert report.domain == "acme.example"
    assert report.ok is True
    [selector] = report.dkim
    assert isinstance(selector, DomainDkim)
    assert (selector.selector, selector.status) == ("s1", "match")
    assert selector.expected == key.record_value
    assert report.spf.all == "-all"
    assert "include:_spf.example.net" in report.spf.mechanisms
    assert isinstance(report.spf.advice, tuple)
    assert (report.dmarc.policy, report.dmarc.effective_policy) == ("reject", "reject")
    assert report.dmarc.rua == ("mailto:d@acme.example",)
    assert report.dmarc.inherited is False
