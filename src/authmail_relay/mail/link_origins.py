"""Link origins, strictly (pure).

A magic or reset link may only point at an origin the operator allowed. Origins are
compared after one canonical parse: scheme and host lower-cased, the default port made
explicit. Anything a browser might read differently from us is refused outright: user
info, backslashes, percent-encoded or non-ASCII host names (IDN look-alikes — configure
the A-label ``xn--…`` form), empty labels or a trailing dot, plain ``http`` except
for ``localhost``/``127.0.0.1``, and a port that is not 1 to 65535 in ASCII digits
(``:0`` would otherwise compare as the default port and make a dead link).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from ..exceptions import ConfigurationError, RelayError

_HOST = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_LOCAL = frozenset({"localhost", "127.0.0.1"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
_MAX_PORT_DIGITS = 5


def explicit_port(
    parts: SplitResult, *, error: type[RelayError] = ConfigurationError
) -> int | None:
    """The port written in the URL, or None when it names none (``host`` or ``host:``).

    ``error`` unless it is 1 to 65535 written in ASCII digits: ``urlsplit`` gives 0 for
    ``:0`` (no browser connects there) and, on some Python versions, accepts ``+443`` or
    non-ASCII digits, which browsers refuse.
    """
    host_port = parts.netloc.rpartition("@")[2]
    after_host = host_port.rpartition("]")[2] if host_port.startswith("[") else host_port
    _, colon, text = after_host.rpartition(":")
    if not colon or not text:
        return None
    if len(text) > _MAX_PORT_DIGITS or not (text.isascii() and text.isdigit()):
        raise error("the port must be a number from 1 to 65535")
    port = int(text)
    if not 0 < port <= 65535:
        raise error("the port must be a number from 1 to 65535")
    return port


def origin_of(url: str, *, error: type[RelayError] = ConfigurationError) -> str:
    """``scheme://host:port`` of ``url``, or ``error`` when the URL is not acceptable."""
    if not isinstance(url, str) or not url.isascii() or "\\" in url:
        raise error("link URLs must be plain ASCII URLs (use the xn-- form for IDN hosts)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise error("not a valid URL") from None
    port = explicit_port(parts, error=error)
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
