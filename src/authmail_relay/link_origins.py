"""Link origins, strictly (pure).

A magic or reset link may only point at an origin the operator allowed. Origins are
compared after one canonical parse: scheme and host lower-cased, the default port made
explicit. Anything a browser might read differently from us is refused outright: user
info, backslashes, percent-encoded or non-ASCII host names (IDN look-alikes — configure
the A-label ``xn--…`` form), empty labels or a trailing dot, and plain ``http`` except
for ``localhost``/``127.0.0.1``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .exceptions import ConfigurationError, RelayError

_HOST = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_LOCAL = frozenset({"localhost", "127.0.0.1"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin_of(url: str, *, error: type[RelayError] = ConfigurationError) -> str:
    """``scheme://host:port`` of ``url``, or ``error`` when the URL is not acceptable."""
    if not isinstance(url, str) or not url.isascii() or "\\" in url:
        raise error("link URLs must be plain ASCII URLs (use the xn-- form for IDN hosts)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise error("not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise error("links must use https")
    if "@" in parts.netloc or "%" in parts.netloc:
        raise error("link URLs must not contain user info or encoded characters in the host")
    host = (parts.hostname or "").lower()
    if host not in _LOCAL and not _HOST.fullmatch(host):
        raise error(f"{host or 'an empty host'} is not an acceptable host name")
    if scheme == "http" and host not in _LOCAL:
        raise error("links must use https (http is allowed for localhost only)")
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"
