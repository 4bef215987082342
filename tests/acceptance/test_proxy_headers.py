"""``X-Forwarded-For`` in a real ``serve`` process: ignored unless ``FORWARDED_ALLOW_IPS``
names the proxy, so a client cannot pick the address the failure throttle counts."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="service tests need the [http] extra")

from tests.support.processes import running_service
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow
API_KEY = "proxy-test-key-0123456789abcdef"
LIMIT = 10


def _guess(url: str, forwarded_for: str) -> int:
    headers = {
        "Authorization": f"Bearer wrong-{secrets.token_hex(12)}",
        "X-Forwarded-For": forwarded_for,
    }
    return httpx.get(f"{url}/v1/messages", headers=headers, timeout=10).status_code


def test_a_spoofed_forwarded_for_does_not_dodge_the_throttle(
    tmp_path: Path, smtp_sink: SmtpServer
) -> None:
    """Default settings: 200 wrong keys, each claiming another address, are throttled as
    the one peer they come from."""
    with running_service(tmp_path, smtp_sink, API_KEY=API_KEY, AUTH_FAILURE_LIMIT=str(LIMIT)) as (
        url,
        _,
    ):
        statuses = [_guess(url, f"10.9.{i // 250}.{i % 250}") for i in range(200)]
    assert statuses[:LIMIT] == [401] * LIMIT
    assert statuses.count(429) == 200 - LIMIT


def test_forwarded_for_counts_when_the_proxy_is_named(
    tmp_path: Path, smtp_sink: SmtpServer
) -> None:
    """FORWARDED_ALLOW_IPS=127.0.0.1: the header names the client, so each forwarded
    address has its own failure budget."""
    with running_service(
        tmp_path,
        smtp_sink,
        API_KEY=API_KEY,
        AUTH_FAILURE_LIMIT=str(LIMIT),
        FORWARDED_ALLOW_IPS="127.0.0.1",
    ) as (url, _):
        spread = [_guess(url, f"10.9.{i // 250}.{i % 250}") for i in range(200)]
        one_client = [_guess(url, "198.51.100.20") for _ in range(LIMIT + 1)]
        neighbour = _guess(url, "198.51.100.21")
    assert spread == [401] * 200
    assert one_client == [401] * LIMIT + [429]
    assert neighbour == 401
