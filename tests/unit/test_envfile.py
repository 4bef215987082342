"""The .env reader: the shapes operators write, and clear errors for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from authmail_relay.envfile import load_environment, parse_env_text
from authmail_relay.exceptions import ConfigurationError

pytestmark = pytest.mark.library


def test_common_forms() -> None:
    """Plain, exported, quoted, commented and empty values."""
    text = "\n".join(
        [
            "# comment",
            "",
            "SMTP_HOST=smtp.example.com",
            "export SMTP_PORT=465",
            "SMTP_PASSWORD='p@ss #not a comment'",
            'SMTP_FROM="Relay \\"Bot\\" <bot@example.com>"',
            "API_KEY=abc # trailing comment",
            "EMPTY=",
        ]
    )
    assert parse_env_text(text) == {
        "SMTP_HOST": "smtp.example.com",
        "SMTP_PORT": "465",
        "SMTP_PASSWORD": "p@ss #not a comment",
        "SMTP_FROM": 'Relay "Bot" <bot@example.com>',
        "API_KEY": "abc",
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    "line", ["NOT A SETTING", "KEY='unterminated", 'KEY="a" trailing', "1KEY=x"]
)
def test_malformed_lines_name_the_line(line: str) -> None:
    """A broken line is a configuration error that points at it."""
    with pytest.raises(ConfigurationError, match=r"\.env:2"):
        parse_env_text(f"OK=1\n{line}")


def test_process_environment_wins_over_the_file(tmp_path: Path) -> None:
    """Variables already set in the environment override the file."""
    env_file = tmp_path / ".env"
    env_file.write_text("SMTP_HOST=from-file\nSMTP_PORT=2525\n")
    merged = load_environment(env_file, {"SMTP_HOST": "from-env"})
    assert merged["SMTP_HOST"] == "from-env"
    assert merged["SMTP_PORT"] == "2525"


def test_missing_file_is_fine(tmp_path: Path) -> None:
    """No .env is the normal case in containers."""
    assert load_environment(tmp_path / "absent.env", {"A": "1"}) == {"A": "1"}
