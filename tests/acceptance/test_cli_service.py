"""The service commands as subprocesses: send → worker → messages, db upgrade, dev mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from tests.support.smtpd import DEFAULT_FROM, SmtpServer

pytestmark = pytest.mark.slow


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "authmail_relay", *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_send_then_worker_then_messages(smtp_sink: SmtpServer, tmp_path: Path) -> None:
    """Queue with `send`, deliver with `worker --until-idle`, inspect with `messages`."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}",
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": str(smtp_sink.port),
        "SMTP_TLS": "none",
        "SMTP_FROM": DEFAULT_FROM,
    }
    queued = _run(
        ["send", "--to", "ada@example.com", "--subject", "Hi Ada", "--html", "<p>Hi</p>"],
        env,
        tmp_path,
    )
    assert queued.returncode == 0, queued.stderr
    message_id = queued.stdout.strip()
    assert message_id.startswith("msg_")
    assert not smtp_sink.messages  # only queued so far

    listing = _run(["messages", "list"], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert message_id in listing.stdout
    assert "queued" in listing.stdout
    assert "ada@example.com" not in listing.stdout  # recipients are masked

    delivered = _run(["worker", "--until-idle"], env, tmp_path)
    assert delivered.returncode == 0, delivered.stderr
    (received,) = smtp_sink.messages
    assert received.rcpt_tos == ("ada@example.com",)

    shown = _run(["messages", "show", message_id], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "status:      sent" in shown.stdout
    assert "message.sent" in shown.stdout
    assert f"{smtp_sink.host}:{smtp_sink.port} sent" in shown.stdout


def test_invalid_input_stores_nothing(tmp_path: Path) -> None:
    """A header injection attempt is refused with exit 2 and no row is written."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}"}
    refused = _run(
        [
            "send",
            "--from",
            DEFAULT_FROM,
            "--to",
            "a@example.com",
            "--subject",
            "x\r\nBcc: evil@example.com",
            "--html",
            "<p>x</p>",
        ],
        env,
        tmp_path,
    )
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    listing = _run(["messages", "list"], env, tmp_path)
    assert listing.returncode == 0
    assert "msg_" not in listing.stdout


def test_send_at_schedules_or_exits_2(smtp_sink: SmtpServer, tmp_path: Path) -> None:
    """`send --send-at`: a time ahead is kept for later (the worker finds nothing due);
    a time without an offset or past the 30 days exits 2 and stores nothing."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}",
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": str(smtp_sink.port),
        "SMTP_TLS": "none",
        "SMTP_FROM": DEFAULT_FROM,
    }
    mail = ["send", "--to", "ada@example.com", "--subject", "Later", "--html", "<p>x</p>"]
    later = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    queued = _run([*mail, "--send-at", later], env, tmp_path)
    assert queued.returncode == 0, queued.stderr
    for bad in ("2030-01-01T09:00:00", "2099-01-01T00:00:00Z", "soon"):
        refused = _run([*mail, "--send-at", bad], env, tmp_path)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert "send_at" in refused.stderr
        assert "Traceback" not in refused.stderr
    delivered = _run(["worker", "--until-idle"], env, tmp_path)
    assert delivered.returncode == 0, delivered.stderr
    assert not smtp_sink.messages
    listing = _run(["messages", "list"], env, tmp_path)
    assert listing.stdout.count("msg_") == 1
    assert queued.stdout.strip() in listing.stdout


def test_unknown_message_is_a_clear_error(tmp_path: Path) -> None:
    """`messages show` of an unknown id exits 1 with one line."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}"}
    shown = _run(["messages", "show", "msg_NOPE"], env, tmp_path)
    assert shown.returncode == 1
    assert "Traceback" not in shown.stderr


@pytest.mark.postgres
def test_db_upgrade_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    """`db upgrade` applies the migrations and reports the revision; a second run is a no-op."""
    for _ in range(2):
        done = _run(["db", "upgrade"], {"DATABASE_URL": postgres_url}, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "database schema at revision" in done.stdout


@pytest.mark.postgres
def test_postgres_requires_an_explicit_upgrade(postgres_url: str, tmp_path: Path) -> None:
    """On PostgreSQL the service refuses an old schema instead of migrating behind your back."""
    done = _run(["messages", "list"], {"DATABASE_URL": postgres_url}, tmp_path)
    assert done.returncode == 2
    assert "authmail-relay db upgrade" in done.stderr


def test_dev_mode_captures_the_sample(tmp_path: Path) -> None:
    """`dev --once` runs the whole pipeline into the capture inbox and exits."""
    done = _run(["dev", "--once", "--data-dir", str(tmp_path / "dev")], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "captured:" in done.stdout
    inbox = sorted((tmp_path / "dev" / "inbox").glob("*.eml"))
    assert len(inbox) == 1
    assert b"Subject: Your relay works" in inbox[0].read_bytes()
    # Its data folder holds the database, the secrets key file and the captured mail.
    modes = {
        name: stat.S_IMODE((tmp_path / "dev" / name).stat().st_mode)
        for name in ("", "dev.db", "dev.db.keys")
    }
    assert modes == {"": 0o700, "dev.db": 0o600, "dev.db.keys": 0o600}
