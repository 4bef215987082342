"""authmail-relay: self-hosted auth email (magic links, one-time codes, password resets).

Library mode needs only the standard library::

    from authmail_relay import SmtpSender, MagicLinkNotifier, OTPNotifier
    from authmail_relay.sender import SmtpConfig

The service (outbox, worker, CLI commands) lives in modules that need the ``[http]``
extra and is never imported from here.

Code map (docs/development.md has the dependency rules). Shared, standard library only:

- ``exceptions``: the one exception tree; ``vocabulary``: every closed set of wire strings.
- ``ids``: every prefixed, time-ordered id, and worker ids; ``process_identity``: whether
  the worker holding a lease has died.
- ``backoff``: the one exponential-backoff formula; ``redaction``: masking for logs.
- ``envfile``: the ``.env`` reader; ``settings``: every setting, parsed once.
- ``file_modes``: owner-only files and directories.

Library mode: ``sender`` (:class:`SmtpSender`) and ``notifiers`` (the three notifiers).

The service core: ``relay`` (the :class:`~authmail_relay.relay.Relay` every adapter
calls), ``worker`` (the claim loop), ``delivery`` (one claimed message), ``background``
(starting and stopping the background work), ``audit_checkpoints`` (signing checkpoints
of the audit trail, and their loop), ``retry`` (pure retry decisions),
``lanes``, ``urgency`` and ``task_pool`` (who goes first), ``status_waits`` (waiting for a
message's status, for ``/send`` and long polls), ``compose_work`` (the compose threads),
``retention`` (how long finished messages keep what), ``oversight_sweep`` (held messages
that expire, sent ones nobody used), ``periodic`` (the loop both sweeps run in).

Rooms, one per docs page, each with its own code map: ``mail`` (content and templates),
``smtp``, ``dkim``, ``trust`` (keys, senders, limits, secrets), ``oversight`` (approval
rules, the audit chain), ``webhooks``, ``db`` (storage), ``api`` (HTTP), ``client`` (the
SDK), ``cli``.

Old top-level paths of moved modules (``branding``, ``composing``, …) are deprecation
shims until 0.7.0.
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
