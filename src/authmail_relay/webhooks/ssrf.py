"""Which webhook URLs the relay will call: the address policy (pure) and name resolution.

A webhook URL is a request from the outside to make the relay open a connection, so it
is checked like one:

* ``http`` or ``https`` only; no user info; a host name or IP literal and a valid port.
* Every address the host resolves to must be public: loopback, private, link-local,
  CGNAT (``100.64/10``), multicast, reserved, unspecified, benchmarking (``198.18/15``),
  documentation ranges, cloud metadata addresses, and IPv4-mapped / NAT64 / 6to4 /
  Teredo / IPv4-compatible IPv6 forms of those are refused (:func:`blocked_reason`).
* Host names listed in ``WEBHOOK_ALLOW_HOSTS`` may resolve to anything (internal
  receivers); the scheme and user-info rules still apply to them.

A refusal names what the caller wrote (``points at 10.0.0.5, a private address`` for
an IP literal), never what a name resolved to: that would let anyone who may submit a
URL map internal DNS names to addresses. The resolved address and its kind go to the
log at INFO (the host name only, never the URL, which may carry tokens).

The dispatcher resolves once per attempt (:meth:`UrlGuard.resolve`) and connects only to
the addresses it checked (see :mod:`authmail_relay.webhooks.http`), so a name that
resolves to a public address for the check and a private one a moment later cannot
steer the connection. Resolution goes through ``loop.getaddrinfo`` (no blocking of the
event loop) behind the injectable :data:`Resolver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

from ..exceptions import WebhookDeliveryError, WebhookUrlError
from ..mail.domains import to_ascii

__all__ = [
    "MAX_URL_CHARS",
    "PinnedTarget",
    "Resolver",
    "UrlGuard",
    "WebhookTarget",
    "blocked_reason",
    "parse_webhook_url",
    "system_resolver",
]

log = logging.getLogger("authmail_relay.ssrf")

IPAddress = IPv4Address | IPv6Address
#: ``async (host, port) -> addresses``: how host names become IP address strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_URL_CHARS = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}

_BLOCKED_V4 = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "the unspecified / this-network range"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (cloud metadata lives here)"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        # Public-looking, but the host's own metadata and agent endpoint on Azure.
        ("168.63.129.16/32", "a cloud metadata address"),
    )
)
_BLOCKED_V6 = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "an IPv4-compatible address (deprecated)"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/32", "a Teredo tunnel address"),
        ("2001:2::/48", "a benchmarking address"),
        ("2001:10::/28", "an ORCHID address"),
        ("2001:db8::/32", "a documentation address"),
        ("2002::/16", "a 6to4 tunnel address"),
        ("3fff::/20", "a documentation address"),
        ("fc00::/7", "a unique-local (private) address (cloud metadata lives here)"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")
# Every label a number (decimal, octal or 0x-hex): inet_aton's shorthand for IPv4
# ("127.1", "2130706433", "0x7f.0.0.1"), which resolvers accept as an address.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*")
_HOST_NAME = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)


def blocked_reason(address: IPAddress) -> str | None:
    """Why the relay must not connect to *address*, or None when it is public."""
    if isinstance(address, IPv4Address):
        return _v4_reason(address)
    embedded, form = _embedded_v4(address)
    if embedded is not None:
        inner = _v4_reason(embedded)
        if inner is not None:
            return f"the {form} form of {embedded}, {inner}"
        if form == "NAT64" or form == "IPv4-mapped":
            return None  # a public IPv4 address reached through a translator
    for network, reason in _BLOCKED_V6:
        if address in network:
            return reason
    return None if address.is_global else "not a public address"


def _v4_reason(address: IPv4Address) -> str | None:
    for network, reason in _BLOCKED_V4:
        if address in network:
            return reason
    return None if address.is_global else "not a public address"


def _embedded_v4(address: IPv6Address) -> tuple[IPv4Address | None, str]:
    """The IPv4 address an IPv6 transition form carries, and the form's name."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        server, client = address.teredo
        return (client if _v4_reason(client) else server), "Teredo"
    return None, ""


@dataclass(frozen=True)
class WebhookTarget:
    """A syntactically acceptable webhook URL, taken apart.

    ``host`` is lower-case ASCII (``xn--`` for international names), without brackets or a
    trailing dot; ``address`` is set when the host is an IP literal.
    """

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None = None


@dataclass(frozen=True)
class PinnedTarget:
    """A target with the addresses that were checked; connect to these and nothing else."""

    target: WebhookTarget
    addresses: tuple[str, ...]


def parse_webhook_url(url: str, *, field: str = "webhook_url") -> WebhookTarget:
    """Take *url* apart, or raise WebhookUrlError saying what is wrong (no DNS here)."""

    def refuse(reason: str) -> WebhookUrlError:
        return WebhookUrlError(f"{field} {reason}", field=field)

    if len(url) > MAX_URL_CHARS:
        raise refuse(f"is longer than {MAX_URL_CHARS} characters")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F or char == "\\" for char in url):
        raise refuse("must not contain spaces, backslashes or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise refuse("must be an http or https URL")
    if "@" in parts.netloc:
        raise refuse("must not contain user info")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise refuse("needs a host")
    if port == 0:
        raise refuse("has an invalid port")
    try:
        address: IPAddress | None = ip_address(host)
    except ValueError:
        address = None
    if address is None:
        if not host.isascii():
            # The checked name and the one the HTTP client connects to must be the same;
            # an xn-- name leaves no mapping to either side.
            raise refuse("has a non-ASCII host name: give its xn-- (IDNA) form")
        try:
            # The same normalisation as mail domains: label lengths, empty labels and
            # valid xn-- labels.
            host = to_ascii(host)
        except ValueError:
            raise refuse("has a host name that is not valid") from None
        if len(host) > 253 or not _HOST_NAME.fullmatch(host):
            raise refuse("has a host name that is not valid")
        if _NUMERIC_HOST.fullmatch(host):
            address = _numeric_v4(host)
            if address is None:
                raise refuse("has a host name that is not valid")
    return WebhookTarget(url, scheme, host, port or _DEFAULT_PORTS[scheme], address)


def _numeric_v4(host: str) -> IPv4Address | None:
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError, ValueError) as exc:  # socket.gaierror is an OSError
        raise WebhookDeliveryError(f"could not resolve {host}") from exc
    return [str(info[4][0]) for info in infos]


class UrlGuard:
    """Applies the policy: :meth:`check` without DNS, :meth:`resolve` with it.

    *allow_hosts* are host names (or IP literals) that may resolve to non-public
    addresses. *resolver* defaults to :func:`system_resolver`; tests inject their own.
    """

    def __init__(
        self,
        allow_hosts: Iterable[str] = (),
        *,
        resolver: Resolver | None = None,
        resolve_timeout: float = 5.0,
    ) -> None:
        self.allow_hosts = frozenset(h.strip().lower().rstrip(".") for h in allow_hosts if h)
        self._resolver = resolver or system_resolver
        self._resolve_timeout = resolve_timeout

    def check(self, url: str, *, field: str = "webhook_url") -> WebhookTarget:
        """Everything that can be known without DNS; WebhookUrlError when refused."""
        target = parse_webhook_url(url, field=field)
        if target.host in self.allow_hosts:
            return target
        if target.address is not None:
            reason = blocked_reason(target.address)
            if reason is not None:
                raise WebhookUrlError(f"{field} points at {target.address}, {reason}", field=field)
        elif target.host == "localhost" or target.host.endswith(".localhost"):
            raise WebhookUrlError(f"{field} points at a loopback host name", field=field)
        return target

    async def resolve(self, target: WebhookTarget, *, field: str = "webhook_url") -> PinnedTarget:
        """Resolve once and check every address.

        WebhookUrlError if any address is blocked (and the host is not allowed);
        WebhookDeliveryError if the name does not resolve in time or at all.
        """
        if target.address is not None:
            return PinnedTarget(target, (str(target.address),))
        try:
            found = await asyncio.wait_for(
                self._resolver(target.host, target.port), self._resolve_timeout
            )
        except asyncio.TimeoutError:
            raise WebhookDeliveryError(f"resolving {target.host} timed out") from None
        addresses = tuple(dict.fromkeys(found))
        if not addresses:
            raise WebhookDeliveryError(f"{target.host} has no addresses")
        if target.host not in self.allow_hosts:
            for text in addresses:
                reason = _reason_for(text)
                if reason is not None:
                    # Whoever sent the URL learns only that it is refused: the address a
                    # name resolves to, and its kind, would map internal DNS for them.
                    log.info(
                        "webhook host %s refused: it resolves to %s, %s", target.host, text, reason
                    )
                    raise WebhookUrlError(
                        f"{field} host {target.host} resolves to an address that is not allowed",
                        field=field,
                    )
        return PinnedTarget(target, addresses)

    async def check_with_dns(self, url: str, *, field: str = "webhook_url") -> WebhookTarget:
        """:meth:`check`, then refuse a name that resolves to a blocked address now.

        A name that does not resolve (yet) is accepted: the dispatcher checks it again
        at every attempt.
        """
        target = self.check(url, field=field)
        with contextlib.suppress(WebhookDeliveryError):
            await self.resolve(target, field=field)
        return target


def _reason_for(text: str) -> str | None:
    try:
        address = ip_address(text)
    except ValueError:
        return "not an IP address"
    return blocked_reason(address)
