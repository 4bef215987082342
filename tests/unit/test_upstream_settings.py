"""Numbered upstreams (SMTP2_* … SMTP9_*) and the pool and breaker settings."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ConfigurationError
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import TlsMode


def test_numbered_upstreams_follow_the_first_in_number_order() -> None:
    settings = Settings.from_env(
        {
            "SMTP_HOST": "primary.example",
            "SMTP_USER": "first",
            "SMTP_PASSWORD": "first-secret",
            "SMTP_TIMEOUT": "4",
            "SMTP3_HOST": "third.example",
            "SMTP2_HOST": "second.example",
            "SMTP2_PORT": "465",
            "SMTP2_USER": "second",
            "SMTP2_PASSWORD": "second-secret",
        }
    )
    hosts = [config.host for config in settings.upstreams]
    assert hosts == ["primary.example", "second.example", "third.example"]
    second, third = settings.smtp_fallbacks
    assert second.tls_mode is TlsMode.IMPLICIT
    assert second.user == "second"
    # Credentials are never inherited; the relay-wide timeout is.
    assert third.user == ""
    assert third.password == ""
    assert third.timeout == 4.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_HOST": "a", "SMTP2_PORT": "25"}, "SMTP2_PORT is set but SMTP2_HOST is not"),
        ({"SMTP2_HOST": "b"}, "SMTP2_HOST is set but SMTP_HOST is not"),
        ({"SMTP_HOST": "a", "SMTP2_HOST": "b", "SMTP2_HOTS": "c"}, "SMTP2_HOTS is not a setting"),
        ({"SMTP_HOST": "a", "SMTP2_HOST": "b", "SMTP2_PORT": "x"}, "SMTP2_*"),
    ],
)
def test_bad_numbered_upstreams_fail_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("*", r"\*")):
        Settings.from_env(env)


def test_pool_and_lane_settings() -> None:
    assert Settings.from_env({"SMTP_HOST": "a"}).pool_size == 4
    settings = Settings.from_env({"SMTP_HOST": "a", "WORKER_CONCURRENCY": "3"})
    assert settings.pool_size == 3  # never more connections than the worker can use
    assert settings.high_priority_reserved == 1
    assert settings.low_priority_share == 0.2
    tuned = Settings.from_env(
        {
            "SMTP_HOST": "a",
            "SMTP_POOL_SIZE": "2",
            "LOW_PRIORITY_SHARE": "0.5",
            "SMTP_BREAKER_FAILURES": "5",
            "SMTP_BREAKER_COOLDOWN_SECONDS": "2.5",
        }
    )
    assert tuned.pool_size == 2
    assert tuned.low_priority_share == 0.5
    assert tuned.smtp_breaker_failures == 5
    assert tuned.smtp_breaker_cooldown_seconds == 2.5
    with pytest.raises(ConfigurationError, match="LOW_PRIORITY_SHARE"):
        Settings.from_env({"LOW_PRIORITY_SHARE": "1"})
