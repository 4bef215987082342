"""TXT lookups with dnspython's async resolver; every failure becomes a result.

:func:`make_resolver` builds the resolver from ``DNS_RESOLVER`` (empty: the system's
resolvers) and ``DNS_TIMEOUT_SECONDS``; :func:`lookup_txt` never raises for DNS
trouble — a timeout or a server failure is a ``failed`` :class:`TxtLookup` saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from ..exceptions import ConfigurationError
from .nameservers import parse_nameservers

LookupStatus = Literal["found", "nxdomain", "nodata", "failed"]


@dataclass(frozen=True)
class TxtLookup:
    """What a TXT query for ``name`` found: each record's strings joined into one."""

    name: str
    status: LookupStatus
    records: tuple[str, ...] = ()
    error: str | None = None


def make_resolver(spec: str, timeout: float) -> dns.asyncresolver.Resolver:
    """A resolver asking ``spec``'s servers (or the system's) with an overall timeout."""
    servers = parse_nameservers(spec)
    try:
        resolver = dns.asyncresolver.Resolver(configure=not servers)
    except dns.resolver.NoResolverConfiguration:
        raise ConfigurationError("no system DNS resolver configured; set DNS_RESOLVER") from None
    if servers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(a, port) for a, port in servers]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


async def lookup_txt(resolver: dns.asyncresolver.Resolver, name: str) -> TxtLookup:
    """The TXT records at ``name`` (absolute; a final dot is optional)."""
    fqdn = name if name.endswith(".") else f"{name}."
    try:
        answer = await resolver.resolve(fqdn, dns.rdatatype.TXT, search=False)
    except dns.resolver.NXDOMAIN:
        return TxtLookup(name, "nxdomain")
    except dns.resolver.NoAnswer:
        return TxtLookup(name, "nodata")
    except dns.exception.Timeout:
        return TxtLookup(name, "failed", error="timed out")
    except dns.resolver.NoNameservers:
        return TxtLookup(name, "failed", error="no server answered (SERVFAIL or refused)")
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return TxtLookup(name, "failed", error=type(exc).__name__)
    records = tuple(b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer)
    return TxtLookup(name, "found", records)
