"""The MCP room's pure parts: allowed hosts and origins from settings, the relay settings
the stdio server reads, and how relay errors become tool errors."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp", reason="the MCP tests need the [mcp] extra")

from authmail_relay.exceptions import (
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransportError,
)
from authmail_relay.mcp.failures import failure, tool_failure
from authmail_relay.mcp.transport import allowed_hosts, allowed_origins
from authmail_relay.settings import Settings


def test_hosts_are_loopback_and_host_and_the_configured_ones() -> None:
    settings = Settings.from_env(
        {"HOST": "10.0.0.5", "MCP_ALLOWED_HOSTS": "relay.example.com, mcp.example.com:8443"}
    )
    hosts = allowed_hosts(settings)
    assert {"127.0.0.1", "127.0.0.1:*", "localhost:*", "[::1]:*"} <= set(hosts)
    assert {"10.0.0.5", "10.0.0.5:*", "relay.example.com", "relay.example.com:*"} <= set(hosts)
    assert "mcp.example.com:8443" in hosts
    assert "mcp.example.com:*" not in hosts  # a port given is the only port


def test_a_wildcard_bind_address_is_not_a_host_name() -> None:
    wildcard = "0.0.0.0"  # noqa: S104 - a setting's value, nothing binds here
    hosts = allowed_hosts(Settings.from_env({"HOST": wildcard}))
    assert not any(host.startswith(wildcard) for host in hosts)


def test_origins_gain_the_form_browsers_send() -> None:
    settings = Settings.from_env({"MCP_ALLOWED_ORIGINS": "https://agents.example.com"})
    origins = allowed_origins(settings)
    assert "https://agents.example.com" in origins
    assert "https://agents.example.com:443" in origins
    assert "http://localhost:*" in origins
    assert not any(origin.startswith("https://evil") for origin in origins)


@pytest.mark.parametrize(
    "raw", ["*", "relay.example.com:0", "relay.example.com:99999", "a/b", "user@host", "x y"]
)
def test_bad_allowed_hosts_are_configuration_errors(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="MCP_ALLOWED_HOSTS"):
        Settings.from_env({"MCP_ALLOWED_HOSTS": raw})


@pytest.mark.parametrize(
    "raw",
    [
        "http://relay.example.com",
        "ftp://relay.example.com",
        "https://relay.example.com?x=1",
        "https://user@relay.example.com",
        "https://relay.example.com:99999",
        "relay.example.com",
    ],
)
def test_the_relay_url_must_be_https_or_loopback(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTHMAIL_URL"):
        Settings.from_env({"AUTHMAIL_URL": raw})


def test_the_relay_url_and_key_are_read_and_the_key_is_not_shown() -> None:
    settings = Settings.from_env(
        {"AUTHMAIL_URL": "http://127.0.0.1:8000/", "AUTHMAIL_API_KEY": "amr_secret_value"}
    )
    assert settings.require_relay_url() == ("http://127.0.0.1:8000", "amr_secret_value")
    assert "amr_secret_value" not in repr(settings)
    with pytest.raises(ConfigurationError, match="AUTHMAIL_URL and AUTHMAIL_API_KEY"):
        Settings.from_env({"AUTHMAIL_URL": "https://relay.example.com"}).require_relay_url()


def test_mcp_is_off_by_default() -> None:
    assert Settings.from_env({}).mcp_enabled is False
    assert Settings.from_env({"MCP_ENABLED": "true"}).mcp_enabled is True


def test_a_rate_limit_tells_when_to_retry() -> None:
    result = tool_failure(RateLimitedError("too many requests", retry_after=2.2))
    assert result.is_error
    assert result.structured_content == {
        "error_code": "rate_limited",
        "message": "too many requests",
        "retry_after": 3,
    }
    assert result.content[0].text == "rate_limited: too many requests (retry after 3 s)"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PermissionDeniedError("no"), "forbidden"),
        (PermissionDeniedError("no", error_code="self_approval"), "self_approval"),
        (NotFoundError("no such message"), "not_found"),
        (TransportError("connection refused"), "relay_unreachable"),
    ],
)
def test_errors_without_an_answer_get_their_class_code(error: Exception, code: str) -> None:
    assert tool_failure(error).structured_content["error_code"] == code  # type: ignore[arg-type,index]


def test_field_errors_name_fields_and_a_message_is_bounded() -> None:
    result = failure("validation_error", "x" * 5000, fields={"to": "is not an address"})
    body = result.structured_content
    assert body is not None
    assert body["fields"] == ["to"]
    assert len(body["message"]) == 500
    assert "to: is not an address" in result.content[0].text  # type: ignore[union-attr]
