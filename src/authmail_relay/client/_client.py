"""Python client for the relay's HTTP API (needs the ``[http]`` extra, for httpx).

::

    from authmail_relay.client import AuthmailClient

    with AuthmailClient("https://relay.example.com", api_key) as relay:
        outcome = relay.send_otp("ada@example.org", "482913", user_name="Ada")

:class:`AuthmailClient` blocks; :class:`AsyncAuthmailClient` has the same methods as
coroutines. Both are built on one I/O-free base
(:mod:`authmail_relay.client._calls`, :mod:`authmail_relay.client._base`): it checks the
arguments, builds each request, reads each answer and decides about retries, so the two
classes differ only in how they make the HTTP exchange and how they sleep.

Errors are the package's own exceptions (:mod:`authmail_relay.exceptions`), with an
:class:`~authmail_relay.client._models.ErrorInfo` reachable through :func:`error_info`; no
httpx exception leaves a client. Requests that create a message always carry an
``Idempotency-Key`` (the caller's, or a fresh uuid4), the same on every retry, so a
retry never creates a second message. See ``docs/client.md``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from ..exceptions import ConfigurationError, TransportError
from ._base import HTTPX_ERRORS, Call, Retry
from ._calls import ClientCalls
from ._models import (
    Accepted,
    ApiKeyInfo,
    ApprovalRule,
    AuditEntry,
    AuditPage,
    AuditVerification,
    DecisionResult,
    ErrorInfo,
    FieldError,
    Message,
    MessageAttempt,
    MessageAuditEntry,
    MessageEvent,
    MessagePage,
    SendOutcome,
    SendStatus,
    error_info,
)
from ._resources import (
    DomainDkim,
    DomainDmarc,
    DomainReport,
    DomainSpf,
    TemplateCatalog,
    TemplateKind,
    TemplatePreview,
)

__all__ = [
    "Accepted",
    "ApiKeyInfo",
    "ApprovalRule",
    "AsyncAuthmailClient",
    "AuditEntry",
    "AuditPage",
    "AuditVerification",
    "AuthmailClient",
    "DecisionResult",
    "DomainDkim",
    "DomainDmarc",
    "DomainReport",
    "DomainSpf",
    "ErrorInfo",
    "FieldError",
    "Message",
    "MessageAttempt",
    "MessageAuditEntry",
    "MessageEvent",
    "MessagePage",
    "SendOutcome",
    "SendStatus",
    "TemplateCatalog",
    "TemplateKind",
    "TemplatePreview",
    "error_info",
]

P = ParamSpec("P")
T = TypeVar("T")
Builder = Callable[Concatenate[ClientCalls, P], Call[T]]


def _blocking(build: Builder[P, T]) -> Callable[Concatenate[AuthmailClient, P], T]:
    """A blocking public method that performs the call ``build`` describes."""

    def method(self: AuthmailClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._perform(build(self, *args, **kwargs))

    _present(method, build, "AuthmailClient")
    return method


def _awaiting(
    build: Builder[P, T],
) -> Callable[Concatenate[AsyncAuthmailClient, P], Coroutine[Any, Any, T]]:
    """The coroutine twin of :func:`_blocking`."""

    async def method(self: AsyncAuthmailClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._perform(build(self, *args, **kwargs))

    _present(method, build, "AsyncAuthmailClient")
    return method


def _present(method: Any, build: Callable[..., Any], owner: str) -> None:
    """Give ``method`` the builder's public name, docstring and signature (for help())."""
    name = build.__name__.lstrip("_")
    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__doc__ = build.__doc__
    signature = inspect.signature(build)
    returned = str(signature.return_annotation).removeprefix("Call[").removesuffix("]")
    method.__signature__ = signature.replace(return_annotation=returned)


class AuthmailClient(ClientCalls):
    """Blocking client: ``AuthmailClient(base_url, api_key)``; use it in a ``with`` block
    or call :meth:`close`. One instance may be shared by threads.

    ``timeout`` bounds each attempt (give ``/send*`` more than the relay's
    ``SEND_WAIT_SECONDS``). ``max_retries`` more attempts follow connection failures,
    timeouts, 503 and 429, after ``Retry-After`` when the relay gives one of at most
    ``max_retry_wait`` seconds (a longer one is raised at once), else after a short
    exponential backoff. ``transport`` replaces httpx's network transport; ``headers``
    are added to every request; ``sleep`` is how the client waits between attempts.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        max_retry_wait: float = 10.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            max_retry_wait=max_retry_wait,
        )
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise ConfigurationError("AuthmailClient needs a blocking httpx.BaseTransport")
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._default_headers,
            timeout=self.timeout,
            transport=transport,
        )

    def __enter__(self) -> AuthmailClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        self._http.close()

    def _perform(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            if self._http.is_closed:
                raise TransportError("this client is closed")
            step: T | Retry
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params or None,
                    content=call.content,
                    headers=call.headers,
                    # A long poll brings its own (its wait on top of the client's).
                    timeout=httpx.USE_CLIENT_DEFAULT if call.timeout is None else call.timeout,
                )
            except HTTPX_ERRORS as exc:
                step = self._after_failure(call, attempt, exc)
            else:
                step = self._settle(call, attempt, response)
            if not isinstance(step, Retry):
                return step
            self._sleep(step.seconds)
            attempt += 1

    send = _blocking(ClientCalls._send)
    send_otp = _blocking(ClientCalls._send_otp)
    send_magic_link = _blocking(ClientCalls._send_magic_link)
    send_password_reset = _blocking(ClientCalls._send_password_reset)
    create_message = _blocking(ClientCalls._create_message)
    get_message = _blocking(ClientCalls._get_message)
    wait_for_message = _blocking(ClientCalls._wait_for_message)
    list_messages = _blocking(ClientCalls._list_messages)
    cancel = _blocking(ClientCalls._cancel)
    consume = _blocking(ClientCalls._consume)
    list_audit = _blocking(ClientCalls._list_audit)
    verify_audit = _blocking(ClientCalls._verify_audit)
    list_approvals = _blocking(ClientCalls._list_approvals)
    approve = _blocking(ClientCalls._approve)
    reject = _blocking(ClientCalls._reject)
    decide = _blocking(ClientCalls._decide)
    health = _blocking(ClientCalls._health)
    list_rules = _blocking(ClientCalls._list_rules)
    get_rule = _blocking(ClientCalls._get_rule)
    create_rule = _blocking(ClientCalls._create_rule)
    update_rule = _blocking(ClientCalls._update_rule)
    delete_rule = _blocking(ClientCalls._delete_rule)
    set_key_oversight = _blocking(ClientCalls._set_key_oversight)
    list_templates = _blocking(ClientCalls._list_templates)
    preview_template = _blocking(ClientCalls._preview_template)
    check_domain = _blocking(ClientCalls._check_domain)


class AsyncAuthmailClient(ClientCalls):
    """The asyncio twin of :class:`AuthmailClient`: the same arguments and methods, as
    coroutines; use it in an ``async with`` block or call :meth:`aclose`. ``transport``
    is an ``httpx.AsyncBaseTransport``; ``sleep`` is awaited between attempts."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        max_retry_wait: float = 10.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            max_retry_wait=max_retry_wait,
        )
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ConfigurationError("AsyncAuthmailClient needs an httpx.AsyncBaseTransport")
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._default_headers,
            timeout=self.timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncAuthmailClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        await self._http.aclose()

    async def _perform(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            if self._http.is_closed:
                raise TransportError("this client is closed")
            step: T | Retry
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params or None,
                    content=call.content,
                    headers=call.headers,
                    # A long poll brings its own (its wait on top of the client's).
                    timeout=httpx.USE_CLIENT_DEFAULT if call.timeout is None else call.timeout,
                )
            except HTTPX_ERRORS as exc:
                step = self._after_failure(call, attempt, exc)
            else:
                step = self._settle(call, attempt, response)
            if not isinstance(step, Retry):
                return step
            await self._sleep(step.seconds)
            attempt += 1

    send = _awaiting(ClientCalls._send)
    send_otp = _awaiting(ClientCalls._send_otp)
    send_magic_link = _awaiting(ClientCalls._send_magic_link)
    send_password_reset = _awaiting(ClientCalls._send_password_reset)
    create_message = _awaiting(ClientCalls._create_message)
    get_message = _awaiting(ClientCalls._get_message)
    wait_for_message = _awaiting(ClientCalls._wait_for_message)
    list_messages = _awaiting(ClientCalls._list_messages)
    cancel = _awaiting(ClientCalls._cancel)
    consume = _awaiting(ClientCalls._consume)
    list_audit = _awaiting(ClientCalls._list_audit)
    verify_audit = _awaiting(ClientCalls._verify_audit)
    list_approvals = _awaiting(ClientCalls._list_approvals)
    approve = _awaiting(ClientCalls._approve)
    reject = _awaiting(ClientCalls._reject)
    decide = _awaiting(ClientCalls._decide)
    health = _awaiting(ClientCalls._health)
    list_rules = _awaiting(ClientCalls._list_rules)
    get_rule = _awaiting(ClientCalls._get_rule)
    create_rule = _awaiting(ClientCalls._create_rule)
    update_rule = _awaiting(ClientCalls._update_rule)
    delete_rule = _awaiting(ClientCalls._delete_rule)
    set_key_oversight = _awaiting(ClientCalls._set_key_oversight)
    list_templates = _awaiting(ClientCalls._list_templates)
    preview_template = _awaiting(ClientCalls._preview_template)
    check_domain = _awaiting(ClientCalls._check_domain)
