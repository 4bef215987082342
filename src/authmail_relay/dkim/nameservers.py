"""``DNS_RESOLVER``: the name servers ``domains check`` asks, parsed with the standard
library only (settings are read in the base install too)."""

from __future__ import annotations

import ipaddress

from ..exceptions import ConfigurationError

DEFAULT_DNS_PORT = 53


def parse_nameservers(spec: str) -> list[tuple[str, int]]:
    """``"1.1.1.1, [::1]:5353, 127.0.0.1:5353"`` as (address, port) pairs.

    Raises ConfigurationError for anything that is not an IP address with an
    optional port (the resolver does not resolve names to find itself).
    """
    servers = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        host, port = item, DEFAULT_DNS_PORT
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            if rest:
                port = _port(rest.removeprefix(":"), item) if rest.startswith(":") else -1
        elif item.count(":") == 1:
            host, _, text = item.partition(":")
            port = _port(text, item)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is None or port < 0:
            raise ConfigurationError(
                f"DNS_RESOLVER: {item!r} is not IP[:PORT] (use [IPv6]:PORT for IPv6)"
            )
        servers.append((str(address), port))
    return servers


def _port(text: str, item: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError(f"DNS_RESOLVER: bad port in {item!r}")
    return int(text)


def check_nameservers(name: str, raw: str) -> str:
    """The settings parser: ``raw`` unchanged once :func:`parse_nameservers` accepts it."""
    parse_nameservers(raw)
    return raw.strip()
