"""How a service process is set up: its logging and its HTTP server.

**Logging.** ``LOG_LEVEL`` applies to the relay's own loggers only. Third-party
libraries log what they handle, and at DEBUG or INFO that is exactly what must stay
private: aiosqlite and SQLAlchemy log statements with their parameters
(webhook secrets, recipients, tokens), httpx logs every webhook URL, httpcore,
aiosmtplib and aiosmtpd trace the HTTP and SMTP dialogue. So whatever ``LOG_LEVEL`` says:

* the relay's loggers (``authmail_relay.*``) follow ``LOG_LEVEL``; they never log a
  secret, a token, a code, a link or a full recipient address at any level;
* every other logger reaches the output from WARNING up only. The root logger sits at
  WARNING (so a library's DEBUG call costs nothing), the libraries known to dump
  payloads are pinned at WARNING (in case something lowers their level), and the output
  handler drops any third-party record below WARNING that still gets through;
* uvicorn keeps its own handlers and ``LOG_LEVEL``; its access log loses the query
  string (``GET /v1/messages?to=…`` would name a recipient), and a record whose shape
  it does not know is dropped rather than printed.

**Proxy headers.** uvicorn, by default, believes ``X-Forwarded-For`` from 127.0.0.1, so
any local client (and, through a proxy that passes the header on, any remote one) could
choose the address the failed-authentication throttle counts. :func:`server_config`
turns proxy headers off unless ``FORWARDED_ALLOW_IPS`` names the proxies to believe.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the service extra; imported by the functions that need it
    import uvicorn

    from ..settings import Settings

__all__ = ["PINNED_LOGGERS", "configure_logging", "redact_access_query", "server_config"]

#: Libraries that log SQL parameters, URLs, headers or SMTP dialogue below WARNING.
PINNED_LOGGERS = (
    "aiosqlite",
    "sqlalchemy",
    "asyncpg",
    "alembic",
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "hpack",
    "aiosmtplib",
    "aiosmtpd",
    "mail.log",  # aiosmtpd's protocol trace (the dev capture server)
    "dkim",
    "dkimpy",
    "multipart",
    "python_multipart",
    "asyncio",
)
_OWN = "authmail_relay"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _own_or_loud(record: logging.LogRecord) -> bool:
    """The relay's own records at any level; anyone else's from WARNING up."""
    if record.levelno >= logging.WARNING:
        return True
    return record.name == _OWN or record.name.startswith(_OWN + ".")


def redact_access_query(record: logging.LogRecord) -> bool:
    """uvicorn access records without their query string; unknown shapes are dropped."""
    args = record.args
    if not isinstance(args, tuple) or len(args) != 5 or not isinstance(args[2], str):
        return False
    path, mark, _ = args[2].partition("?")
    record.args = (args[0], args[1], path + ("?…" if mark else ""), args[3], args[4])
    return True


def configure_logging(level: str) -> None:
    """Log to stderr: the relay's loggers at *level*, third parties at WARNING.

    Call once, before the server starts; uvicorn's ``uvicorn.access`` logger gets
    :func:`redact_access_query` here, and the filter survives uvicorn's own
    ``dictConfig`` (which configures handlers and levels, not logger filters).
    """
    logging.basicConfig(level=logging.WARNING, format=_FORMAT, stream=sys.stderr)
    root = logging.getLogger()
    for handler in root.handlers:
        if _own_or_loud not in handler.filters:
            handler.addFilter(_own_or_loud)
    logging.getLogger(_OWN).setLevel(level)
    for name in PINNED_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if redact_access_query not in access.filters:
        access.addFilter(redact_access_query)


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for *app*: no ``Server`` header, the relay's log level, and
    ``X-Forwarded-*`` believed only from ``FORWARDED_ALLOW_IPS`` (by default from no one).
    *options* (``host``, ``port``, ``log_level``, ...) are passed on to uvicorn."""
    import uvicorn

    trusted = list(settings.forwarded_allow_ips)
    options.setdefault("log_level", settings.log_level.lower())
    return uvicorn.Config(
        app,
        server_header=False,
        proxy_headers=bool(trusted),
        # Never None: uvicorn would fall back to its own environment variable.
        forwarded_allow_ips=trusted,
        **options,
    )
