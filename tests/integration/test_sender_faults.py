"""How SMTP failures are classified and retried, against a misbehaving aiosmtpd server."""

from __future__ import annotations

from typing import Any

import pytest

from authmail_relay.sender import SendResult, SmtpSender
from authmail_relay.vocabulary import ErrorCode
from tests.support.smtpd import HOST, SmtpServer, SmtpServerFactory, free_port

pytestmark = pytest.mark.library

HTML = "<p>Hello</p>"


def send(server: SmtpServer, *recipients: str, timeout: float = 5.0, **options: Any) -> SendResult:
    """Send one small mail to ``server`` with a sender built from ``options``."""
    sender = SmtpSender(server.config(timeout=timeout), **options)
    return sender.send(list(recipients) or "bob@example.com", "Hi", HTML)


def test_temporary_failure_at_mail(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.reply_at("mail", "451 4.3.0 Try again later")

    result = send(smtp_sink)

    assert not result
    assert result.error_code == ErrorCode.SMTP_TRANSIENT
    assert result.smtp_code == 451
    assert result.attempts == 1
    assert smtp_sink.messages == []


def test_transient_failure_is_retried_with_identical_bytes(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.reply_at("final_dot", "451 4.7.1 Greylisted", times=1)
    sleeps: list[float] = []

    result = send(smtp_sink, max_retries=2, sleep=sleeps.append, rand=lambda: 0.5)

    assert result, result
    assert result.attempts == 2
    assert sleeps == [1.0]
    first, second = smtp_sink.handler.data_received
    assert first == second  # same bytes, same Message-ID
    assert f"Message-ID: {result.message_id}".encode() in first
    assert len(smtp_sink.messages) == 1


def test_retries_stop_after_max_retries(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.reply_at("rcpt", "450 4.2.0 Mailbox busy")
    sleeps: list[float] = []

    result = send(smtp_sink, max_retries=3, sleep=sleeps.append, backoff_seconds=(2, 4))

    assert result.error_code == ErrorCode.RECIPIENT_REFUSED
    assert result.attempts == 4
    assert len(sleeps) == 3
    assert 1.5 <= sleeps[0] <= 2.5
    assert all(3.0 <= s <= 5.0 for s in sleeps[1:])  # the last delay repeats


def test_permanent_rejection_after_data(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.reply_at("final_dot", "554 5.7.1 Message rejected as spam")

    result = send(smtp_sink, max_retries=3, sleep=lambda _: None)

    assert result.error_code == ErrorCode.SMTP_REJECTED
    assert result.smtp_code == 554
    assert result.smtp_reply == "5.7.1 Message rejected as spam"
    assert result.attempts == 1  # permanent: never retried
    assert smtp_sink.messages == []


def test_permanent_rejection_of_the_data_command(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.reply_at("data", "554 5.5.1 No valid recipients")

    result = send(smtp_sink)

    assert result.error_code == ErrorCode.SMTP_REJECTED
    assert smtp_sink.handler.data_received == []


def test_every_recipient_refused(smtp_sink: SmtpServer) -> None:
    for address in ("a@example.com", "b@example.com"):
        smtp_sink.handler.refuse_recipient(address)

    result = send(smtp_sink, "a@example.com", "b@example.com")

    assert not result
    assert result.error_code == ErrorCode.RECIPIENT_REFUSED
    assert result.refused == ("a@example.com", "b@example.com")
    assert result.smtp_code == 550
    assert "DATA" not in smtp_sink.handler.commands
    assert smtp_sink.messages == []


def test_some_recipients_refused(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.refuse_recipient("gone@example.com")

    result = send(smtp_sink, "ok@example.com", "gone@example.com")

    assert result  # the mail went out, to some
    assert result.status == "sent"
    assert result.error_code == ErrorCode.RECIPIENT_REFUSED
    assert result.refused == ("gone@example.com",)
    assert smtp_sink.messages[0].rcpt_tos == ("ok@example.com",)


def test_disconnect_at_mail_is_a_connection_error(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.disconnect_at("mail")

    result = send(smtp_sink)

    assert result.error_code == ErrorCode.SMTP_CONNECTION
    assert smtp_sink.messages == []


def test_disconnect_before_the_final_dot_is_retried(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.disconnect_at("data", times=1)

    result = send(smtp_sink, max_retries=1, sleep=lambda _: None)

    assert result, result
    assert result.attempts == 2
    assert len(smtp_sink.messages) == 1


def test_disconnect_during_greeting_exchange(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.disconnect_at("ehlo")

    assert send(smtp_sink).error_code == ErrorCode.SMTP_CONNECTION


def test_disconnect_after_the_final_dot_is_uncertain(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.disconnect_at("final_dot")

    result = send(smtp_sink, max_retries=3, sleep=lambda _: None)

    assert not result
    assert result.error_code == ErrorCode.SMTP_DISCONNECT_UNCERTAIN
    assert result.attempts == 1  # not retried: it may have been delivered
    assert len(smtp_sink.messages) == 1  # ...and indeed it was
    assert result.message_id is not None


def test_uncertain_outcome_retried_only_when_asked(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.disconnect_at("final_dot", times=1)

    result = send(smtp_sink, max_retries=1, retry_uncertain=True, sleep=lambda _: None)

    assert result
    assert result.attempts == 2
    first, second = smtp_sink.messages  # the documented price: a duplicate
    assert first.raw == second.raw


def test_reply_timeout_after_the_final_dot_is_uncertain(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.delay_at("final_dot", 3.0)

    result = send(smtp_sink, timeout=0.5)

    assert result.error_code == ErrorCode.SMTP_DISCONNECT_UNCERTAIN
    assert len(smtp_sink.messages) == 1


def test_timeout_before_data_is_a_timeout(smtp_sink: SmtpServer) -> None:
    smtp_sink.handler.delay_at("mail", 3.0)

    result = send(smtp_sink, timeout=0.5)

    assert result.error_code == ErrorCode.SMTP_TIMEOUT
    assert smtp_sink.messages == []


def test_connection_refused(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server()
    config = server.config(port=free_port())  # nothing listens there

    result = SmtpSender(config).send("bob@example.com", "Hi", HTML)

    assert result.error_code == ErrorCode.SMTP_CONNECTION
    assert f"{HOST}:{config.port}" in (result.error_message or "")
    assert result.attempts == 1


def test_connection_refused_is_retried(smtp_server: SmtpServerFactory) -> None:
    config = smtp_server().config(port=free_port())
    sleeps: list[float] = []

    result = SmtpSender(config, max_retries=2, sleep=sleeps.append).send(
        "b@example.com", "Hi", HTML
    )

    assert result.error_code == ErrorCode.SMTP_CONNECTION
    assert result.attempts == 3
    assert len(sleeps) == 2


def test_plain_client_against_implicit_tls_server(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="implicit")

    result = SmtpSender(server.config(tls="none", timeout=1.0)).send("b@example.com", "Hi", HTML)

    assert not result
    assert result.error_code in (ErrorCode.SMTP_CONNECTION, ErrorCode.SMTP_TIMEOUT)


def test_implicit_tls_client_against_plain_server(smtp_sink: SmtpServer) -> None:
    config = smtp_sink.config(tls="implicit", timeout=1.0)

    result = SmtpSender(config).send("b@example.com", "Hi", HTML)

    assert result.error_code in (ErrorCode.TLS_ERROR, ErrorCode.SMTP_TIMEOUT)


@pytest.mark.parametrize("attempt", [1, 2, 3, 7])
def test_retry_delay_jitter_bounds(smtp_sink: SmtpServer, attempt: int) -> None:
    low = SmtpSender(smtp_sink.config(), backoff_seconds=(1, 5, 25), rand=lambda: 0.0)
    high = SmtpSender(smtp_sink.config(), backoff_seconds=(1, 5, 25), rand=lambda: 1.0)
    base = (1, 5, 25)[min(attempt, 3) - 1]

    assert low.retry_delay(attempt) == pytest.approx(base * 0.75)
    assert high.retry_delay(attempt) == pytest.approx(base * 1.25)
