"""Relay errors as MCP tool errors: the stable ``error_code`` and a message, never a trace.

A tool that fails answers ``isError: true`` with one text block (``error_code: message``,
for the model to read) and a structured copy: ``{"error_code", "message"}`` plus
``retry_after`` (seconds) for a rate limit and ``fields`` (names only, never the values)
for invalid input. The codes are the HTTP API's (docs/errors.md), so ``forbidden``,
``rate_limited``, ``sender_not_allowed``, ``self_approval``, ``not_found``… mean the same
to an agent as to any other caller.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from mcp.types import CallToolResult, TextContent

from ..client import error_info
from ..exceptions import RateLimitedError, RelayError, TransportError, error_code_of

P = ParamSpec("P")
T = TypeVar("T")

#: Tool arguments whose wire name is a Python keyword: wire name -> parameter name.
_KEYWORD_ARGUMENTS = {"from": "from_"}
#: The longest message a tool error carries (a relay's detail is short; this is a bound).
MAX_MESSAGE = 500


def failure(
    code: str,
    message: str,
    *,
    retry_after: float | None = None,
    fields: dict[str, str] | None = None,
) -> CallToolResult:
    """A tool error: ``code: message`` for the model, and the same as structured data.

    ``fields`` maps each invalid argument to what is wrong with it (never its value).
    """
    message = message[:MAX_MESSAGE] or code
    body: dict[str, Any] = {"error_code": code, "message": message}
    text = f"{code}: {message}"
    if retry_after is not None and math.isfinite(retry_after):
        body["retry_after"] = max(1, math.ceil(retry_after))
        text += f" (retry after {body['retry_after']} s)"
    if fields:
        body["fields"] = sorted(fields)
        text += " [" + "; ".join(f"{name}: {why}" for name, why in fields.items()) + "]"
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


def tool_failure(error: RelayError) -> CallToolResult:
    """The tool result that reports ``error`` to the agent."""
    info = error_info(error)
    code = (info.error_code if info else None) or _code_of(error)
    message = (info.detail if info else None) or str(error)
    retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
    fields = {f.field: f.message for f in info.field_errors} if info else None
    return failure(code, message, retry_after=retry_after, fields=fields)


def _code_of(error: RelayError) -> str:
    # No HTTP answer: the client's own checks and failures. A relay that cannot be
    # reached is the one case the API itself never answers.
    if isinstance(error, TransportError):
        return "relay_unreachable"
    return error_code_of(error)


def reported(
    tool: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[T | CallToolResult]]:
    """``tool``, with every relay error answered as :func:`tool_failure`.

    The wrapper keeps ``tool``'s signature (``functools.wraps``), so the SDK still builds
    the input and output schemas from ``tool`` itself. An argument published under a
    Python keyword (``from``, the alias of ``from_``) arrives under that name and is
    handed on under the parameter's.
    """

    @functools.wraps(tool)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | CallToolResult:
        for wire, name in _KEYWORD_ARGUMENTS.items():
            if wire in kwargs:
                kwargs[name] = kwargs.pop(wire)
        try:
            return await tool(*args, **kwargs)
        except RelayError as error:
            return tool_failure(error)

    return wrapper
