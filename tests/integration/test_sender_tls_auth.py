"""TLS and AUTH against real aiosmtpd servers: the order of the conversation matters."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ConfigurationError
from authmail_relay.sender import SmtpConfig, SmtpSender
from authmail_relay.vocabulary import ErrorCode, TlsMode
from tests.support.smtpd import SmtpServerFactory

pytestmark = pytest.mark.library

USER = "alice"
PASSWORD = "correct horse 9!"
HTML = "<p>Hello</p>"


def test_starttls_upgrades_before_auth_and_mail(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="starttls", auth=(USER, PASSWORD))

    result = SmtpSender(server.config()).send("bob@example.com", "Hi", HTML)

    assert result, result
    assert result.status == "sent"
    assert result.error_code is None
    # EHLO, then STARTTLS, then EHLO again over TLS; credentials and mail only after it.
    assert server.handler.events == [
        ("EHLO", False),
        ("STARTTLS", True),
        ("EHLO", True),
        ("AUTH", True),
        ("MAIL", True),
        ("RCPT", True),
        ("DATA", True),
    ]
    (message,) = server.messages
    assert message.tls
    assert message.authenticated
    assert message.rcpt_tos == ("bob@example.com",)


def test_starttls_required_by_the_server(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="starttls", require_starttls=True)

    result = SmtpSender(server.config()).send("bob@example.com", "Hi", HTML)

    assert result
    assert server.messages[0].tls


def test_implicit_tls_with_auth(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="implicit", auth=(USER, PASSWORD))
    config = server.config()
    assert config.tls_mode is TlsMode.IMPLICIT

    result = SmtpSender(config).send("bob@example.com", "Hi", HTML)

    assert result, result
    assert all(tls for _, tls in server.handler.events)
    assert server.messages[0].authenticated


def test_wrong_password_is_auth_failed_and_never_echoed(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="starttls", auth=(USER, PASSWORD))
    wrong = "hunter2-not-it"

    result = SmtpSender(server.config(password=wrong)).send("bob@example.com", "Hi", HTML)

    assert not result
    assert result.error_code == ErrorCode.SMTP_AUTH_FAILED
    assert result.smtp_code == 535
    assert not result.refused
    for secret in (wrong, PASSWORD):
        assert secret not in repr(result)
    assert "MAIL" not in server.handler.commands
    assert server.messages == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_untrusted_certificate_is_refused(smtp_server: SmtpServerFactory, tls: str) -> None:
    server = smtp_server(tls=tls, untrusted=True, auth=(USER, PASSWORD))

    result = SmtpSender(server.config()).send("bob@example.com", "Hi", HTML)

    assert not result
    assert result.error_code == ErrorCode.TLS_ERROR
    assert "certificate" in (result.error_message or "")
    assert PASSWORD not in repr(result)
    # Nothing was said after the failed handshake: no credentials, no mail.
    assert not {"AUTH", "MAIL"} & set(server.handler.commands)
    assert server.messages == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_certificate_for_another_host_is_refused(smtp_server: SmtpServerFactory, tls: str) -> None:
    # Issued by the trusted CA, but not for 127.0.0.1, the address the client dials.
    server = smtp_server(tls=tls, certificate_names=("mail.elsewhere.example",))

    result = SmtpSender(server.config()).send("bob@example.com", "Hi", HTML)

    assert result.error_code == ErrorCode.TLS_ERROR
    assert server.messages == []


def test_server_without_starttls_is_refused(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server()  # plain, no STARTTLS offered

    result = SmtpSender(server.config(tls="starttls")).send("bob@example.com", "Hi", HTML)

    assert not result
    assert result.error_code == ErrorCode.STARTTLS_UNSUPPORTED
    assert server.handler.commands == ["EHLO"]
    assert server.messages == []


def test_tls_mode_none_sends_in_clear(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server()

    result = SmtpSender(server.config(tls="none")).send("bob@example.com", "Hi", HTML)

    assert result
    assert not server.messages[0].tls


def test_use_tls_false_is_the_old_spelling_of_none(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server()
    config = server.config(tls=None, use_tls=False)
    assert config.tls_mode is TlsMode.NONE

    assert SmtpSender(config).send("bob@example.com", "Hi", HTML)


def test_starttls_is_the_default_on_587_and_is_never_skipped(
    smtp_server: SmtpServerFactory,
) -> None:
    server = smtp_server()
    config = server.config(tls=None)
    assert config.tls_mode is TlsMode.STARTTLS

    result = SmtpSender(config).send("bob@example.com", "Hi", HTML)

    assert result.error_code == ErrorCode.STARTTLS_UNSUPPORTED


def test_auth_over_plaintext_is_refused(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(auth=(USER, PASSWORD), auth_require_tls=False)

    result = SmtpSender(server.config(tls="none")).send("bob@example.com", "Hi", HTML)

    assert not result
    assert result.error_code == ErrorCode.PLAINTEXT_AUTH_REFUSED
    assert "AUTH" not in server.handler.commands
    assert server.messages == []


def test_auth_over_plaintext_when_explicitly_allowed(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(auth=(USER, PASSWORD), auth_require_tls=False)
    config = server.config(tls="none", allow_plaintext_auth=True)

    result = SmtpSender(config).send("bob@example.com", "Hi", HTML)

    assert result, result
    assert server.messages[0].authenticated
    assert not server.messages[0].tls


def test_server_offering_no_auth(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="starttls")
    server.handler.hide_extension("AUTH")

    result = SmtpSender(server.config(user=USER, password=PASSWORD)).send(
        "bob@example.com", "Hi", HTML
    )

    assert result.error_code == ErrorCode.SMTP_AUTH_UNSUPPORTED
    assert server.messages == []


def test_no_credentials_means_no_auth(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(tls="starttls")

    assert SmtpSender(server.config()).send("bob@example.com", "Hi", HTML)
    assert "AUTH" not in server.handler.commands


def test_smtputf8_address_needs_the_extension(smtp_server: SmtpServerFactory) -> None:
    with_utf8 = smtp_server(smtputf8=True)
    without = smtp_server(smtputf8=False)

    sent = SmtpSender(with_utf8.config()).send("jürgen@example.com", "Hi", HTML)
    refused = SmtpSender(without.config()).send("jürgen@example.com", "Hi", HTML)

    assert sent, sent
    assert with_utf8.messages[0].rcpt_tos == ("jürgen@example.com",)
    assert "SMTPUTF8" in with_utf8.messages[0].mail_options
    assert refused.error_code == ErrorCode.SMTPUTF8_UNSUPPORTED
    assert "MAIL" not in without.handler.commands


def test_idn_domain_is_sent_as_a_label(smtp_server: SmtpServerFactory) -> None:
    server = smtp_server(smtputf8=False)

    result = SmtpSender(server.config()).send("anna@bücher.example", "Hi", HTML)

    assert result
    assert server.messages[0].rcpt_tos == ("anna@xn--bcher-kva.example",)


def test_unreadable_ca_file_is_a_configuration_error() -> None:
    config = SmtpConfig(host="127.0.0.1", ca_file="/nonexistent/ca.pem")

    with pytest.raises(ConfigurationError):
        SmtpSender(config)
