"""authmail-relay: self-hosted auth email (magic links, one-time codes, password resets).

Library mode needs only the standard library::

    from authmail_relay import SmtpSender, MagicLinkNotifier, OTPNotifier
    from authmail_relay.sender import SmtpConfig

The service (outbox, worker, CLI commands) lives in modules that need the ``[http]``
extra and is never imported from here.
"""

from __future__ import annotations

from .exceptions import (
    ConfigurationError,
    HeaderInjectionError,
    InvalidAddressError,
    NotFoundError,
    RelayError,
    RelayNotOpenError,
    StorageError,
    ValidationError,
)
from .notifiers import MagicLinkNotifier, OTPNotifier, PasswordResetNotifier
from .sender import SendResult, SmtpConfig, SmtpSender
from .vocabulary import ErrorCode, EventType, Kind, MessageStatus, Priority, TlsMode

__version__ = "0.6.0.dev0"

__all__ = [
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
]
