"""`authmail-relay test` as a user runs it: a subprocess, settings from the environment.

Marked ``library``: it also runs on Python 3.10 with only the base install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.smtpd import DEFAULT_FROM, SmtpServerFactory

pytestmark = pytest.mark.library
USER, PASSWORD = "relay", "Very-Secret-42"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_")}
    return subprocess.run(
        [sys.executable, "-m", "authmail_relay", *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sends_over_starttls_with_auth(
    smtp_server: SmtpServerFactory, smtp_ca_file: str, tmp_path: Path
) -> None:
    """Exit 0 and the message id on success; the mail arrived over TLS."""
    server = smtp_server(tls="starttls", auth=(USER, PASSWORD))
    env = {
        "SMTP_HOST": server.host,
        "SMTP_PORT": str(server.port),
        "SMTP_USER": USER,
        "SMTP_PASSWORD": PASSWORD,
        "SMTP_FROM": DEFAULT_FROM,
        "SMTP_CA_FILE": smtp_ca_file,
    }
    done = _run(["test", "--to", "me@example.com"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent: message_id=<")
    (received,) = server.messages
    assert received.tls
    assert received.rcpt_tos == ("me@example.com",)
    assert PASSWORD not in done.stdout + done.stderr


def test_settings_come_from_dotenv(smtp_server: SmtpServerFactory, tmp_path: Path) -> None:
    """A .env in the working directory is read (no second-terminal exports needed)."""
    server = smtp_server(tls="none")
    (tmp_path / ".env").write_text(
        f"SMTP_HOST={server.host}\nSMTP_PORT={server.port}\nSMTP_USE_TLS=false\nSMTP_FROM={DEFAULT_FROM}\n"
    )
    done = _run(["test", "--to", "me@example.com", "--subject", "from dotenv"], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert server.messages[0].parsed()["Subject"] == "from dotenv"


def test_failure_exits_one_with_the_error_code(
    smtp_server: SmtpServerFactory, smtp_ca_file: str, tmp_path: Path
) -> None:
    """A wrong password: exit 1, smtp_auth_failed, and the password is never printed."""
    server = smtp_server(tls="starttls", auth=(USER, PASSWORD))
    env = {
        "SMTP_HOST": server.host,
        "SMTP_PORT": str(server.port),
        "SMTP_USER": USER,
        "SMTP_PASSWORD": "not-" + PASSWORD,
        "SMTP_FROM": DEFAULT_FROM,
        "SMTP_CA_FILE": smtp_ca_file,
    }
    done = _run(["test", "--to", "me@example.com"], env, tmp_path)
    assert done.returncode == 1
    assert "error_code=smtp_auth_failed" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    assert not server.messages


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SMTP_HOST is not set"),
        ({"SMTP_HOST": "h", "SMTP_PORT": "abc"}, "SMTP_PORT must be a number"),
    ],
)
def test_bad_settings_fail_fast_in_one_line(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    """Configuration errors: exit 2 and one line on stderr, no traceback."""
    done = _run(["test", "--to", "me@example.com"], env, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"authmail-relay: error: {message}" or message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
