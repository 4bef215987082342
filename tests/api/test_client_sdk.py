"""The Python client (``authmail_relay.client``) against the real running app.

Every test that talks to the relay runs twice: with :class:`AsyncAuthmailClient` in the
test's event loop, and with the blocking :class:`AuthmailClient` in a worker thread (the
server runs in the event loop, so the blocking client must not). Faults are injected
with :class:`Faulty`, an httpx transport in front of the real network transport: it can
drop an answer after the server has handled the request, refuse the connection, answer
in the relay's place, or garble a real answer.
"""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")

import asyncio
import contextlib
import inspect
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from authmail_relay.client import (
    Accepted,
    AsyncAuthmailClient,
    AuthmailClient,
    ErrorInfo,
    Message,
    MessagePage,
    SendOutcome,
    error_info,
)
from authmail_relay.client._base import retry_after
from authmail_relay.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DeliveryError,
    InvalidAddressError,
    NotFoundError,
    RateLimitedError,
    StorageError,
    TransportError,
    ValidationError,
)
from authmail_relay.vocabulary import EventType, Kind, MessageStatus, Priority
from tests.api.conftest import Api
from tests.support.smtpd import free_port

pytestmark = pytest.mark.slow
ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]
MAIL = {"to": "ada@example.org", "subject": "Hello Ada", "html_body": "<p>Hi Ada</p>"}
UNKNOWN_ID = "msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ"


# Fault injection --------------------------------------------------------------------


class Faulty(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The real network transport (sync and async) with scripted faults, one per request
    in order; ``None`` or an exhausted script passes the request through. It records the
    headers of every request it sees."""

    def __init__(self, *faults: str | httpx.Response | None) -> None:
        self.faults = list(faults)
        self.requests: list[httpx.Headers] = []
        self.sync = httpx.HTTPTransport()
        self.async_ = httpx.AsyncHTTPTransport()

    def _next(self, request: httpx.Request) -> str | httpx.Response | None:
        self.requests.append(request.headers)
        fault = self.faults.pop(0) if self.faults else None
        if fault == "refuse":
            raise httpx.ConnectError("connection refused (injected)", request=request)
        return fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._next(request)
        if isinstance(fault, httpx.Response):
            return fault
        response = self.sync.handle_request(request)
        response.read()
        response.close()
        return self._after(fault, request, response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._next(request)
        if isinstance(fault, httpx.Response):
            return fault
        response = await self.async_.handle_async_request(request)
        await response.aread()
        await response.aclose()
        return self._after(fault, request, response)

    def _after(
        self, fault: str | None, request: httpx.Request, response: httpx.Response
    ) -> httpx.Response:
        if fault == "drop":  # the relay did the work; its answer is lost on the way back
            raise httpx.ReadTimeout("answer lost (injected)", request=request)
        if fault == "garble":
            return httpx.Response(200, content=b"<html>a captive portal</html>")
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    def close(self) -> None:
        self.sync.close()

    async def aclose(self) -> None:
        await self.async_.aclose()

    @property
    def idempotency_keys(self) -> list[str | None]:
        return [headers.get("idempotency-key") for headers in self.requests]


def problem(status: int, error_code: str, retry_after: str | None = None) -> httpx.Response:
    """A problem+json answer as the relay would give it."""
    body = {
        "type": "x",
        "title": "x",
        "status": status,
        "detail": "injected",
        "error_code": error_code,
    }
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, json=body, headers=headers)


# Both twins through one interface ---------------------------------------------------


class Threaded:
    """The blocking client driven from the event loop: every call runs in a thread."""

    def __init__(self, client: AuthmailClient) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


@dataclass
class Twin:
    """Opens either client with the same options; records the pauses between attempts
    (and calls ``on_sleep`` with each) instead of sleeping."""

    blocking: bool
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[float], None] | None = None

    def _pause(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    @contextlib.asynccontextmanager
    async def open(
        self, target: Api | str, api_key: str | None = None, **options: Any
    ) -> AsyncIterator[Any]:
        url = target if isinstance(target, str) else target.url
        key = api_key or ("k" if isinstance(target, str) else target.settings.api_key)
        if self.blocking:
            client = AuthmailClient(url, key, sleep=self._pause, **options)
            try:
                yield Threaded(client)
            finally:
                client.close()
        else:

            async def pause(seconds: float) -> None:
                self._pause(seconds)

            async with AsyncAuthmailClient(url, key, sleep=pause, **options) as client:
                yield client


@pytest.fixture(params=["async", "sync"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(blocking=request.param == "sync")


def text_of(api: Api, index: int = 0) -> str:
    return api.sink.messages[index].parsed().get_body(preferencelist=("plain",)).get_content()


def info_of(error: BaseException) -> ErrorInfo:
    info = error_info(error)
    assert info is not None
    return info


def link_in(text: str) -> tuple[str, str]:
    """The path and the decoded token of the first link to the app in ``text``."""
    link = next(word for word in text.split() if word.startswith("https://app.example.com/"))
    parts = urlsplit(link)
    return parts.path, parse_qs(parts.query)["token"][0]


# The surface ------------------------------------------------------------------------


def public(cls: type) -> dict[str, Any]:
    return {name: getattr(cls, name) for name in dir(cls) if not name.startswith("_")}


def test_twins_expose_the_same_methods() -> None:
    """Same names and signatures; the async ones are coroutines. Only close/aclose differ."""
    blocking, awaiting = public(AuthmailClient), public(AsyncAuthmailClient)
    assert set(blocking) - {"close"} == set(awaiting) - {"aclose"}
    expected = {"send", "send_otp", "send_magic_link", "send_password_reset", "create_message"}
    expected |= {"get_message", "list_messages", "cancel", "consume", "health"}
    expected |= {"list_approvals", "approve", "reject", "decide"}
    expected |= {"wait_for_message", "list_templates", "preview_template", "check_domain"}
    assert expected <= set(blocking)
    for name in set(blocking) - {"close"}:
        assert inspect.signature(blocking[name]) == inspect.signature(awaiting[name]), name
        assert inspect.iscoroutinefunction(awaiting[name]), name
        assert not inspect.iscoroutinefunction(blocking[name]), name
        assert blocking[name].__doc__, name
    assert inspect.iscoroutinefunction(AsyncAuthmailClient.aclose)
    parameters = list(inspect.signature(AuthmailClient.send).parameters)
    assert parameters[:4] == ["self", "to", "subject", "html_body"]
    assert inspect.signature(AuthmailClient.get_message).return_annotation == "Message"


def test_retry_after_takes_seconds_or_a_date() -> None:
    """Retry-After is a delay in seconds or an HTTP date; anything else is ignored."""
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert 28 <= (retry_after(httpx.Headers({"Retry-After": soon})) or 0) <= 30
    assert retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after(httpx.Headers()) is None


def test_bad_settings_are_configuration_errors() -> None:
    """Unusable constructor arguments fail at once, before any request."""
    for args, options in [
        (("relay.example.com", "k"), {}),
        (("ftp://relay.example.com", "k"), {}),
        (("https://relay.example.com", ""), {}),
        (("https://relay.example.com", "two words"), {}),
        (("https://relay.example.com", "k"), {"timeout": 0}),
        (("https://relay.example.com", "k"), {"max_retries": -1}),
        (("https://relay.example.com", "k"), {"headers": {"X-Evil": "a\r\nb"}}),
        (("https://relay.example.com", "k"), {"transport": httpx.AsyncHTTPTransport()}),
    ]:
        with pytest.raises(ConfigurationError):
            AuthmailClient(*args, **options)
    with pytest.raises(ConfigurationError):
        AsyncAuthmailClient("https://relay.example.com", "k", transport=httpx.HTTPTransport())
    client = AuthmailClient("https://relay.example.com/", "secret-key")
    assert "secret-key" not in repr(client)
    client.close()


# Sending ----------------------------------------------------------------------------


async def test_send_delivers_and_returns_the_outcome(api: Api, twin: Twin) -> None:
    """send waits for the SMTP outcome and returns it typed; request_id follows the mail."""
    async with twin.open(api) as client:
        outcome = await client.send(
            "ada@example.org",
            "Hello Ada",
            "<p>Hi Ada</p>",
            text_body="Hi Ada",
            cc=["cc@example.org"],
            tags=["welcome"],
            metadata={"user": 7},
            priority=Priority.LOW,
            expires_in=timedelta(hours=1),
            headers={"X-Campaign": "spring"},
            request_id="req-sdk.1",
        )
    assert isinstance(outcome, SendOutcome)
    assert outcome.sent is True
    assert outcome.status == "sent"
    assert outcome.id is not None
    assert outcome.id.startswith("msg_")
    assert outcome.replayed is False
    assert outcome.request_id == "req-sdk.1"
    assert outcome.idempotency_key is not None
    (received,) = api.sink.messages
    assert received.parsed()["Message-ID"] == outcome.message_id
    assert received.parsed()["X-Campaign"] == "spring"
    assert set(received.rcpt_tos) == {"ada@example.org", "cc@example.org"}
    record = await api.relay.outbox.get_message(outcome.id)
    assert record.request_id == "req-sdk.1"
    assert record.priority is Priority.LOW


async def test_auth_mails_are_delivered(api: Api, twin: Twin) -> None:
    """The one-time code and both links arrive; tokens are encoded into the link."""
    async with twin.open(api) as client:
        otp = await client.send_otp("ada@example.org", "482913", user_name="Ada", locale="en")
        magic = await client.send_magic_link("bob@example.org", "a+b/c=d", user_name="Bob")
        reset = await client.send_password_reset(
            "cy@example.org", "r&s", base_url="https://app.example.com/tenant-7"
        )
    assert [otp.sent, magic.sent, reset.sent] == [True, True, True]
    assert len({otp.id, magic.id, reset.id}) == 3
    assert "482913" in text_of(api, 0)
    assert link_in(text_of(api, 1)) == ("/set-password", "a+b/c=d")
    assert link_in(text_of(api, 2)) == ("/tenant-7/reset-password", "r&s")


async def test_webhook_and_dry_run_outcomes(api: Api, twin: Twin) -> None:
    """webhook_url answers at once (accepted); dry_run stores and sends nothing."""
    async with twin.open(api) as client:
        accepted = await client.send(
            **MAIL, webhook_url="https://hooks.example.com/x", webhook_secret="s"
        )
        dry = await client.send_otp("ada@example.org", "1", dry_run=True)
    assert (accepted.sent, accepted.status) == (False, "accepted")
    assert accepted.id is not None
    assert (dry.sent, dry.status, dry.id) == (False, "dry_run", None)
    assert dry.size is not None
    assert dry.size > 100
    assert [m.id for m in await api.relay.list_messages()] == [accepted.id]


async def test_create_get_and_consume(api: Api, twin: Twin) -> None:
    """create_message queues; get_message shows typed status, events and attempts."""
    async with twin.open(api) as client:
        created = await client.create_message(
            "ada@example.org", kind=Kind.OTP, code="777111", tags=["login"], metadata={"n": 1}
        )
        assert isinstance(created, Accepted)
        assert created.status is MessageStatus.QUEUED
        assert created.created_at.tzinfo is not None
        await api.relay.wait_for_outcome(created.id, 5)
        shown = await client.get_message(created.id)
        consumed = await client.consume(created.id)
        again = await client.consume(created.id)
    assert isinstance(shown, Message)
    assert (shown.id, shown.kind, shown.status) == (created.id, Kind.OTP, MessageStatus.SENT)
    assert shown.message_id == created.message_id
    assert (shown.tags, dict(shown.metadata)) == (("login",), {"n": 1})
    assert shown.recipients == ("ada@example.org",)
    queued, sending, sent = EventType.QUEUED, EventType.SENDING, EventType.SENT
    assert [event.type for event in shown.events] == [queued, sending, sent]
    assert shown.created_at.utcoffset() == timedelta(0)
    assert shown.sent_at is not None
    assert shown.sent_at >= shown.created_at
    (attempt,) = shown.attempts
    assert (attempt.smtp_code, attempt.result) == (250, MessageStatus.SENT)
    assert attempt.ambiguous is False
    assert consumed.status is again.status is MessageStatus.CONSUMED
    assert consumed.events == ()  # only get_message includes them


async def test_list_messages_filters_and_pages(api_factory: ApiFactory, twin: Twin) -> None:
    """Filters by status, tag, recipient and time; next_cursor walks the pages."""
    async with api_factory(run_worker=False) as api, twin.open(api) as client:
        created = []
        for n in range(5):
            tag = "even" if n % 2 == 0 else "odd"
            created.append(
                await client.create_message(
                    f"user{n}@example.org", subject="Hi", html_body="<p>x</p>", tags=[tag]
                )
            )
        ids = [c.id for c in created]
        first = await client.list_messages(limit=2)
        second = await client.list_messages(limit=2, cursor=first.next_cursor)
        third = await client.list_messages(limit=2, cursor=second.next_cursor)
        even = await client.list_messages(tag="even")
        to = await client.list_messages(to="USER3@example.org")
        queued = await client.list_messages(status="queued")
        sent = await client.list_messages(status=MessageStatus.SENT)
        window = await client.list_messages(
            created_after=created[1].created_at,
            created_before=created[3].created_at + timedelta(milliseconds=1),
        )
    assert isinstance(first, MessagePage)
    assert [m.id for m in first.messages + second.messages + third.messages] == ids[::-1]
    assert third.next_cursor is None
    assert {m.id for m in even.messages} == {ids[0], ids[2], ids[4]}
    assert [m.id for m in to.messages] == [ids[3]]
    assert len(queued.messages) == 5
    assert all(m.status is MessageStatus.QUEUED for m in queued.messages)
    assert sent.messages == ()
    assert {m.id for m in window.messages} >= {ids[1], ids[2], ids[3]}
    assert all(
        created[1].created_at <= m.created_at <= created[3].created_at for m in window.messages
    )


async def test_cancel_once_then_conflict(api_factory: ApiFactory, twin: Twin) -> None:
    """cancel withdraws a queued message; a second cancel is ConflictError(not_cancellable)."""
    async with api_factory(run_worker=False) as api, twin.open(api) as client:
        created = await client.create_message(**MAIL)
        cancelled = await client.cancel(created.id)
        with pytest.raises(ConflictError) as conflict:
            await client.cancel(created.id)
        with pytest.raises(ConflictError) as early:
            await client.consume(created.id)
        with pytest.raises(NotFoundError):
            await client.cancel(UNKNOWN_ID)
    assert cancelled.status is MessageStatus.CANCELLED
    assert conflict.value.error_code == "not_cancellable"
    assert early.value.error_code == "not_consumable"
    info = info_of(conflict.value)
    assert (info.status, info.error_code, info.attempts) == (409, "not_cancellable", 1)
    assert not api.sink.messages


# Errors -----------------------------------------------------------------------------


async def test_wrong_key_is_an_authentication_error(api: Api, twin: Twin) -> None:
    """401 → AuthenticationError, never retried."""
    faults = Faulty()
    async with twin.open(api, "wrong-key", transport=faults) as client:
        with pytest.raises(AuthenticationError) as raised:
            await client.send(**MAIL)
    info = info_of(raised.value)
    assert (info.status, info.error_code, info.attempts) == (401, "unauthorized", 1)
    assert len(faults.requests) == 1
    assert twin.sleeps == []
    assert not api.sink.messages


async def test_invalid_input_is_a_validation_error_with_the_field(api: Api, twin: Twin) -> None:
    """The relay's 422 names the field; its error_code stays reachable."""
    async with twin.open(api) as client:
        with pytest.raises(InvalidAddressError) as bad_address:
            await client.send("not-an-address", "Hi", "<p>x</p>")
        with pytest.raises(ValidationError) as empty_subject:
            await client.send("ada@example.org", "", "<p>x</p>")
        await client.send(**MAIL, idempotency_key="k-1")
        with pytest.raises(ValidationError) as reused:
            await client.send("ada@example.org", "Other", "<p>x</p>", idempotency_key="k-1")
    assert bad_address.value.field == "to"
    assert bad_address.value.error_code == "invalid_address"  # type: ignore[attr-defined]
    assert empty_subject.value.field == "subject"
    info = info_of(empty_subject.value)
    assert info.error_code == "validation_error"
    assert info.field_errors[0].field == "subject"
    assert info_of(reused.value).error_code == "idempotency_key_mismatch"
    assert len(api.sink.messages) == 1


async def test_arguments_are_checked_before_anything_is_sent(api: Api, twin: Twin) -> None:
    """Malformed arguments raise ValidationError(field=…) locally: no request at all."""
    faults = Faulty()
    naive = datetime(2026, 1, 1)
    async with twin.open(api, transport=faults) as client:
        for call, name in [
            (client.send(**MAIL, idempotency_key="ключ"), "idempotency_key"),
            (client.send(**MAIL, request_id="a b"), "request_id"),
            (client.send(**MAIL, tags="welcome"), "tags"),
            (client.send(**MAIL, priority="urgent"), "priority"),
            (client.send(**MAIL, metadata={"when": naive}), "metadata"),
            (client.send(**MAIL, expires_in=0), "expires_in"),
            (client.send([], "Hi", "<p>x</p>"), "to"),
            (client.list_messages(created_after=naive), "created_after"),
            (client.list_messages(limit=0), "limit"),
            (client.list_messages(status="lost"), "status"),
            (client.get_message(""), "id"),
        ]:
            with pytest.raises(ValidationError) as raised:
                await call
            assert raised.value.field == name
    assert faults.requests == []


async def test_unknown_message_is_not_found(api: Api, twin: Twin) -> None:
    async with twin.open(api) as client:
        with pytest.raises(NotFoundError):
            await client.get_message(UNKNOWN_ID)
        with pytest.raises(NotFoundError):
            await client.get_message("../health")  # encoded, never a path escape
        assert await client.health() is True


async def test_upstream_refusal_is_a_delivery_error(api: Api, twin: Twin) -> None:
    """The compatible 502 → DeliveryError with the SMTP error code and the message id."""
    api.sink.handler.reply_at("final_dot", "554 5.7.1 no")
    async with twin.open(api) as client:
        with pytest.raises(DeliveryError) as raised:
            await client.send(**MAIL)
        stored = await client.get_message(raised.value.message_id)
    assert raised.value.error_code == "smtp_rejected"
    assert raised.value.message_id is not None
    assert raised.value.message_id.startswith("msg_")
    assert "554" in raised.value.message
    assert stored.status is MessageStatus.FAILED
    assert stored.last_error_code == "smtp_rejected"
    assert (info_of(raised.value).status, info_of(raised.value).attempts) == (502, 1)


async def test_missing_link_setting_is_a_configuration_error(
    api_factory: ApiFactory, twin: Twin
) -> None:
    """503 not_configured is permanent: ConfigurationError, not retried."""
    async with api_factory(magic_link_base_url="") as api, twin.open(api) as client:
        with pytest.raises(ConfigurationError):
            await client.send_magic_link("ada@example.org", "t")
    assert twin.sleeps == []


async def test_unreachable_relay_is_a_transport_error(twin: Twin) -> None:
    """A closed port: every attempt fails to connect, then TransportError from httpx's error."""
    async with twin.open(f"http://127.0.0.1:{free_port()}", max_retries=2) as client:
        with pytest.raises(TransportError) as raised:
            await client.send(**MAIL)
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert twin.sleeps == [0.25, 0.5]
    info = info_of(raised.value)
    assert info.status is None
    assert info.attempts == 3
    assert info.idempotency_key is not None


async def test_garbled_answer_is_a_transport_error(api: Api, twin: Twin) -> None:
    """A 200 that is not the API's JSON (a proxy, a captive portal) → TransportError."""
    async with twin.open(api, transport=Faulty("garble")) as client:
        with pytest.raises(TransportError) as raised:
            await client.get_message(UNKNOWN_ID)
    assert isinstance(raised.value.__cause__, json.JSONDecodeError)


async def test_closed_client_refuses_calls(api: Api) -> None:
    """After close()/aclose() a call is TransportError, not httpx's RuntimeError."""
    awaiting = AsyncAuthmailClient(api.url, api.settings.api_key)
    await awaiting.aclose()
    with pytest.raises(TransportError):
        await awaiting.health()
    with AuthmailClient(api.url, api.settings.api_key) as blocking:
        pass
    with pytest.raises(TransportError):
        blocking.health()


# Retries ----------------------------------------------------------------------------


async def test_lost_answer_is_retried_with_the_same_key(api: Api, twin: Twin) -> None:
    """The first answer is lost after the relay sent the mail; the retry carries the same
    Idempotency-Key, gets the stored answer back, and no second mail is sent."""
    faults = Faulty("drop")
    async with twin.open(api, transport=faults) as client:
        outcome = await client.send(**MAIL)
    first, second = faults.idempotency_keys
    assert first is not None
    assert first == second == outcome.idempotency_key
    assert outcome.sent is True
    assert outcome.replayed is True
    assert len(twin.sleeps) == 1
    assert len(api.sink.messages) == 1
    assert [m.id for m in await api.relay.list_messages()] == [outcome.id]


async def test_callers_key_is_used_and_replays(api: Api, twin: Twin) -> None:
    """A caller's idempotency_key goes out as is; calling again returns the first result."""
    faults = Faulty("drop", "drop")
    async with twin.open(api, transport=faults) as client:
        first = await client.create_message(**MAIL, idempotency_key="order-42")
        again = await client.create_message(**MAIL, idempotency_key="order-42")
    assert faults.idempotency_keys == ["order-42"] * 4
    assert again.id == first.id
    assert first.replayed
    assert again.replayed
    assert len(await api.relay.list_messages()) == 1


async def test_lost_cancel_answer_is_not_retried(api_factory: ApiFactory, twin: Twin) -> None:
    """cancel is not idempotent on the relay, so a lost answer is reported, not retried."""
    async with api_factory(run_worker=False) as api:
        faults = Faulty(None, "drop")
        async with twin.open(api, transport=faults) as client:
            created = await client.create_message(**MAIL)
            with pytest.raises(TransportError, match="may or may not"):
                await client.cancel(created.id)
            assert (await client.get_message(created.id)).status is MessageStatus.CANCELLED
    assert len(faults.requests) == 3


async def test_rate_limit_waits_for_retry_after(api: Api, twin: Twin) -> None:
    """429 with a short Retry-After: wait exactly that long, then retry."""
    faults = Faulty(problem(429, "rate_limited", retry_after="2"))
    async with twin.open(api, transport=faults) as client:
        outcome = await client.send(**MAIL)
    assert outcome.sent
    assert twin.sleeps == [2.0]
    assert faults.idempotency_keys[0] == faults.idempotency_keys[1]


async def test_long_retry_after_is_raised_at_once(api_factory: ApiFactory, twin: Twin) -> None:
    """The relay's failure throttle asks for up to a minute: more than max_retry_wait, so
    RateLimitedError(retry_after) is raised without waiting; 401s are never retried."""
    async with api_factory(auth_failure_limit=2) as api:
        for guess in ("wrong-key-1", "wrong-key-2"):  # two guesses: the address is throttled
            async with twin.open(api, guess) as intruder:
                with pytest.raises(AuthenticationError):
                    await intruder.list_messages()
        async with twin.open(api, max_retry_wait=10) as client:
            with pytest.raises(RateLimitedError) as raised:
                await client.list_messages()
    assert 10 < raised.value.retry_after <= 60
    assert raised.value.limit is None  # the throttle is no named limit
    assert twin.sleeps == []


async def test_rate_limited_error_names_the_key_limit(api_factory: ApiFactory, twin: Twin) -> None:
    """The key's requests per minute: ``limit`` from the problem body, ``retry_after``
    from Retry-After, quota and window from RateLimit-Policy."""
    async with (
        api_factory(key_requests_per_minute=1) as api,
        twin.open(api, max_retries=0) as client,
    ):
        await client.list_messages()
        with pytest.raises(RateLimitedError) as raised:
            await client.list_messages()
    error = raised.value
    assert error.limit == "key"
    assert isinstance(error.retry_after, float)
    assert 0 < error.retry_after <= 60
    assert (error.quota, error.window_seconds) == (1, 60)
    assert info_of(error).error_code == "rate_limited"


@pytest.mark.parametrize(
    ("policy", "quota_window"),
    [
        ('"other";q=9;w=9, "domain";q=100;w=900', (100, 900)),
        ('"domain";w=900', (0, 0)),
        (None, (0, 0)),
    ],
)
async def test_rate_limit_policy_is_read_leniently(
    api: Api, twin: Twin, policy: str | None, quota_window: tuple[int, int]
) -> None:
    """The entry of the named limit among several; a missing or partial one is 0/0."""
    body = {"status": 429, "detail": "injected", "error_code": "rate_limited", "limit": "domain"}
    headers = {"Retry-After": "120"} | ({"RateLimit-Policy": policy} if policy else {})
    faults = Faulty(httpx.Response(429, json=body, headers=headers))
    async with twin.open(api, transport=faults) as client:
        with pytest.raises(RateLimitedError) as raised:
            await client.list_messages()
    assert (raised.value.limit, raised.value.retry_after) == ("domain", 120.0)
    assert (raised.value.quota, raised.value.window_seconds) == quota_window


async def test_rate_limited_error_names_the_recipient_limit(
    api_factory: ApiFactory, twin: Twin
) -> None:
    """An auth mail over the recipient limit: too long to wait for, raised at once."""
    async with (
        api_factory(recipient_max_per_window=1, recipient_window_seconds=900) as api,
        twin.open(api) as client,
    ):
        await client.send_otp("ada@example.org", "123456")
        with pytest.raises(RateLimitedError) as raised:
            await client.send_otp("ADA@example.org", "654321")
    error = raised.value
    assert (error.limit, error.quota, error.window_seconds) == ("recipient", 1, 900)
    assert 850 < error.retry_after <= 900
    assert twin.sleeps == []
    assert "654321" not in str(error)


async def test_storage_outage_is_retried_after_retry_after(
    api_factory: ApiFactory, tmp_path: Path, twin: Twin
) -> None:
    """503 storage_unavailable (the database is locked): without retries StorageError; with
    them the client waits Retry-After, the lock is gone, and exactly one message is stored."""
    async with api_factory(db_busy_timeout_ms=100) as api:
        blocker = sqlite3.connect(
            tmp_path / "api.db", isolation_level=None, check_same_thread=False
        )
        try:
            blocker.execute("BEGIN IMMEDIATE")
            async with twin.open(api, max_retries=0) as client:
                with pytest.raises(StorageError):
                    await client.send(**MAIL)
            # Release the lock during the first wait. (On a loaded machine the embedded
            # worker's own claims can still outlast the 100 ms busy timeout once, so a
            # second 503 and a second wait are possible; what matters is Retry-After.)
            twin.on_sleep = lambda seconds: blocker.in_transaction and blocker.execute("ROLLBACK")
            async with twin.open(api) as client:
                outcome = await client.send(**MAIL)
        finally:
            blocker.close()
    assert twin.sleeps[0] == 5.0
    assert set(twin.sleeps) == {5.0}
    assert outcome.sent
    assert len(api.sink.messages) == 1


async def test_refused_connection_is_retried_even_for_cancel(
    api_factory: ApiFactory, twin: Twin
) -> None:
    """A refused connection proves nothing was sent, so every call retries it, cancel too."""
    async with api_factory(run_worker=False) as api:
        faults = Faulty("refuse", None, "refuse")
        async with twin.open(api, transport=faults) as client:
            created = await client.create_message(**MAIL)
            cancelled = await client.cancel(created.id)
    assert cancelled.status is MessageStatus.CANCELLED
    assert twin.sleeps == [0.25, 0.25]
    assert len(faults.requests) == 4
