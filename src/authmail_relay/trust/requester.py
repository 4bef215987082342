"""Who asked for an auth mail: the API key, and the end user's IP when the app passes it
(pure).

Apps can pass the IP address of the visitor whose action triggered a mail
(``end_user_ip``). The relay uses it for one thing: to give each visitor a budget of their
own in the limits that many people share (see docs/security.md#rate-limits), so one
visitor cannot spend everybody's. It is never stored or logged in clear: the limits see
only :func:`requester_key`, a keyed digest.

IPv4 addresses count one by one; IPv6 addresses by their /64 prefix, because one
subscriber usually holds a whole /64 and could otherwise take a new address per request.
An IPv4-mapped IPv6 address (``::ffff:203.0.113.7``) is the IPv4 address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from ..exceptions import ValidationError

__all__ = ["IPV6_PREFIX", "MAX_END_USER_IP", "end_user_network", "network_of", "requester_key"]

#: Longest textual IP address (IPv6 with an embedded IPv4 address); checked before parsing.
MAX_END_USER_IP = 45
#: IPv6 addresses in one prefix of this length are one requester.
IPV6_PREFIX = 64
_FIELD = "end_user_ip"
#: Domain separation for the requester digest.
_DIGEST_LABEL = b"authmail-relay requester v1\x00"


def end_user_network(value: object) -> str | None:
    """The requester network of an ``end_user_ip``: the IPv4 address (``203.0.113.7``)
    or the IPv6 /64 (``2001:db8:1:2::/64``); None when no IP was given.

    Raises ValidationError (field ``end_user_ip``, never echoing the value) for anything
    that is not one plain IPv4 or IPv6 address: empty, too long, surrounding spaces, a
    zone (``%eth0``), a prefix (``/24``).
    """
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_END_USER_IP:
        raise ValidationError(
            f"end_user_ip must be an IPv4 or IPv6 address (at most {MAX_END_USER_IP} characters)",
            field=_FIELD,
        )
    if "%" in value or "/" in value or value != value.strip():
        raise ValidationError("end_user_ip must be a plain IPv4 or IPv6 address", field=_FIELD)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError("end_user_ip is not an IPv4 or IPv6 address", field=_FIELD) from None
    return network_of(address)


def network_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The network one client counts as: an IPv4 address itself, an IPv6 address's /64
    (an IPv4-mapped one: its IPv4 address). Shared by every per-client count."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def requester_key(key_id: str | None, network: str | None) -> str:
    """The requester as the limits see it: ``key:<key id>`` for an app that passed no
    end-user IP, else ``key:<key id>:ip:<digest>``, where the digest is an HMAC of the
    network keyed by the key id (truncated to 96 bits). The digest keeps the IP out of
    the database in clear; it is a pseudonym, not anonymity (whoever knows the key id can
    test a guessed IP), and the rows holding it are deleted when they leave their window.
    ``key_id`` None (in-process callers) is ``local``.
    """
    key = key_id or "local"
    if network is None:
        return f"key:{key}"
    digest = hmac.new(key.encode(), _DIGEST_LABEL + network.encode(), hashlib.sha256)
    return f"key:{key}:ip:{digest.hexdigest()[:24]}"
