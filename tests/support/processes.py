"""Relay processes started by tests: their environment (``worker``, ``serve``) and a
running ``serve``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.db import TEST_SECRETS_KEY
from tests.support.smtpd import DEFAULT_FROM, SmtpServer, free_port


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


@contextlib.contextmanager
def running_service(
    tmp_path: Path, sink: SmtpServer, *, db_url: str | None = None, **settings: str
) -> Iterator[tuple[str, Path]]:
    """``python -m authmail_relay serve`` on a free loopback port over *db_url* (already
    migrated for PostgreSQL) or a fresh SQLite file; yields its URL and the file its log
    (stdout and stderr) goes to. Stopped with SIGTERM afterwards; a start that does not
    answer ``/health`` within 30 s fails with the log."""
    import httpx

    port = free_port()
    log_path = tmp_path / "service.log"
    env = service_env(
        db_url or f"sqlite:///{tmp_path / 'service.db'}",
        sink,
        drop=("SMTP_", "DATABASE_", "API_", "MAGIC_", "WEBHOOK_", "LOG_", "FORWARDED_"),
        PORT=str(port),
        **settings,
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log_path.read_text(errors="replace"))
            time.sleep(0.1)
        yield url, log_path
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
