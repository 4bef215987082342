"""The I/O-free half of the HTTP client: settings, requests, answers, errors and retries.

:class:`ClientBase` is shared by :class:`~authmail_relay.client.AuthmailClient` and
:class:`~authmail_relay.client.AsyncAuthmailClient`. Every public method of theirs is a
builder in :class:`~authmail_relay.client._calls.ClientCalls` that validates its arguments
and returns a :class:`Call` (the request, and how to read the answer); the twins only make
the HTTP exchange and sleep between attempts. After each attempt they ask
:meth:`ClientBase._settle` (an answer arrived) or :meth:`ClientBase._after_failure` (none
did) whether to return, raise, or retry after a pause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx

from .. import __version__
from ..backoff import backoff_delay
from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DeliveryError,
    HeaderInjectionError,
    InvalidAddressError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RelayError,
    StorageError,
    TransportError,
    ValidationError,
)
from ..vocabulary import ErrorCode
from ._decode import WireError, field_errors
from ._models import ErrorInfo, FieldError, attach_info

T = TypeVar("T")

#: Pause before retry number ``n`` (0-based) when the relay gave no Retry-After:
#: ``BACKOFF_BASE * 2**n`` seconds, at most ``BACKOFF_MAX``, without jitter
#: (:func:`~authmail_relay.backoff.backoff_delay`).
BACKOFF_BASE = 0.25
BACKOFF_MAX = 4.0
#: httpx failures after which the request may have reached the relay.
RETRYABLE_FAILURES = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
#: httpx failures that prove the request was never sent.
UNSENT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Every httpx exception a request can raise; none of them leaves the client.
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_ENTITY_FIELD = {"invalid_dry_run": "dry_run", "invalid_idempotency_key": "idempotency_key"}


@dataclass(frozen=True)
class Answer:
    """A successful HTTP answer, its JSON already parsed, for a :class:`Call`'s decoder."""

    status: int
    data: object
    headers: httpx.Headers
    idempotency_key: str | None

    @property
    def replayed(self) -> bool:
        return str(self.headers.get("idempotent-replayed", "")).lower() == "true"

    @property
    def request_id(self) -> str | None:
        value = self.headers.get("x-request-id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request and how to read its answer.

    ``replay_safe`` says whether sending the request twice has the effect of sending it
    once (reads, creates with an ``Idempotency-Key``, consume). A call that is not is
    retried only when the relay provably did nothing (no connection, 503, 429).
    ``compatible`` marks the ``/send*`` routes, whose 502 describes a refused delivery.
    ``timeout`` replaces the client's own timeout for this request (a long poll needs
    its wait on top of it); None: the client's.
    """

    method: str
    path: str
    decode: Callable[[Answer], T]
    ok: frozenset[int] = frozenset({200})
    params: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    replay_safe: bool = True
    compatible: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class Retry:
    """Make the same call again, with the same headers, after ``seconds``."""

    seconds: float


class ClientBase:
    """Settings and decisions shared by the sync and async clients (no I/O here).

    Raises :class:`~authmail_relay.exceptions.ConfigurationError` for an unusable
    ``base_url``, ``api_key``, ``timeout``, ``max_retries``, ``max_retry_wait`` or
    ``headers``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        max_retry_wait: float = 10.0,
    ) -> None:
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("base_url must be an http:// or https:// URL")
        if not isinstance(api_key, str) or not api_key or not _is_token(api_key):
            raise ConfigurationError("api_key must be non-empty printable ASCII without spaces")
        if not _positive(timeout):
            raise ConfigurationError("timeout must be a positive number of seconds")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigurationError("max_retries must be an integer >= 0")
        if not _positive(max_retry_wait):
            raise ConfigurationError("max_retry_wait must be a positive number of seconds")
        extra = dict(headers or {})
        for name, value in extra.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ConfigurationError("headers must map strings to strings")
            if not _is_token(name) or _HEADER_UNSAFE.search(value) or not value.isascii():
                raise ConfigurationError(f"header {name[:40]!r} has an unusable name or value")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_retry_wait = float(max_retry_wait)
        self._default_headers = {
            "User-Agent": f"authmail-relay-client/{__version__}",
            "Accept": "application/json",
            **extra,
            "Authorization": f"Bearer {api_key}",
        }

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}({self.base_url!r})"

    # Decisions ------------------------------------------------------------------------

    def _settle(self, call: Call[T], attempt: int, response: httpx.Response) -> T | Retry:
        """The result of an answered attempt, a :class:`Retry`, or the mapped exception."""
        if response.status_code in call.ok:
            empty = response.status_code == 204
            data = None if empty else self._json(call, attempt, response)
            answer = Answer(response.status_code, data, response.headers, call.idempotency_key)
            try:
                return call.decode(answer)
            except WireError as exc:
                message = f"unexpected answer from {call.method} {call.path}: {exc}"
                raise self._with_info(TransportError(message), call, attempt, response) from exc
        wait = self._retry_wait(call, attempt, response)
        if wait is not None:
            return Retry(wait)
        raise self._error(call, attempt, response)

    def _after_failure(self, call: Call[Any], attempt: int, exc: Exception) -> Retry:
        """A :class:`Retry` after an httpx failure, or TransportError (chained to it)."""
        unsent = isinstance(exc, UNSENT_FAILURES)
        retryable = isinstance(exc, RETRYABLE_FAILURES) and (call.replay_safe or unsent)
        if retryable and attempt < self.max_retries:
            return Retry(backoff_delay(attempt, BACKOFF_BASE, BACKOFF_MAX))
        if unsent:
            message = f"could not connect to the relay at {self.base_url}"
        elif isinstance(exc, httpx.TimeoutException):
            waited = self.timeout if call.timeout is None else call.timeout
            message = f"no answer from the relay within {waited:g} s"
        else:
            message = f"{type(exc).__name__} talking to the relay: {str(exc)[:200]}"
        if not unsent and not call.replay_safe:
            message += "; the request may or may not have taken effect"
        raise self._with_info(TransportError(message), call, attempt) from exc

    def _retry_wait(self, call: Call[Any], attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying after ``response``, or None not to retry."""
        status = response.status_code
        if attempt >= self.max_retries or status not in (429, 503):
            return None
        if status == 503 and _problem(response).get("error_code") == "not_configured":
            return None
        asked = retry_after(response.headers)
        if asked is None:
            return backoff_delay(attempt, BACKOFF_BASE, BACKOFF_MAX)
        return asked if asked <= self.max_retry_wait else None

    def _json(self, call: Call[Any], attempt: int, response: httpx.Response) -> object:
        try:
            return json.loads(response.content)
        except ValueError as exc:
            message = f"the answer to {call.method} {call.path} is not JSON"
            raise self._with_info(TransportError(message), call, attempt, response) from exc

    def _error(self, call: Call[Any], attempt: int, response: httpx.Response) -> RelayError:
        """The package exception for an error answer, with its :class:`ErrorInfo`."""
        status = response.status_code
        problem = _problem(response)
        code = problem.get("error_code")
        detail = problem.get("detail")
        errors = field_errors(problem.get("errors"))
        if status == 502 and call.compatible and isinstance(detail, dict):
            # The compatible routes' refusal: {"detail": {"error_code", "message", "id"}}.
            code = str(detail.get("error_code") or "unknown")
            refused = DeliveryError(
                str(detail.get("message") or "the upstream refused the mail")[:300],
                error_code=code,
                message_id=detail["id"] if isinstance(detail.get("id"), str) else None,
            )
            return self._with_info(refused, call, attempt, response, code)
        if not isinstance(code, str):
            message = f"unexpected HTTP {status} from {call.method} {call.path}"
            return self._with_info(TransportError(message), call, attempt, response)
        text = str(detail)[:300] if isinstance(detail, str) else None
        error: RelayError
        if status == 401:
            error = AuthenticationError(text)
        elif status == 403:
            error = PermissionDeniedError(text, error_code=code)
        elif status == 429:
            error = _rate_limited(text, problem, response.headers)
        elif status == 404:
            error = NotFoundError(text)
        elif status == 409:
            error = ConflictError(text, error_code=code)
        elif status in (400, 413, 422):
            name = errors[0].field if errors else _ENTITY_FIELD.get(code, "body")
            error = _validation_error(text, code, name)
        elif status == 503:
            error = ConfigurationError(text) if code == "not_configured" else StorageError(text)
        else:
            error = TransportError(f"HTTP {status} {code} from {call.method} {call.path}")
        return self._with_info(error, call, attempt, response, code, errors)

    def _with_info(
        self,
        error: RelayError,
        call: Call[Any],
        attempt: int,
        response: httpx.Response | None = None,
        code: str | None = None,
        errors: tuple[FieldError, ...] = (),
    ) -> RelayError:
        detail = _problem(response).get("detail") if response is not None else None
        info = ErrorInfo(
            method=call.method,
            path=call.path,
            attempts=attempt + 1,
            status=None if response is None else response.status_code,
            error_code=code,
            detail=detail if isinstance(detail, str) else None,
            request_id=None if response is None else response.headers.get("x-request-id"),
            field_errors=errors,
            idempotency_key=call.idempotency_key,
        )
        attach_info(error, info)
        return error


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delay or HTTP date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def _rate_limited(
    message: str | None, problem: Mapping[str, Any], headers: httpx.Headers
) -> RateLimitedError:
    """RateLimitedError for a 429: ``limit`` from the problem body (None for the failed-
    authentication throttle, which names none), ``retry_after`` from ``Retry-After``
    (1 s when absent), and the policy's quota and window from ``RateLimit-Policy``."""
    name = problem.get("limit")
    limit = name if isinstance(name, str) and name else None
    wait = retry_after(headers)
    quota, window = _policy(headers.get("ratelimit-policy", ""), limit)
    return RateLimitedError(
        message,
        retry_after=1.0 if wait is None else wait,
        limit=limit,
        quota=quota,
        window_seconds=window,
    )


def _policy(header: str, name: str | None) -> tuple[int, int]:
    """``q`` and ``w`` of the ``RateLimit-Policy`` entry named ``name`` (structured
    field: ``"name";q=5;w=900``, entries separated by commas); (0, 0) when absent."""
    if name is None:
        return 0, 0
    for entry in header.split(","):
        label, _, parameters = entry.strip().partition(";")
        if label != f'"{name}"':
            continue
        values: dict[str, str] = {}
        for part in parameters.split(";"):
            key, _, value = part.strip().partition("=")
            values.setdefault(key, value)
        quota, window = values.get("q", ""), values.get("w", "")
        if quota.isdigit() and window.isdigit():
            return int(quota), int(window)
    return 0, 0


def _validation_error(message: str | None, code: str, name: str) -> ValidationError:
    """The most specific ValidationError for ``code``; the relay's code stays reachable
    as ``error.error_code`` (and in :func:`~authmail_relay.client._models.error_info`)."""
    known = {member.value: member for member in ErrorCode}
    error: ValidationError
    if code == ErrorCode.INVALID_ADDRESS.value:
        error = InvalidAddressError(message, field=name)
    elif code == ErrorCode.CRLF_IN_HEADER.value:
        error = HeaderInjectionError(message, field=name)
    else:
        error = ValidationError(message, field=name, code=known.get(code))
    error.__dict__["error_code"] = code  # an attribute ValidationError does not declare
    return error


def _problem(response: httpx.Response | None) -> dict[str, Any]:
    """The response's problem+json body as a dict (empty when it is something else)."""
    if response is None:
        return {}
    try:
        data = json.loads(response.content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_token(text: str) -> bool:
    return text.isascii() and text.isprintable() and " " not in text
