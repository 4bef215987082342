"""Every exception the relay raises on purpose.

::

    RelayError                      base class; catch this to catch everything below
    ├── ConfigurationError          bad or missing settings; never swallow it
    ├── ValidationError (ValueError)
    │   │                           a caller-supplied value is unusable (HTTP 422);
    │   │                           ``code`` is an :class:`ErrorCode`, ``field`` names the input,
    │   │                           ``error_code`` (rarely set) a more specific API code
    │   ├── HeaderInjectionError    CR, LF, NUL or another control character in a header value
    │   ├── InvalidAddressError     not a valid mailbox
    │   ├── ConflictingScopesError  a stored key asked to hold both ``send`` and ``approve``
    │   └── WebhookUrlError         a webhook URL the relay will not call (scheme, user info,
    │                               a private or otherwise blocked address)
    ├── NotFoundError (LookupError) no such message (HTTP 404)
    ├── ConflictError               the request conflicts with the resource's current state
    │                               (HTTP 409); ``error_code`` says which conflict
    ├── StorageError                the database could not read or commit (HTTP 503);
    │                               the driver's exception is chained as ``__cause__``
    ├── RelayNotOpenError           a ``Relay`` was used outside ``async with``
    ├── AuthenticationError         missing or wrong API key (HTTP 401)
    ├── PermissionDeniedError       a valid key that may not do this (HTTP 403);
    │                               ``error_code`` says why (``forbidden``,
    │                               ``sender_not_allowed``, ``read_only``, ``self_approval``)
    ├── RateLimitedError            too many requests (HTTP 429); ``limit`` names the
    │                               limit, ``retry_after`` says how many seconds to wait
    ├── DeliveryError               the upstream refused the mail for good (HTTP 502 on
    │                               ``/send*``); ``error_code`` and ``message_id``
    ├── TransportError              client side: the relay could not be reached, or
    │                               answered something that is not the documented API
    └── WebhookDeliveryError        a webhook receiver could not be reached or did not answer
                                    in time (the dispatcher records it and retries)

Library sends do not raise for SMTP failures: they return a falsy ``SendResult`` whose
``error_code`` says what went wrong. Exceptions from third-party libraries (smtplib,
aiosmtplib, SQLAlchemy, database drivers, httpx) are translated into these classes at the module
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
    #: The HTTP problem's ``error_code`` when ``code`` is ``UNKNOWN``.
    error_code: str = "validation_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        code: ErrorCode | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        if code is not None:
            self.code = code
        if error_code is not None:
            self.error_code = error_code


class HeaderInjectionError(ValidationError):
    """A header value contains CR, LF, NUL or another control character."""

    code = ErrorCode.CRLF_IN_HEADER


class InvalidAddressError(ValidationError):
    """An email address is not valid."""

    code = ErrorCode.INVALID_ADDRESS


class ConflictingScopesError(ValidationError):
    """A stored key may not hold both the send and the approve scope."""

    error_code = "conflicting_scopes"


class NotFoundError(RelayError, LookupError):
    """No such message."""


class StorageError(RelayError):
    """The message store is unavailable; nothing was committed."""


class RelayNotOpenError(RelayError):
    """The relay is not open: use ``async with Relay(...) as relay:`` or ``await relay.open()``."""


class AuthenticationError(RelayError):
    """Missing or invalid API key."""


class PermissionDeniedError(RelayError):
    """The API key may not do this."""

    def __init__(self, message: str | None = None, *, error_code: str = "forbidden") -> None:
        super().__init__(message)
        #: A stable, machine-readable reason: ``forbidden`` (missing scope) or
        #: ``sender_not_allowed`` (the From address is not allowed for the key).
        self.error_code = error_code


class RateLimitedError(RelayError):
    """Too many requests; try again later."""

    #: Seconds until a retry can succeed (the HTTP ``Retry-After``; the client SDK
    #: uses 1.0 when the relay sent none).
    retry_after: float
    #: The limit that refused: ``recipient``, ``mailbox``, ``domain`` or ``key``; None for the
    #: failed-authentication throttle.
    limit: str | None
    #: The refusing limit's quota per ``window_seconds`` (0 when unknown).
    quota: int
    window_seconds: int

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float = 1.0,
        limit: str | None = None,
        quota: int = 0,
        window_seconds: int = 0,
    ) -> None:
        """``limit`` names the policy that refused (``recipient``, ``mailbox``, ``domain``, ``key``;
        None for the authentication throttle), with its ``quota`` per ``window_seconds``."""
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
        self.quota = quota
        self.window_seconds = window_seconds


class DeliveryError(RelayError):
    """The upstream SMTP server did not accept the message."""

    def __init__(
        self,
        message: str | None = None,
        *,
        error_code: str = "unknown",
        message_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message_id = message_id


class TransportError(RelayError):
    """The relay could not be reached or gave an unexpected answer."""


class ConflictError(RelayError):
    """The request conflicts with the resource's current state."""

    def __init__(self, message: str | None = None, *, error_code: str = "conflict") -> None:
        super().__init__(message)
        #: A stable, machine-readable name for the conflict, e.g. ``not_cancellable``.
        self.error_code = error_code


class WebhookUrlError(ValidationError):
    """The webhook URL is not allowed."""

    def __init__(self, message: str | None = None, *, field: str | None = "webhook_url") -> None:
        super().__init__(message, field=field)


class WebhookDeliveryError(RelayError):
    """The webhook receiver could not be reached or did not answer in time."""


#: The ``error_code`` of an exception that carries none of its own, by class (first match).
_CODES_BY_CLASS: tuple[tuple[type[RelayError], str], ...] = (
    (AuthenticationError, "unauthorized"),
    (RateLimitedError, "rate_limited"),
    (NotFoundError, "not_found"),
    (StorageError, "storage_unavailable"),
    (ConfigurationError, "not_configured"),
)


def error_code_of(error: RelayError) -> str:
    """The stable ``error_code`` the HTTP API answers for ``error`` (docs/errors.md): a
    ValidationError's ``code`` (or its ``error_code`` when the code is ``UNKNOWN``), the
    ``error_code`` an exception carries, else its class's code; ``internal_error`` for
    anything else. Every adapter names errors with it, so they name them alike."""
    if isinstance(error, ValidationError):
        return error.code.value if error.code is not ErrorCode.UNKNOWN else error.error_code
    carried = getattr(error, "error_code", None)
    if isinstance(carried, str) and carried:
        return carried
    return next(
        (code for kind, code in _CODES_BY_CLASS if isinstance(error, kind)), "internal_error"
    )
