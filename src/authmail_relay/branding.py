"""Backward-compatibility shim. Canonical: authmail_relay.mail.branding
Removed in 0.7.0; import from authmail_relay.mail.branding instead.
"""

# Star import: the canonical module's public names (its __all__ where it has one), as the
# very same objects; mypy treats every star-imported name as re-exported.
import warnings as _warnings

from .mail.branding import *  # noqa: F403

# stacklevel=2: the warnings machinery skips the import system's frames, so the warning
# points at the line that imported this module.
_warnings.warn(
    "authmail_relay.branding is deprecated and will be removed in 0.7.0; "
    "import authmail_relay.mail.branding instead",
    DeprecationWarning,
    stacklevel=2,
)
