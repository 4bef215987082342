"""`authmail-relay templates …` as a user runs it (base install: also on Python 3.10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.library


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"TEMPLATES_DIR", "DEFAULT_LOCALE", "LOGO_URL"}
    }
    return subprocess.run(
        [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "templates", *args],
        env=clean | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_preview_in_a_locale(tmp_path: Path) -> None:
    """The Japanese OTP text, the Spanish subject, the HTML with its lang attribute."""
    text = _run(["preview", "otp", "--locale", "ja"], tmp_path)
    assert text.returncode == 0, text.stderr
    assert "482913" in text.stdout
    subject = _run(["preview", "magic_link", "--locale", "es", "--format", "subject"], tmp_path)
    assert subject.returncode == 0
    assert subject.stdout.strip()
    html = _run(["preview", "password_reset", "--locale", "ko", "--format", "html"], tmp_path)
    assert 'lang="ko"' in html.stdout


def test_list_shows_overrides(tmp_path: Path) -> None:
    """Overridden parts are listed per locale."""
    (tmp_path / "tpl" / "de").mkdir(parents=True)
    (tmp_path / "tpl" / "de" / "otp.txt").write_text("Code: {{ code }}\n")
    done = _run(["list"], tmp_path, TEMPLATES_DIR=str(tmp_path / "tpl"))
    assert done.returncode == 0, done.stderr
    assert "overridden in de: text" in done.stdout


def test_check_reports_every_problem(tmp_path: Path) -> None:
    """A bad override folder stops with exit 2 and names each problem."""
    folder = tmp_path / "tpl" / "en"
    folder.mkdir(parents=True)
    (folder / "otp.txt").write_text("{{ code }} {{ secret_sauce }}\n")
    (folder / "welcome.html").write_text("<p>hi</p>")
    done = _run(["check"], tmp_path, TEMPLATES_DIR=str(tmp_path / "tpl"))
    assert done.returncode == 2
    assert "secret_sauce" in done.stderr
    assert "welcome.html" in done.stderr
    assert "Traceback" not in done.stderr
    assert _run(["check"], tmp_path).returncode == 0


def test_bad_branding_fails_fast(tmp_path: Path) -> None:
    """A logo over plain http is refused before anything is rendered."""
    done = _run(["preview", "otp"], tmp_path, LOGO_URL="http://cdn.example.com/logo.png")
    assert done.returncode == 2
    assert "logo" in done.stderr.lower()


def test_a_closed_pipe_is_not_a_crash(tmp_path: Path) -> None:
    """`… | head` closing the pipe early ends the command quietly, without a traceback."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "authmail_relay",
            "--env-file",
            os.devnull,
            "templates",
            "preview",
            "otp",
            "--format",
            "html",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    process.wait(30)
    errors = process.stderr.read()
    process.stderr.close()
    assert b"Traceback" not in errors
