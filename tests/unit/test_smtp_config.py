"""SmtpConfig: TLS defaults, the use_tls alias, validation and SMTP_* variables."""

from __future__ import annotations

import ssl

import pytest

from authmail_relay.exceptions import ConfigurationError
from authmail_relay.sender import SmtpConfig
from authmail_relay.smtp.config import parse_bool
from authmail_relay.vocabulary import TlsMode

pytestmark = pytest.mark.library


@pytest.mark.parametrize(
    ("kwargs", "mode"),
    [
        ({}, TlsMode.STARTTLS),
        ({"port": 587}, TlsMode.STARTTLS),
        ({"port": 25}, TlsMode.STARTTLS),
        ({"port": 465}, TlsMode.IMPLICIT),
        ({"port": 465, "use_tls": True}, TlsMode.IMPLICIT),
        ({"port": 587, "use_tls": False}, TlsMode.NONE),
        ({"port": 465, "use_tls": False}, TlsMode.NONE),
        ({"tls": "none"}, TlsMode.NONE),
        ({"tls": " IMPLICIT ", "port": 2465}, TlsMode.IMPLICIT),
        ({"tls": TlsMode.STARTTLS, "port": 465}, TlsMode.STARTTLS),
        ({"tls": "", "port": 465}, TlsMode.IMPLICIT),
        ({"tls": "none", "use_tls": False}, TlsMode.NONE),
    ],
)
def test_tls_mode_resolution(kwargs: dict[str, object], mode: TlsMode) -> None:
    config = SmtpConfig(host="smtp.example.com", **kwargs)  # type: ignore[arg-type]
    assert config.tls_mode is mode
    assert config.tls is mode


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tls": "ssl"},
        {"tls": "starttls", "use_tls": False},
        {"port": 0},
        {"port": 65536},
        {"timeout": 0},
        {"timeout": -1},
        {"host": ""},
        {"host": "smtp.example.com\r\nX"},
        {"host": "smtp example.com"},
    ],
)
def test_invalid_settings(kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {"host": "smtp.example.com", **kwargs}
    with pytest.raises(ConfigurationError):
        SmtpConfig(**values)  # type: ignore[arg-type]


def test_defaults_and_credentials() -> None:
    config = SmtpConfig(host="smtp.example.com", user="me@example.com", password="pw")
    assert config.from_addr == "me@example.com"  # defaults to the user
    assert config.has_credentials
    assert not SmtpConfig(host="h.example", user="me").has_credentials
    assert config.timeout == 10.0
    assert not config.allow_plaintext_auth
    assert "pw" not in repr(config)


def test_with_changes_revalidates() -> None:
    config = SmtpConfig(host="smtp.example.com", port=465)
    assert config.with_changes(port=587, tls=None).tls_mode is TlsMode.STARTTLS
    with pytest.raises(ConfigurationError):
        config.with_changes(port=-1)


def test_from_env() -> None:
    config = SmtpConfig.from_env(
        {
            "SMTP_HOST": "smtp.example.com",
            "SMTP_PORT": "465",
            "SMTP_USER": "apikey",
            "SMTP_PASSWORD": "secret",
            "SMTP_FROM": "Acme <no-reply@acme.example>",
            "SMTP_TIMEOUT": "2.5",
            "SMTP_ALLOW_PLAINTEXT_AUTH": "yes",
            "SMTP_LOCAL_HOSTNAME": "mail.acme.example",
        }
    )
    assert config.port == 465
    assert config.tls_mode is TlsMode.IMPLICIT
    assert config.user == "apikey"
    assert config.password == "secret"
    assert config.from_addr == "Acme <no-reply@acme.example>"
    assert config.timeout == 2.5
    assert config.allow_plaintext_auth
    assert config.local_hostname == "mail.acme.example"


def test_from_env_tls_variables() -> None:
    base = {"SMTP_HOST": "smtp.example.com"}
    assert SmtpConfig.from_env(base).tls_mode is TlsMode.STARTTLS
    assert SmtpConfig.from_env({**base, "SMTP_USE_TLS": "false"}).tls_mode is TlsMode.NONE
    assert SmtpConfig.from_env({**base, "SMTP_USE_TLS": "true"}).tls_mode is TlsMode.STARTTLS
    both = {**base, "SMTP_TLS": "implicit", "SMTP_USE_TLS": "false"}
    assert SmtpConfig.from_env(both).tls_mode is TlsMode.IMPLICIT  # SMTP_TLS wins


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"SMTP_HOST": "  "},
        {"SMTP_HOST": "h.example", "SMTP_PORT": "smtp"},
        {"SMTP_HOST": "h.example", "SMTP_TIMEOUT": "soon"},
        {"SMTP_HOST": "h.example", "SMTP_USE_TLS": "maybe"},
        {"SMTP_HOST": "h.example", "SMTP_TLS": "sometimes"},
    ],
)
def test_from_env_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        SmtpConfig.from_env(env)


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("ON", True), ("no", False), (" 0 ", False)]
)
def test_parse_bool(raw: str, value: bool) -> None:
    assert parse_bool("X", raw) is value


def test_ssl_context_verifies_and_loads_the_ca_file(smtp_ca_file: str) -> None:
    context = SmtpConfig(host="h.example", ca_file=smtp_ca_file).ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    subjects = [str(cert.get("subject")) for cert in context.get_ca_certs()]
    assert any("trustme" in subject for subject in subjects)


def test_unreadable_ca_file() -> None:
    config = SmtpConfig(host="h.example", ca_file="/nonexistent/ca.pem")
    with pytest.raises(ConfigurationError):
        config.ssl_context()
