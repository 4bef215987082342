"""Errors as RFC 9457 ``application/problem+json``: the one place HTTP statuses are chosen.

Every error body has ``type``, ``title``, ``status``, ``detail``, a stable
``error_code`` and the ``request_id``; validation errors add ``errors`` (field and
message, never the submitted value, so a multi-megabyte input is not echoed back).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RelayError,
    StorageError,
    ValidationError,
    error_code_of,
)
from ..trust.rate_limits import ratelimit_header, ratelimit_policy_header, seconds_up

log = logging.getLogger("authmail_relay.api")

PROBLEM_JSON = "application/problem+json"
#: Seconds a client should wait before retrying after a storage failure.
STORAGE_RETRY_AFTER = 5
MAX_ERROR_MESSAGE = 300
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


#: Every ``error_code`` a problem body can carry besides the :class:`ErrorCode` values
#: (documented in docs/errors.md, which a test keeps in step with this set).
API_ERROR_CODES = frozenset(
    {
        "invalid_json",
        "invalid_dry_run",
        "invalid_idempotency_key",
        "invalid_content_length",
        "unauthorized",
        "forbidden",
        "sender_not_allowed",
        "self_mode_change",
        "not_found",
        "method_not_allowed",
        "conflict",
        "idempotency_key_in_use",
        "not_cancellable",
        "not_consumable",
        "not_held",
        "message_expired",
        "self_approval",
        "read_only",
        "reason_required",
        "key_revoked",
        "too_many_rules",
        "delivery_in_flight",
        "dkim_selector_exists",
        "payload_too_large",
        "validation_error",
        "conflicting_scopes",
        "idempotency_key_mismatch",
        "rate_limited",
        "internal_error",
        "storage_unavailable",
        "not_configured",
        "http_error",
    }
)
#: The code of a framework-level HTTP error by status. The framework answers 400 only
#: when it cannot parse the body (too deep, not UTF-8, an integer too long to convert).
_HTTP_ERROR_CODES = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}


class InvalidHeaderError(RelayError):
    """A request header has a value the API does not accept (HTTP 400)."""

    def __init__(self, message: str, *, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


def request_id_of(request: Request) -> str | None:
    """The request's id, as set by the request-id middleware."""
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def problem(
    status: int,
    error_code: str,
    detail: str,
    *,
    request_id: str | None = None,
    errors: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response; *extra* adds members to the body."""
    body: dict[str, Any] = {
        "type": f"urn:authmail-relay:problem:{error_code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail[:MAX_ERROR_MESSAGE],
        "error_code": error_code,
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extra or {})
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def problem_for(exc: RelayError, request_id: str | None) -> JSONResponse:
    """Translate one of the package's exceptions."""
    if isinstance(exc, ValidationError):
        code = error_code_of(exc)
        errors = [{"field": exc.field or "body", "message": exc.message}]
        return problem(422, code, exc.message, request_id=request_id, errors=errors)
    if isinstance(exc, InvalidHeaderError):
        return problem(400, exc.error_code, exc.message, request_id=request_id)
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": 'Bearer realm="authmail-relay"'}
        return problem(401, "unauthorized", exc.message, request_id=request_id, headers=headers)
    if isinstance(exc, PermissionDeniedError):
        return problem(403, exc.error_code, exc.message, request_id=request_id)
    if isinstance(exc, RateLimitedError):
        return _rate_limited(exc, request_id)
    if isinstance(exc, NotFoundError):
        return problem(404, "not_found", exc.message, request_id=request_id)
    if isinstance(exc, ConflictError):
        return problem(409, exc.error_code, exc.message, request_id=request_id)
    if isinstance(exc, StorageError):
        log.error("storage failure: %s", exc.message)
        headers = {"Retry-After": str(STORAGE_RETRY_AFTER)}
        detail = "the message store is unavailable; nothing was stored"
        return problem(503, "storage_unavailable", detail, request_id=request_id, headers=headers)
    if isinstance(exc, ConfigurationError):
        return problem(503, "not_configured", exc.message, request_id=request_id)
    log.error("unexpected relay error %s: %s", type(exc).__name__, exc.message)
    return problem(500, "internal_error", "unexpected error", request_id=request_id)


def _rate_limited(exc: RateLimitedError, request_id: str | None) -> JSONResponse:
    """429 with ``Retry-After`` and, for a named limit, the ``RateLimit-Policy`` and
    ``RateLimit`` headers and the limit's name in the body (``limit``)."""
    wait_ms = int(max(1.0, exc.retry_after) * 1000)
    headers = {"Retry-After": str(seconds_up(wait_ms))}
    extra: dict[str, Any] = {}
    if exc.limit is not None:
        headers["RateLimit-Policy"] = ratelimit_policy_header(
            exc.limit, exc.quota, exc.window_seconds * 1000
        )
        headers["RateLimit"] = ratelimit_header(exc.limit, 0, wait_ms)
        extra["limit"] = exc.limit
    return problem(
        429, "rate_limited", exc.message, request_id=request_id, headers=headers, extra=extra
    )


def install_handlers(app: FastAPI) -> None:
    """Route every error through :func:`problem`."""

    async def relay_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RelayError)
        return problem_for(exc, request_id_of(request))

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_field_error(error) for error in exc.errors()[:20]]
        invalid_json = any(error.get("type") == "json_invalid" for error in exc.errors())
        if invalid_json:
            return problem(
                400, "invalid_json", "the body is not valid JSON", request_id=request_id_of(request)
            )
        return problem(
            422,
            "validation_error",
            "the request is invalid",
            request_id=request_id_of(request),
            errors=errors,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        detail = "the body is not valid JSON" if code == "invalid_json" else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem(
            exc.status_code, code, detail, request_id=request_id_of(request), headers=headers
        )

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return problem(500, "internal_error", "unexpected error", request_id=request_id_of(request))

    app.add_exception_handler(RelayError, relay_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crashed)


def allowed_methods(request: Request) -> str:
    """The ``Allow`` of a 405: every method of the request's path, as the schema lists it.

    Each route holds one operation, so the router's own 405 names only the first route
    that matched the path. Of the paths that match, the one with the fewest parameters
    is the request's (literal routes are declared before parameter ones).
    """
    table: list[tuple[re.Pattern[str], int, str]] | None = getattr(
        request.app.state, "allow_table", None
    )
    if table is None:
        table = []
        for template, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            methods = ", ".join(sorted(m.upper() for m in operations if m.upper() in _METHODS))
            table.append((re.compile(f"^{pattern}$"), template.count("{"), methods))
        table.sort(key=lambda entry: entry[1])
        request.app.state.allow_table = table
    path = request.scope.get("path", "")
    return next((methods for regex, _, methods in table if regex.match(path)), "")


_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})


def field_of(error: Mapping[str, Any]) -> str:
    """The dotted field path of a pydantic error, without ``body`` and without the type
    tags pydantic adds inside unions (``to.list[constrained-str].1`` is ``to.1``)."""
    parts = [
        str(part)
        for part in error.get("loc", ())
        if part != "body" and not (isinstance(part, str) and _UNION_TAG.match(part))
    ]
    return ".".join(parts)[:100] or "body"


_UNION_TAG = re.compile(r"^(constrained-)?(str|int|list\[.*\]|dict\[.*\])$")


def _field_error(error: Mapping[str, Any]) -> dict[str, str]:
    return {"field": field_of(error), "message": str(error.get("msg", "invalid"))[:200]}
