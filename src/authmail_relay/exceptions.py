"""Every exception the relay raises on purpose.

::

    RelayError                      base class; catch this to catch everything below
    ├── ConfigurationError          bad or missing settings; never swallow it
    ├── ValidationError (ValueError)
    │   │                           a caller-supplied value is unusable (HTTP 422);
    │   │                           ``code`` is an :class:`ErrorCode`, ``field`` names the input
    │   ├── HeaderInjectionError    CR, LF, NUL or another control character in a header value
    │   └── InvalidAddressError     not a valid mailbox
    ├── NotFoundError (LookupError) no such message (HTTP 404)
    ├── StorageError                the database could not read or commit (HTTP 503);
    │                               the driver's exception is chained as ``__cause__``
    └── RelayNotOpenError           a ``Relay`` was used outside ``async with``

Library sends do not raise for SMTP failures: they return a falsy ``SendResult`` whose
``error_code`` says what went wrong. Exceptions from third-party libraries (smtplib,
aiosmtplib, SQLAlchemy, database drivers) are translated into these classes at the module
that talks to them and never escape it.

A class's docstring is its default message. Messages never contain passwords, tokens,
codes or links.
"""

from __future__ import annotations

from .vocabulary import ErrorCode


class RelayError(Exception):
    """The relay could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or type(self).__name__).strip()
        super().__init__(self.message)


class ConfigurationError(RelayError):
    """The relay's settings are invalid or incomplete."""


class ValidationError(RelayError, ValueError):
    """A value supplied by the caller is invalid."""

    code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(
        self, message: str | None = None, *, field: str | None = None, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        if code is not None:
            self.code = code


class HeaderInjectionError(ValidationError):
    """A header value contains CR, LF, NUL or another control character."""

    code = ErrorCode.CRLF_IN_HEADER


class InvalidAddressError(ValidationError):
    """An email address is not valid."""

    code = ErrorCode.INVALID_ADDRESS


class NotFoundError(RelayError, LookupError):
    """No such message."""


class StorageError(RelayError):
    """The message store is unavailable; nothing was committed."""


class RelayNotOpenError(RelayError):
    """The relay is not open: use ``async with Relay(...) as relay:`` or ``await relay.open()``."""
