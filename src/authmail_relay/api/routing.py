"""The route class of every router: successful answers carry the key's rate-limit state.

A request counted against its API key's requests per minute (see
:func:`.deps.authenticated`) leaves its ``RateLimit-Policy`` and ``RateLimit`` headers in
the request state; :class:`CountedRoute` copies them onto the route's answer when it is a
``2xx``, whatever kind of response the route returned (a model, a ``JSONResponse``, an
idempotent replay). Errors keep their own headers: a ``429`` names the limit that
refused, and other failures say nothing about quota.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

_STATE_KEY = "rate_limit_headers"


def set_rate_limit_headers(request: Request, headers: Mapping[str, str]) -> None:
    """Remember *headers* for this request's successful answer."""
    setattr(request.state, _STATE_KEY, dict(headers))


def rate_limit_headers(request: Request) -> dict[str, str]:
    """The headers :func:`set_rate_limit_headers` left for this request (none if it was
    not counted)."""
    headers: dict[str, str] = getattr(request.state, _STATE_KEY, None) or {}
    return headers


class CountedRoute(APIRoute):
    """An APIRoute that adds the request's rate-limit headers to a ``2xx`` answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_rate_limit_headers(request: Request) -> Response:
            response = await handler(request)
            if 200 <= response.status_code < 300:
                response.headers.update(rate_limit_headers(request))
            return response

        return with_rate_limit_headers
