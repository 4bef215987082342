"""OpenAPI documentation of every status a route can return."""

from __future__ import annotations

from typing import Any

from .schemas import Problem

_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given error statuses (problem+json bodies)."""
    descriptions = {
        400: "Malformed request: invalid JSON, a bad X-Dry-Run or Idempotency-Key header.",
        401: "Missing or invalid API key.",
        403: "The API key lacks the route's scope (forbidden), or may not send from this "
        "address (sender_not_allowed).",
        404: "No such message.",
        409: "A request with the same Idempotency-Key is in progress, or the message's state "
        "does not allow this.",
        413: "The body is larger than MAX_BODY_BYTES.",
        422: "Invalid input, or an Idempotency-Key reused with a different body.",
        429: "Rate limited: failed authentications, the key's requests per minute, or a "
        "recipient or domain limit (see Retry-After, RateLimit-Policy and RateLimit).",
        503: "Storage unavailable (see Retry-After) or a required setting is missing.",
    }
    return {status: {**_PROBLEM, "description": descriptions[status]} for status in statuses}


#: Statuses every authenticated route can produce.
AUTHENTICATED = (401, 403, 413, 429, 503)
#: And those of routes that create messages.
CREATING = (*AUTHENTICATED, 400, 409, 422)
