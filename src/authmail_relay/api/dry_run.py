"""``X-Dry-Run``: validate and render, store and send nothing."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from ..mail.message_request import MessageRequest
from ..relay import Relay
from .problems import InvalidHeaderError

HEADER = "X-Dry-Run"
_YES = frozenset({"true", "1", "yes"})
_NO = frozenset({"false", "0", "no"})
#: The values the schema publishes (any case is accepted).
DRY_RUN_VALUES = sorted(_YES | _NO)


def wants_dry_run(request: Request) -> bool:
    """True for ``true|1|yes`` (any case); absent or ``false|0|no`` is a real send; any
    other value is a ``400`` rather than a real send, so a typo can never send mail."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise InvalidHeaderError(
        f"{HEADER} must be true, 1 or yes (or false, 0 or no)", error_code="invalid_dry_run"
    )


async def dry_run_response(relay: Relay, message: MessageRequest) -> JSONResponse:
    """Render the message exactly as it would be stored, and report its size."""
    composed = await relay.preview(message)
    body = {
        "sent": False,
        "dry_run": True,
        "message": "Email payload is valid",
        "size": len(composed.raw),
    }
    return JSONResponse(body)
