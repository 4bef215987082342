"""Backward-compatibility shim. Canonical: authmail_relay.mail.composing
Removed in 0.7.0; import from authmail_relay.mail.composing instead.
"""

# Star import: the canonical module's public names (its __all__ where it has one), as the
# very same objects; mypy treats every star-imported name as re-exported.
import warnings as _warnings

from .mail.composing import *  # noqa: F403

# stacklevel=2: the warnings machinery skips the import system's frames, so the warning
# points at the line that imported this module.
_warnings.warn(
    "authmail_relay.composing is deprecated and will be removed in 0.7.0; "
    "import authmail_relay.mail.composing instead",
    DeprecationWarning,
    stacklevel=2,
)
