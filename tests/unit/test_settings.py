"""Settings: parsed once, with defaults, and errors that name the setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from authmail_relay import settings as settings_module
from authmail_relay.exceptions import ConfigurationError
from authmail_relay.settings import SETTINGS, Settings

pytestmark = pytest.mark.library
DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_without_environment() -> None:
    """An empty environment gives the documented defaults and no SMTP config."""
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./authmail.db"
    assert settings.smtp is None
    assert settings.worker_concurrency == 16
    with pytest.raises(ConfigurationError, match="SMTP_HOST"):
        settings.require_smtp()


def test_parsed_defaults_equal_the_dataclass_defaults() -> None:
    """Each default is written twice, as text in SETTINGS and typed in Settings: the two
    must agree (an empty environment parses the text ones)."""
    assert Settings.from_env({}) == Settings()


def test_settings_table_has_a_comment_for_each_documented_section() -> None:
    """SETTINGS follows the sections of docs/configuration.md: a comment heads each."""
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    table = source.split("SETTINGS: tuple[Setting, ...] = (", 1)[1].split("\n)\n", 1)[0]
    headers = re.findall(r"^    # ([^.(]+?)[.(]", table, re.MULTILINE)
    sections = re.findall(r"^##+ (.+)$", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(header.strip() for header in headers) == sorted(sections)


def test_values_are_parsed() -> None:
    """Numbers, booleans and the SMTP block are read from the environment."""
    settings = Settings.from_env(
        {
            "SMTP_HOST": "mx.example.com",
            "WORKER_CONCURRENCY": "8",
            "AUTO_MIGRATE": "no",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.require_smtp().host == "mx.example.com"
    assert settings.worker_concurrency == 8
    assert settings.auto_migrate is False
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_CONCURRENCY", "many"),
        ("WORKER_CONCURRENCY", "0"),
        ("LEASE_SECONDS", "-1"),
        ("AUTO_MIGRATE", "maybe"),
        ("LOG_LEVEL", "LOUD"),
        ("SMTP_PORT", "smtp"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    """Every invalid value is a ConfigurationError that says which setting is wrong."""
    env = {"SMTP_HOST": "mx.example.com", name: value}
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env(env)


def test_lease_never_shorter_than_six_smtp_timeouts() -> None:
    """A short LEASE_SECONDS cannot undercut a slow SMTP transaction."""
    settings = Settings.from_env({"SMTP_HOST": "h", "SMTP_TIMEOUT": "30", "LEASE_SECONDS": "10"})
    assert settings.lease_ms == 180_000


def test_every_setting_is_documented() -> None:
    """docs/configuration.md lists every setting the code reads, with its default."""
    documented = DOCS.read_text(encoding="utf-8")
    for setting in SETTINGS:
        row = re.search(rf"^\| `{setting.name}` \|([^|]*)\|", documented, re.MULTILINE)
        assert row is not None, f"{setting.name} is missing from docs/configuration.md"
        if setting.default:
            assert setting.default in row.group(1), f"{setting.name}: default not documented"
