"""The webhook address policy: every blocked form refused, public addresses allowed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from ipaddress import ip_address

import pytest

from authmail_relay.exceptions import WebhookDeliveryError, WebhookUrlError
from authmail_relay.webhooks.ssrf import (
    UrlGuard,
    blocked_reason,
    parse_webhook_url,
    system_resolver,
)

BLOCKED = [
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.100.100.200",  # Alibaba Cloud metadata, inside CGNAT
    "127.0.0.1",
    "127.255.0.9",
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata
    "169.254.170.2",  # ECS task metadata
    "168.63.129.16",  # Azure wire server
    "172.16.0.1",
    "172.31.255.254",
    "192.0.0.192",  # Oracle Cloud metadata
    "192.0.2.10",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",
    "100::1",
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, public client
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo carrying 127.0.0.1
    "2001:2::1",
    "2001:10::1",
    "2001:db8::1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:5db8:d822::1",  # 6to4 of a public address: tunnels are refused too
    "3fff::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS IPv6 metadata
    "fe80::1",
    "fec0::1",
    "ff02::1",
]
PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "64:ff9b::5db8:d822",  # NAT64 of a public address
    "::ffff:93.184.216.34",
]


@pytest.mark.parametrize("text", BLOCKED)
def test_blocked_addresses(text: str) -> None:
    assert blocked_reason(ip_address(text)) is not None


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses(text: str) -> None:
    assert blocked_reason(ip_address(text)) is None


def test_reasons_name_the_embedded_address() -> None:
    reason = blocked_reason(ip_address("::ffff:127.0.0.1"))
    assert reason == "the IPv4-mapped form of 127.0.0.1, a loopback address"
    assert "NAT64 form of 169.254.169.254" in str(blocked_reason(ip_address("64:ff9b::a9fe:a9fe")))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://example.com", "http or https"),
        ("example.com/hook", "http or https"),
        ("https://user:pw@example.com/", "user info"),
        ("https://user@example.com/", "user info"),
        ("https://@example.com/", "user info"),
        ("https:///path", "needs a host"),
        ("https://", "needs a host"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/\x00", "control"),
        ("https://example.com\\@127.0.0.1/", "backslashes"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com:0/", "invalid port"),
        ("https://[::1/", "not a valid URL"),
        ("https://exa!mple.com/", "not valid"),
        ("https://bücher.example/", "xn--"),
        ("https://faß.de/", "xn--"),
        ("https://-bad-.example.com/", "not valid"),
        ("https://" + "a" * 250 + ".com/", "not valid"),
        ("https://example.com/" + "x" * 2100, "longer than"),
    ],
)
def test_urls_refused_by_their_shape(url: str, problem: str) -> None:
    with pytest.raises(WebhookUrlError) as caught:
        parse_webhook_url(url)
    assert problem in caught.value.message
    assert caught.value.field == "webhook_url"


def test_a_url_taken_apart() -> None:
    target = parse_webhook_url("HTTPS://Hooks.Example.COM./in?x=1")
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "hooks.example.com",
        443,
        None,
    )
    assert parse_webhook_url("http://[2606:4700::1]:8080/").address == ip_address("2606:4700::1")
    assert parse_webhook_url("https://xn--bcher-kva.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://0/",
        "http://[::1]/",
        "http://[::ffff:7f00:1]/",
        "http://[fe80::1%25eth0]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://10.0.0.1:9200/",
    ],
)
def test_known_blocked_hosts_are_refused_without_dns(url: str) -> None:
    with pytest.raises(WebhookUrlError):
        UrlGuard().check(url)


def test_allowed_hosts_may_be_private() -> None:
    guard = UrlGuard(["LocalHost", "127.0.0.1", "hooks.internal."])
    assert guard.check("http://localhost:9000/h").host == "localhost"
    assert guard.check("http://127.0.0.1:9000/h").port == 9000
    with pytest.raises(WebhookUrlError):
        guard.check("http://127.0.0.2:9000/h")
    with pytest.raises(WebhookUrlError):  # still no user info
        guard.check("http://me@localhost/")


class _Resolver:
    """Answers from a list of answers, one per call; counts calls."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_a_name_resolving_to_a_private_address_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The error says only that the address is not allowed, not which address it is or
    what kind (a DNS oracle otherwise); the operator's log has the detail at INFO."""
    caplog.set_level(logging.INFO, logger="authmail_relay.ssrf")
    guard = UrlGuard(resolver=_Resolver(["10.1.2.3"]))
    target = guard.check("https://hooks.example.com/x?token=s3cret")
    with pytest.raises(WebhookUrlError) as caught:
        await guard.resolve(target)
    assert caught.value.message == (
        "webhook_url host hooks.example.com resolves to an address that is not allowed"
    )
    logged = [r.getMessage() for r in caplog.records if r.name == "authmail_relay.ssrf"]
    assert logged == [
        "webhook host hooks.example.com refused: it resolves to 10.1.2.3, a private address"
    ]
    assert "s3cret" not in caplog.text


async def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    guard = UrlGuard(resolver=_Resolver(["93.184.216.34", "::1"]))
    with pytest.raises(WebhookUrlError):
        await guard.resolve(guard.check("https://hooks.example.com/x"))


async def test_resolution_happens_once_per_resolve() -> None:
    resolver = _Resolver(["93.184.216.34"], ["127.0.0.1"])
    guard = UrlGuard(resolver=resolver)
    pinned = await guard.resolve(guard.check("https://rebind.example.com/x"))
    assert pinned.addresses == ("93.184.216.34",)
    assert resolver.calls == [("rebind.example.com", 443)]
    with pytest.raises(WebhookUrlError):  # the next attempt sees the new answer, and refuses it
        await guard.resolve(guard.check("https://rebind.example.com/x"))


async def test_an_allowed_name_may_resolve_to_loopback() -> None:
    guard = UrlGuard(["hooks.test"], resolver=_Resolver(["127.0.0.1", "127.0.0.1"]))
    pinned = await guard.resolve(guard.check("http://hooks.test:8080/"))
    assert pinned.addresses == ("127.0.0.1",)


async def test_an_ip_literal_needs_no_resolver() -> None:
    resolver = _Resolver(["10.0.0.1"])
    guard = UrlGuard(resolver=resolver)
    pinned = await guard.resolve(guard.check("http://93.184.216.34/"))
    assert pinned.addresses == ("93.184.216.34",)
    assert resolver.calls == []


async def test_no_addresses_and_a_slow_resolver_are_delivery_errors() -> None:
    async def slow(host: str, port: int) -> Sequence[str]:
        await asyncio.sleep(5)
        return []

    with pytest.raises(WebhookDeliveryError):
        await UrlGuard(resolver=_Resolver([])).resolve(parse_webhook_url("https://x.example/"))
    guard = UrlGuard(resolver=slow, resolve_timeout=0.05)
    with pytest.raises(WebhookDeliveryError):
        await guard.resolve(parse_webhook_url("https://x.example/"))


async def test_check_with_dns_accepts_names_that_do_not_resolve_yet() -> None:
    async def failing(host: str, port: int) -> Sequence[str]:
        raise WebhookDeliveryError("could not resolve")

    guard = UrlGuard(resolver=failing)
    assert (await guard.check_with_dns("https://not-yet.example/")).host == "not-yet.example"
    private = UrlGuard(resolver=_Resolver(["192.168.0.5"]))
    with pytest.raises(WebhookUrlError):
        await private.check_with_dns("https://intranet.example/", field="url")


async def test_the_system_resolver_does_not_raise_raw_socket_errors() -> None:
    with pytest.raises(WebhookDeliveryError):
        await system_resolver("name-that-does-not-exist.invalid", 443)
    assert "127.0.0.1" in await system_resolver("127.0.0.1", 80)
