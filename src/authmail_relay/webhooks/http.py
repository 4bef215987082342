"""The HTTP side of webhook delivery: one POST to the addresses that were checked.

:class:`PinnedTransport` is an httpx transport whose connections can only go to the
addresses of a :class:`~authmail_relay.webhooks.ssrf.PinnedTarget`: the URL (and so the ``Host``
header, TLS SNI and certificate verification) keeps the original host name, while the
TCP connection is made to the checked IP address — there is no second resolution a DNS
answer could change. It keeps no idle connections, so a TLS session set up for one host
is never reused for another.

:func:`post` sends one request with bounded connect and total time, never follows a
redirect and reads at most :data:`MAX_RESPONSE_BYTES` of the answer (undecoded). Every
failure of httpx, httpcore, TLS or the socket becomes
:class:`~authmail_relay.exceptions.WebhookDeliveryError` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass

import httpcore
import httpx

from .. import __version__
from ..exceptions import WebhookDeliveryError
from .ssrf import PinnedTarget

__all__ = ["MAX_RESPONSE_BYTES", "USER_AGENT", "HttpReply", "PinnedTransport", "post"]

#: At most this much of a receiver's answer is read and kept.
MAX_RESPONSE_BYTES = 1024
USER_AGENT = f"authmail-relay/{__version__} (webhooks)"


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects the checked host name to its checked addresses, and nothing else."""

    def __init__(self, pinned: PinnedTarget, base: httpcore.AsyncNetworkBackend) -> None:
        self._pinned = pinned
        self._base = base

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        target = self._pinned.target
        if host.lower().rstrip(".") != target.host or port != target.port:
            raise httpcore.ConnectError(f"refusing to connect to unchecked {host}:{port}")
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in self._pinned.addresses:  # in resolver order, like a plain client
            try:
                return await self._base.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._base.sleep(seconds)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Raise httpcore's exceptions as httpx's, as a well-behaved httpx transport does."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc), request=request) from exc
    except httpcore.ConnectError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except httpcore.NetworkError as exc:
        raise httpx.NetworkError(str(exc), request=request) from exc
    except httpcore.ProtocolError as exc:
        raise httpx.ProtocolError(str(exc), request=request) from exc
    except (httpcore.ProxyError, httpcore.UnsupportedProtocol) as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only to the checked addresses of one host.

    *network_backend* is the httpcore backend that makes the actual connections (the
    default opens real sockets); tests pass one that records where it was asked to go.
    """

    def __init__(
        self,
        pinned: PinnedTarget,
        *,
        ssl_context: ssl.SSLContext,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            max_keepalive_connections=0,
            retries=0,
            network_backend=_PinnedBackend(pinned, network_backend or httpcore.AnyIOBackend()),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=content,
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            response = await self._pool.handle_async_request(core_request)
        stream = response.stream
        if not isinstance(stream, typing.AsyncIterable):  # pragma: no cover - httpcore contract
            raise httpx.TransportError("synchronous response stream", request=request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


@dataclass(frozen=True)
class HttpReply:
    """The receiver's answer: status, ``Retry-After`` (raw) and the body's first KiB."""

    status_code: int
    retry_after: str | None
    body_start: str


async def post(
    pinned: PinnedTarget,
    body: bytes,
    headers: Mapping[str, str],
    *,
    ssl_context: ssl.SSLContext,
    connect_timeout: float,
    total_timeout: float,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> HttpReply:
    """POST *body* to the pinned target; WebhookDeliveryError when no answer came.

    Any HTTP status is an answer (including ``3xx``: the redirect is not followed).
    """
    transport = PinnedTransport(pinned, ssl_context=ssl_context, network_backend=network_backend)
    all_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers}

    async def exchange() -> HttpReply:
        async with (
            httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
                follow_redirects=False,
                trust_env=False,
            ) as client,
            client.stream("POST", pinned.target.url, content=body, headers=all_headers) as response,
        ):
            start = bytearray()
            async for chunk in response.aiter_raw():
                start += chunk
                if len(start) >= MAX_RESPONSE_BYTES:
                    break
            return HttpReply(
                status_code=response.status_code,
                retry_after=response.headers.get("retry-after"),
                body_start=bytes(start[:MAX_RESPONSE_BYTES]).decode("utf-8", "replace"),
            )

    try:
        return await asyncio.wait_for(exchange(), total_timeout)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise WebhookDeliveryError(f"no answer within {total_timeout:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise WebhookDeliveryError(_describe(exc)) from exc
    except (ssl.SSLError, OSError) as exc:
        raise WebhookDeliveryError(f"connection failed: {type(exc).__name__}") from exc


def _describe(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    """A one-line reason naming the failure, without the URL (it may hold tokens)."""
    cause: BaseException = exc.__cause__ or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    kind = type(exc).__name__
    return f"{kind}: {text[:200]}" if text else kind
