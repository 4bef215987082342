"""The environment of a relay process started by a test (``worker``, ``serve``)."""

from __future__ import annotations

import os

from tests.support.db import TEST_SECRETS_KEY
from tests.support.smtpd import DEFAULT_FROM, SmtpServer


def service_env(
    db_url: str,
    sink: SmtpServer,
    *,
    drop: tuple[str, ...] = ("SMTP_", "DATABASE_"),
    **settings: str,
) -> dict[str, str]:
    """This process's environment without settings starting with *drop* (so the
    developer's own configuration never leaks in), pointed at *db_url* and at *sink*
    over plain SMTP (with the test secrets key on PostgreSQL), plus *settings*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith((*drop, "SECRETS_"))}
    if not db_url.startswith("sqlite"):
        env["SECRETS_KEY"] = TEST_SECRETS_KEY
    env.update(
        DATABASE_URL=db_url,
        SMTP_HOST=sink.host,
        SMTP_PORT=str(sink.port),
        SMTP_TLS="none",
        SMTP_FROM=DEFAULT_FROM,
    )
    env.update(settings)
    return env
