"""Pure ASGI middleware: request ids and the request-body cap.

Both run before routing, so they also cover unauthenticated requests and errors.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


class RequestIdMiddleware:
    """Echo a sane ``X-Request-ID`` (≤128 safe characters) or generate one; store it in
    ``scope["state"]["request_id"]`` and add it to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 — by ``Content-Length`` before reading
    anything, and by counting for streamed (chunked) bodies, so memory stays bounded."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _reply(
                    scope, send, 400, "invalid_content_length", "Content-Length is not a number"
                )
                return
            if int(declared) > self.max_bytes:
                await _reply(scope, send, 413, "payload_too_large", self._detail())
                return
        seen = 0
        rejected = False

        async def counting_receive() -> Message:
            # Past the limit, answer 413 at once and tell the app the client has gone, so
            # it stops reading; whatever it answers then is dropped.
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    rejected = True
                    await _reply(scope, send, 413, "payload_too_large", self._detail())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _reply(scope: Scope, send: Send, status: int, error_code: str, detail: str) -> None:
    request_id = scope.get("state", {}).get("request_id")
    body: dict[str, Any] = {
        "type": f"urn:authmail-relay:problem:{error_code}",
        "title": "Payload too large" if status == 413 else "Bad request",
        "status": status,
        "detail": detail,
        "error_code": error_code,
        "request_id": request_id,
    }
    payload = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(payload)).encode("ascii")),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
