"""The worker's aiosmtplib session against real aiosmtpd servers.

Same rules as the library sender: STARTTLS done right, no AUTH in clear, verified
certificates, and failures attributed to the correct side of the final dot.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytest.importorskip("aiosmtplib", reason="service tests need the [http] extra")

from authmail_relay.mail.composing import Composed, compose, make_draft
from authmail_relay.smtp.config import SmtpConfig
from authmail_relay.smtp.session import SmtpSession
from authmail_relay.vocabulary import ErrorCode
from tests.support.smtpd import DEFAULT_FROM, SmtpServer, SmtpServerFactory, free_port

USER, PASSWORD = "relay", "s3cret-Pa55!"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def _message(*to: str) -> Composed:
    draft = make_draft(
        from_addr=DEFAULT_FROM, to=list(to or ["bob@example.com"]), subject="Hi", html="<p>Hi</p>"
    )
    return compose(draft, now=NOW)


async def _send(server: SmtpServer, message: Composed | None = None, **config: object):
    session = SmtpSession(server.config(**config))
    message = message or _message()
    try:
        return await session.send(message.envelope_from, message.recipients, message.raw)
    finally:
        await session.close()


async def test_starttls_then_ehlo_again_then_auth(smtp_server: SmtpServerFactory) -> None:
    """EHLO, STARTTLS, EHLO over TLS; AUTH and the mail only after the upgrade."""
    server = smtp_server(tls="starttls", auth=(USER, PASSWORD))
    message = _message()
    outcome = await _send(server, message)
    assert outcome is not None
    assert outcome.sent
    assert outcome.smtp_code == 250
    assert [event for event in server.handler.events if event[0] != "RSET"] == [
        ("EHLO", False),
        ("STARTTLS", True),
        ("EHLO", True),
        ("AUTH", True),
        ("MAIL", True),
        ("RCPT", True),
        ("DATA", True),
    ]
    (received,) = server.messages
    assert received.raw.rstrip(b"\r\n") == message.raw.rstrip(b"\r\n")


async def test_implicit_tls_with_auth(smtp_server: SmtpServerFactory) -> None:
    """Port-465 style TLS from the first byte."""
    server = smtp_server(tls="implicit", auth=(USER, PASSWORD))
    outcome = await _send(server)
    assert outcome is not None
    assert outcome.sent
    assert server.messages[0].tls


async def test_wrong_password(smtp_server: SmtpServerFactory) -> None:
    """A 535 is smtp_auth_failed and the password never shows up in the outcome."""
    server = smtp_server(tls="starttls", auth=(USER, PASSWORD))
    outcome = await _send(server, password="wrong-" + PASSWORD)
    assert outcome is not None
    assert outcome.error_code is ErrorCode.SMTP_AUTH_FAILED
    assert PASSWORD not in repr(outcome)
    assert not server.messages


async def test_untrusted_certificate_is_refused(smtp_server: SmtpServerFactory) -> None:
    """A certificate from an unknown CA fails the handshake: nothing is sent."""
    server = smtp_server(tls="starttls", untrusted=True, auth=(USER, PASSWORD))
    outcome = await _send(server)
    assert outcome is not None
    assert outcome.error_code is ErrorCode.TLS_ERROR
    assert ("AUTH", False) not in server.handler.events
    assert not server.messages


async def test_missing_starttls_is_refused_unless_tls_is_off(
    smtp_server: SmtpServerFactory,
) -> None:
    """No silent downgrade: without STARTTLS the session stops before MAIL."""
    server = smtp_server(tls="none")
    refused = await _send(server, tls="starttls", ca_file=None)
    assert refused is not None
    assert refused.error_code is ErrorCode.STARTTLS_UNSUPPORTED
    assert not server.messages
    allowed = await _send(server, tls="none")
    assert allowed is not None
    assert allowed.sent


async def test_auth_in_clear_is_refused(smtp_server: SmtpServerFactory) -> None:
    """Credentials never cross a plaintext connection unless explicitly allowed."""
    server = smtp_server(tls="none", auth=(USER, PASSWORD), auth_require_tls=False)
    outcome = await _send(server)
    assert outcome is not None
    assert outcome.error_code is ErrorCode.PLAINTEXT_AUTH_REFUSED
    assert all(command != "AUTH" for command, _ in server.handler.events)
    allowed = await _send(server, allow_plaintext_auth=True)
    assert allowed is not None
    assert allowed.sent


@pytest.mark.parametrize(
    ("stage", "reply", "code", "retryable"),
    [
        ("mail", "451 4.3.0 try later", ErrorCode.SMTP_TRANSIENT, True),
        ("mail", "553 5.7.1 sender rejected", ErrorCode.SMTP_REJECTED, False),
        ("data", "554 5.3.0 no DATA today", ErrorCode.SMTP_REJECTED, False),
        ("final_dot", "452 4.3.1 out of space", ErrorCode.SMTP_TRANSIENT, True),
        ("final_dot", "554 5.7.0 spam", ErrorCode.SMTP_REJECTED, False),
    ],
)
async def test_reply_codes_are_classified(
    smtp_sink: SmtpServer, stage: str, reply: str, code: ErrorCode, retryable: bool
) -> None:
    """4xx is transient, 5xx permanent, at every stage."""
    smtp_sink.handler.reply_at(stage, reply)
    outcome = await _send(smtp_sink)
    assert outcome is not None
    assert (outcome.error_code, outcome.retryable, outcome.ambiguous) == (code, retryable, False)
    assert outcome.smtp_code == int(reply[:3])


async def test_all_recipients_refused(smtp_sink: SmtpServer) -> None:
    """Every RCPT refused is recipient_refused, not unknown, and nothing is sent."""
    smtp_sink.handler.refuse_recipient("a@example.com")
    smtp_sink.handler.refuse_recipient("b@example.com")
    outcome = await _send(smtp_sink, _message("a@example.com", "b@example.com"))
    assert outcome is not None
    assert outcome.error_code is ErrorCode.RECIPIENT_REFUSED
    assert not outcome.retryable
    assert outcome.refused == ("a@example.com", "b@example.com")
    assert not smtp_sink.messages


async def test_partial_refusal_is_sent(smtp_sink: SmtpServer) -> None:
    """Some recipients refused: the others got it, so the message counts as sent."""
    smtp_sink.handler.refuse_recipient("b@example.com")
    outcome = await _send(smtp_sink, _message("a@example.com", "b@example.com"))
    assert outcome is not None
    assert outcome.sent
    assert outcome.refused == ("b@example.com",)
    assert smtp_sink.messages[0].rcpt_tos == ("a@example.com",)


async def test_disconnect_before_data_is_not_uncertain(smtp_sink: SmtpServer) -> None:
    """A hang-up at MAIL means nothing was delivered: smtp_connection, retryable."""
    smtp_sink.handler.disconnect_at("mail")
    outcome = await _send(smtp_sink)
    assert outcome is not None
    assert (outcome.error_code, outcome.retryable, outcome.ambiguous) == (
        ErrorCode.SMTP_CONNECTION,
        True,
        False,
    )


async def test_disconnect_after_final_dot_is_uncertain(smtp_sink: SmtpServer) -> None:
    """The server kept the message but never answered: ambiguous, retryable."""
    smtp_sink.handler.disconnect_at("final_dot", times=1)
    outcome = await _send(smtp_sink)
    assert outcome is not None
    assert (outcome.error_code, outcome.retryable, outcome.ambiguous) == (
        ErrorCode.SMTP_DISCONNECT_UNCERTAIN,
        True,
        True,
    )
    assert len(smtp_sink.handler.data_received) == 1


async def test_reply_timeout_after_final_dot_is_uncertain(smtp_sink: SmtpServer) -> None:
    """A silent server after the final dot is as uncertain as a hang-up."""
    smtp_sink.handler.delay_at("final_dot", 2.0, times=1)
    outcome = await _send(smtp_sink, timeout=0.5)
    assert outcome is not None
    assert outcome.error_code is ErrorCode.SMTP_DISCONNECT_UNCERTAIN


async def test_connection_refused() -> None:
    """Nobody listening is smtp_connection (retryable)."""
    config = SmtpConfig(
        host="127.0.0.1", port=free_port(), tls="none", from_addr=DEFAULT_FROM, timeout=2
    )
    session = SmtpSession(config)
    message = _message()
    outcome = await session.send(message.envelope_from, message.recipients, message.raw)
    assert outcome is not None
    assert (outcome.error_code, outcome.retryable) == (ErrorCode.SMTP_CONNECTION, True)


async def test_connection_is_reused_and_reopened_when_dropped(smtp_sink: SmtpServer) -> None:
    """Consecutive sends share one connection (RSET between); a dropped one is replaced."""
    session = SmtpSession(smtp_sink.config())
    message = _message()
    try:
        for _ in range(3):
            outcome = await session.send(message.envelope_from, message.recipients, message.raw)
            assert outcome is not None
            assert outcome.sent
        assert [c for c, _ in smtp_sink.handler.events].count("EHLO") == 1
        smtp_sink.handler.disconnect_at("mail", times=1)
        failed = await session.send(message.envelope_from, message.recipients, message.raw)
        assert failed is not None
        assert failed.error_code is ErrorCode.SMTP_CONNECTION
        again = await session.send(message.envelope_from, message.recipients, message.raw)
        assert again is not None
        assert again.sent
        assert [c for c, _ in smtp_sink.handler.events].count("EHLO") == 2
        assert len(smtp_sink.messages) == 4
    finally:
        await session.close()


async def test_before_mail_veto_sends_nothing(smtp_sink: SmtpServer) -> None:
    """When the pre-MAIL check says no (expired, lease lost), no transaction starts."""
    session = SmtpSession(smtp_sink.config())
    message = _message()

    async def veto() -> bool:
        return False

    try:
        outcome = await session.send(
            message.envelope_from, message.recipients, message.raw, before_mail=veto
        )
    finally:
        await session.close()
    assert outcome is None
    assert all(command != "MAIL" for command, _ in smtp_sink.handler.events)
