"""The worker's SMTP adapter: one reusable ``aiosmtplib`` connection.

An :class:`SmtpSession` opens its connection lazily (connect, EHLO, STARTTLS with a
verifying context and EHLO again, AUTH only over TLS) and keeps it for the next message.
Before reusing an idle connection it sends ``RSET`` (a health check that also clears any
half-finished transaction); if that fails it reconnects once. A connection idle longer
than ``max_idle_seconds`` or older than ``max_age_seconds`` is closed and replaced rather
than reused (servers drop idle clients, and providers rotate their front ends).
Every ``aiosmtplib`` exception is translated here into an
:class:`~authmail_relay.smtp.outcome.Outcome`; none escapes this module.

DATA is sent in two explicit steps (the ``DATA`` command, then the message bytes and
the final dot) so a failure is attributed to the right side of the final dot: only a
disconnect or timeout after the message bytes were handed to the connection is
reported as ``smtp_disconnect_uncertain``.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence

import aiosmtplib

from ..vocabulary import TlsMode
from . import outcome as outcomes
from .config import SmtpConfig
from .outcome import Outcome, Stage

_LEADING_DOT = re.compile(rb"(?m)^\.")

#: Called just before MAIL FROM; returning False abandons the transaction unsent.
BeforeMail = Callable[[], Awaitable[bool]]


class _Abort(Exception):
    """Internal: a step failed; carries the classified outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class SmtpSession:
    """A lazily opened, reused connection to one upstream SMTP server.

    Not safe for concurrent use: one transaction at a time (the worker gives each
    concurrent sender its own session).
    """

    def __init__(
        self,
        config: SmtpConfig,
        *,
        max_idle_seconds: float = 30.0,
        max_age_seconds: float = 300.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.max_idle_seconds = max_idle_seconds
        self.max_age_seconds = max_age_seconds
        self._client: aiosmtplib.SMTP | None = None
        self._last_used = 0.0
        self._opened_at = 0.0
        #: Connections opened so far (a reconnect after a health-check failure counts).
        self.connections_opened = 0
        self._context = context

    @property
    def is_open(self) -> bool:
        """True while a connection is held."""
        return self._client is not None and self._client.is_connected

    async def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        raw: bytes,
        *,
        smtputf8: bool = False,
        before_mail: BeforeMail | None = None,
    ) -> Outcome | None:
        """Run one mail transaction; ``None`` means ``before_mail`` vetoed it (nothing sent)."""
        try:
            client = await self._ready()
            if before_mail is not None and not await before_mail():
                return None
            return await self._transaction(client, envelope_from, recipients, raw, smtputf8)
        except _Abort as abort:
            await self.close()
            return abort.outcome
        finally:
            self._last_used = time.monotonic()

    async def close(self) -> None:
        """QUIT if possible and drop the connection; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        transport = client.transport  # quit() forgets it; we still have to free it
        try:
            if client.is_connected:
                await client.quit(timeout=min(self.config.timeout, 2.0))
        except (aiosmtplib.SMTPException, OSError, RuntimeError):
            pass
        finally:
            await _discard(client, transport)

    async def _ready(self) -> aiosmtplib.SMTP:
        client = self._client
        now = time.monotonic()
        fresh = now - self._last_used < self.max_idle_seconds
        young = now - self._opened_at < self.max_age_seconds
        if client is not None and client.is_connected and fresh and young:
            try:
                await client.rset(timeout=self.config.timeout)
                return client
            except (aiosmtplib.SMTPException, OSError):
                pass  # stale connection: open a fresh one below
        await self.close()
        self._client = await self._open()
        self._opened_at = time.monotonic()
        self.connections_opened += 1
        return self._client

    async def _open(self) -> aiosmtplib.SMTP:
        cfg = self.config
        if self._context is None and cfg.tls_mode is not TlsMode.NONE:
            self._context = cfg.ssl_context()
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            local_hostname=cfg.ehlo_name,
            use_tls=cfg.tls_mode is TlsMode.IMPLICIT,
            start_tls=False,
            tls_context=self._context if cfg.tls_mode is TlsMode.IMPLICIT else None,
        )
        stage = Stage.CONNECT
        try:
            await client.connect()
            await client.ehlo()
            if cfg.tls_mode is TlsMode.STARTTLS:
                if not client.supports_extension("starttls"):
                    raise _Abort(outcomes.starttls_unsupported())
                stage = Stage.STARTTLS
                await client.starttls(tls_context=self._context)
                await client.ehlo()
            if cfg.has_credentials:
                stage = Stage.AUTH
                await self._login(client)
        except _Abort:
            await _discard(client)
            raise
        except Exception as exc:
            await _discard(client)
            raise _Abort(_classify(exc, stage)) from exc
        return client

    async def _login(self, client: aiosmtplib.SMTP) -> None:
        cfg = self.config
        encrypted = client.get_transport_info("sslcontext") is not None
        if not encrypted and not cfg.allow_plaintext_auth:
            raise _Abort(outcomes.plaintext_auth_refused())
        if not client.supports_extension("auth") or not client.supported_auth_methods:
            raise _Abort(outcomes.auth_unsupported())
        await client.login(cfg.user, cfg.password)

    async def _transaction(
        self,
        client: aiosmtplib.SMTP,
        envelope_from: str,
        recipients: Sequence[str],
        raw: bytes,
        smtputf8: bool,
    ) -> Outcome:
        stage = Stage.MAIL
        try:
            options: list[str] = []
            if smtputf8:
                if not client.supports_extension("smtputf8"):
                    raise _Abort(outcomes.smtputf8_unsupported())
                options.append("SMTPUTF8")
            await client.mail(envelope_from, options=options)
            stage = Stage.RCPT
            refused: dict[str, tuple[int, str]] = {}
            for recipient in recipients:
                try:
                    await client.rcpt(recipient)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    refused[recipient] = (exc.code, exc.message)
            if len(refused) == len(recipients):
                await self._reset_quietly(client)
                return outcomes.all_refused(refused)
            stage = Stage.DATA
            start = await client.execute_command(b"DATA")
            if start.code != 354:
                raise _Abort(outcomes.from_reply(Stage.DATA, start.code, start.message))
            protocol = client.protocol
            if protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost")
            body = _LEADING_DOT.sub(b"..", raw)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            stage = Stage.FINAL_DOT
            protocol.write(body + b".\r\n")
            reply = await protocol.read_response(timeout=self.config.timeout)
        except _Abort:
            raise
        except Exception as exc:
            raise _Abort(_classify(exc, stage)) from exc
        if reply.code != 250:
            raise _Abort(outcomes.from_reply(Stage.FINAL_DOT, reply.code, reply.message))
        return outcomes.accepted(reply.code, reply.message, refused=refused)

    @staticmethod
    async def _reset_quietly(client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


async def _discard(client: aiosmtplib.SMTP, transport: asyncio.BaseTransport | None = None) -> None:
    """Drop the connection at once and let the event loop release its socket.

    ``abort`` rather than ``close``: a TLS transport's close waits for the peer's TLS
    shutdown, which a server that just failed our AUTH or handshake may never send, and
    the socket would outlive the session. The transport frees the socket in a callback,
    so give the loop a turn to run it.
    """
    for held in {transport, client.transport} - {None}:
        assert isinstance(held, asyncio.WriteTransport)
        held.abort()
    client.close()
    await asyncio.sleep(0)


def _classify(exc: BaseException, stage: Stage) -> Outcome:
    """Translate an aiosmtplib (or socket/TLS) exception raised during ``stage``."""
    cause = exc.__cause__
    if isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        tls_error = exc if isinstance(exc, ssl.SSLError) else cause
        reason = getattr(tls_error, "reason", None) or type(tls_error).__name__
        return outcomes.tls_failed(str(reason).lower().replace("_", " "))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
            return outcomes.from_reply(Stage.CONNECT, exc.code, exc.message)
        return outcomes.from_reply(stage, exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
        return outcomes.from_timeout(Stage.CONNECT)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return outcomes.connection_failed(_describe_os_error(cause) or "connection failed")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return outcomes.from_timeout(stage)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return outcomes.from_disconnect(stage)
    if isinstance(exc, OSError):
        return outcomes.connection_failed(_describe_os_error(exc) or "network error")
    if isinstance(exc, aiosmtplib.SMTPException) and stage is Stage.AUTH:
        return outcomes.auth_unsupported()
    return outcomes.unknown(f"{type(exc).__name__} at {stage.value}")


def _describe_os_error(exc: BaseException | None) -> str | None:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return None
