"""The public surface is deliberate: this test pins it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import authmail_relay

pytestmark = pytest.mark.library

EXPECTED = {
    "ConfigurationError",
    "ErrorCode",
    "EventType",
    "HeaderInjectionError",
    "InvalidAddressError",
    "Kind",
    "MagicLinkNotifier",
    "MessageStatus",
    "NotFoundError",
    "OTPNotifier",
    "PasswordResetNotifier",
    "Priority",
    "RelayError",
    "RelayNotOpenError",
    "SendResult",
    "SmtpConfig",
    "SmtpSender",
    "StorageError",
    "TlsMode",
    "ValidationError",
    "__version__",
}


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a conscious change to this list."""
    assert set(authmail_relay.__all__) == EXPECTED
    assert sorted(authmail_relay.__all__) == authmail_relay.__all__
    for name in EXPECTED:
        assert hasattr(authmail_relay, name)


def test_documented_import_paths() -> None:
    """The paths users already know keep working."""
    from authmail_relay.sender import SmtpConfig

    assert SmtpConfig is authmail_relay.SmtpConfig


def test_version_matches_distribution() -> None:
    """``__version__`` is the installed distribution's version."""
    from importlib.metadata import version

    assert authmail_relay.__version__ == version("authmail-relay")


def test_package_import_loads_no_service_dependency() -> None:
    """Importing the package pulls in nothing beyond the standard library."""
    probe = (
        "import sys, authmail_relay, authmail_relay.cli;"
        "mods = {m.split('.')[0] for m in sys.modules};"
        "extra = sorted(m for m in mods - set(sys.stdlib_module_names) - {'authmail_relay'}"
        " if not m.startswith('_'));"
        "print(','.join(extra))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
