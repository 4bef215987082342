"""The public surface is deliberate: this test pins it."""

from __future__ import annotations

import pytest

import authmail_relay
from tests.support.import_probe import third_party_loaded_by
from tests.unit.test_layers import (
    EXTRA_FREE_INITS,
    PURE,
    SHARED,
    SOURCE_ROOT,
    dotted,
    layer_of,
    module_keys,
)

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
    assert third_party_loaded_by(["authmail_relay", "authmail_relay.cli"]) == []


def _loadable_on_the_base_install() -> list[str]:
    """Layer-0 and layer-1 modules whose enclosing packages are extra-free too.

    A module is loaded after its packages' ``__init__``: ``client/_args`` is pure, but
    ``client/__init__`` is the SDK (``httpx``), so it is left out here (its own imports are
    checked by the layer test). ``__main__`` is left out: importing it runs the command line
    (it only imports ``cli``, probed here).
    """
    names = []
    for key in module_keys(SOURCE_ROOT):
        parts = key.split("/")
        packages = ["/".join([*parts[:depth], "__init__"]) for depth in range(len(parts))]
        packages = [p for p in packages if p != key]
        if key == "__main__" or layer_of(key) not in (SHARED, PURE):
            continue
        if all(layer_of(p) in (SHARED, PURE) or p in EXTRA_FREE_INITS for p in packages):
            names.append(dotted(key))
        else:
            assert key.startswith("client/"), f"{key} is pure, but its package is not"
    return names


def test_shared_and_pure_modules_load_no_third_party_package() -> None:
    """Every layer-0 and layer-1 module imports on the standard library alone.

    The modules come from the layer table (``tests/unit/test_layers.py``) applied to the
    tree, so a new pure module is probed as soon as it is placed.
    """
    names = _loadable_on_the_base_install()
    assert {"authmail_relay.mail.domains", "authmail_relay.cli"} <= set(names)
    assert "authmail_relay.dkim.nameservers" in names
    assert third_party_loaded_by(names) == []
