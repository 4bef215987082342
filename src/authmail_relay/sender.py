"""Library mode: send one mail synchronously through the standard library's ``smtplib``.

::

    from authmail_relay.sender import SmtpConfig, SmtpSender

    sender = SmtpSender(SmtpConfig(host="smtp.example.com", user="me", password="..."))
    result = sender.send("user@example.org", "Hello", "<p>Hi!</p>")
    if not result:
        print(result.error_code, result.error_message)

SMTP failures never raise: :meth:`SmtpSender.send` returns a :class:`SendResult` that is
falsy when the mail was not accepted, with an :class:`~authmail_relay.vocabulary.ErrorCode`
saying why. Invalid input (a control character in a header, a bad address) also gives a
falsy result, before any connection is made. Every smtplib reply and exception is mapped
through :mod:`authmail_relay.smtp_outcome`, so results mean the same as in service mode.
"""

from __future__ import annotations

import contextlib
import random
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from . import smtp_outcome as outcomes
from .composing import Composed, Draft, compose, make_draft
from .exceptions import ConfigurationError, ValidationError
from .smtp_config import SmtpConfig
from .smtp_outcome import Outcome, Stage
from .vocabulary import MessageStatus, TlsMode

__all__ = ["SendResult", "SmtpConfig", "SmtpSender"]

#: Relative spread of each retry delay (±25 %), so clients that failed together do not
#: all come back at the same moment.
JITTER = 0.25

_ENVELOPE_ADDRESS = re.compile(r"[^\s<>\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+")
_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_LINE_START_DOT = re.compile(rb"(?m)^\.")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SendResult:
    """How a library send ended; truthy exactly when the server accepted the mail.

    ``status`` is ``"sent"`` or ``"failed"`` (:class:`MessageStatus`); ``error_code`` an
    :class:`~authmail_relay.vocabulary.ErrorCode` value or ``None``. A partial refusal is
    ``sent=True`` with ``error_code="recipient_refused"`` and the refused addresses in
    ``refused``. ``message_id`` is set whenever a message was composed, even if it was
    not sent. ``attempts`` counts SMTP transactions (0 when input was invalid). Nothing
    here ever contains the SMTP password.
    """

    sent: bool
    status: str
    error_code: str | None = None
    error_message: str | None = None
    message_id: str | None = None
    refused: tuple[str, ...] = ()
    attempts: int = 0
    smtp_code: int | None = None
    smtp_reply: str | None = None

    def __bool__(self) -> bool:
        return self.sent

    @classmethod
    def from_outcome(cls, outcome: Outcome, *, message_id: str, attempts: int) -> SendResult:
        """The result of the last SMTP attempt for ``message_id``."""
        return cls(
            sent=outcome.sent,
            status=MessageStatus.SENT if outcome.sent else MessageStatus.FAILED,
            error_code=outcome.error_code,
            error_message=outcome.message if outcome.error_code else None,
            message_id=message_id,
            refused=outcome.refused,
            attempts=attempts,
            smtp_code=outcome.smtp_code,
            smtp_reply=outcome.smtp_reply,
        )

    @classmethod
    def invalid(cls, error: ValidationError, *, message_id: str | None = None) -> SendResult:
        """A send refused before any connection because the input was unusable."""
        return cls(
            sent=False,
            status=MessageStatus.FAILED,
            error_code=error.code,
            error_message=error.message,
            message_id=message_id,
        )


class SmtpSender:
    """Sends mail through one SMTP server; safe to reuse, one connection per send.

    ``max_retries`` extra attempts are made for retryable outcomes (4xx replies,
    connection trouble), waiting ``backoff_seconds[n]`` (the last entry repeats, ±25 %
    jitter) in between. A disconnect after the final dot may already have delivered the
    mail, so it is only retried with ``retry_uncertain=True``. Every attempt sends the
    same bytes with the same Message-ID. ``sleep``, ``rand`` and ``clock`` are
    injectable for tests.
    """

    def __init__(
        self,
        config: SmtpConfig,
        *,
        max_retries: int = 0,
        backoff_seconds: Sequence[float] = (1, 5, 25),
        retry_uncertain: bool = False,
        sleep: Callable[[float], object] = time.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError("max_retries must be a whole number >= 0")
        delays = tuple(float(d) for d in backoff_seconds)
        if not delays or any(d < 0 for d in delays):
            raise ConfigurationError("backoff_seconds must be a non-empty list of delays >= 0")
        self.config = config
        self.max_retries = max_retries
        self.backoff_seconds = delays
        self.retry_uncertain = retry_uncertain
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        # Built once so a bad CA file is a ConfigurationError here, not a failed send.
        self._ssl_context = None if config.tls_mode is TlsMode.NONE else config.ssl_context()

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        html_body: str | None = None,
        *,
        text_body: str | None = None,
        cc: str | Sequence[str] | None = None,
        bcc: str | Sequence[str] | None = None,
        reply_to: str | Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
        from_addr: str | None = None,
    ) -> SendResult:
        """Validate, compose and send one mail; never raises for bad input or SMTP errors.

        ``from_addr`` defaults to ``config.from_addr``. Without ``text_body`` the text
        part is derived from ``html_body``; with ``html_body=None`` the mail is text only.
        """
        try:
            draft = make_draft(
                from_addr=from_addr or self.config.from_addr,
                to=to,
                subject=subject,
                html=html_body,
                text=text_body,
                cc=cc,
                bcc=bcc,
                reply_to=reply_to,
                headers=headers,
            )
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self.send_draft(draft)

    def send_draft(self, draft: Draft) -> SendResult:
        """Compose ``draft`` (dated by the clock) and send it."""
        try:
            composed = compose(draft, now=self._clock())
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self.send_composed(composed)

    def send_composed(self, composed: Composed) -> SendResult:
        """Send already-composed bytes, retrying as configured."""
        attempts = 0
        while True:
            attempts += 1
            outcome = self.transmit_once(composed)
            if not self._should_retry(outcome, attempts):
                return SendResult.from_outcome(
                    outcome, message_id=composed.message_id, attempts=attempts
                )
            self._sleep(self.retry_delay(attempts))

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failed attempt (1-based), jittered."""
        base = self.backoff_seconds[min(max(attempt, 1), len(self.backoff_seconds)) - 1]
        return max(0.0, base * (1 + (self._rand() * 2 - 1) * JITTER))

    def _should_retry(self, outcome: Outcome, attempts: int) -> bool:
        if outcome.sent or not outcome.retryable or attempts > self.max_retries:
            return False
        return self.retry_uncertain or not outcome.ambiguous

    def transmit_once(self, composed: Composed) -> Outcome:
        """One SMTP transaction for ``composed``; every failure becomes an Outcome."""
        problem = _check_envelope(composed)
        if problem is not None:
            return problem
        return _Transaction(self.config, self._ssl_context, composed).run()


def _check_envelope(composed: Composed) -> Outcome | None:
    """Refuse bytes or addresses that would corrupt the SMTP conversation."""
    addresses = (composed.envelope_from, *composed.recipients)
    if not composed.recipients or not all(_ENVELOPE_ADDRESS.fullmatch(a) for a in addresses):
        return outcomes.unknown("the envelope has no recipients or an invalid address")
    if _BARE_EOL.search(composed.raw):
        return outcomes.unknown("the message bytes contain a bare CR or LF")
    return None


class _Transaction:
    """One connection: greeting, EHLO, TLS, AUTH, MAIL, RCPT, DATA, QUIT."""

    def __init__(
        self, config: SmtpConfig, context: ssl.SSLContext | None, composed: Composed
    ) -> None:
        self.config = config
        self.context = context
        self.composed = composed
        self.stage = Stage.CONNECT
        self.connected = False
        self.healthy = True
        self.conn: smtplib.SMTP | None = None

    def run(self) -> Outcome:
        try:
            return self._converse()
        except Exception as exc:  # every failure is classified; none escapes to the caller
            self.healthy = False
            return self._classify(exc)
        finally:
            self._finish()

    def _converse(self) -> Outcome:
        config = self.config
        hostname = config.local_hostname or self.composed.envelope_from.rsplit("@", 1)[-1]
        # The constructors connect and read the greeting (a non-220 greeting raises
        # SMTPConnectError); passing the host there is also what makes smtplib verify
        # the certificate against it, for implicit TLS and for STARTTLS alike.
        if config.tls_mode is TlsMode.IMPLICIT:
            self.conn = smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=hostname,
                timeout=config.timeout,
                context=self.context,
            )
        else:
            self.conn = smtplib.SMTP(
                config.host, config.port, local_hostname=hostname, timeout=config.timeout
            )
        self.connected = True
        return (
            self._hello(self.conn)
            or self._starttls(self.conn)
            or self._authenticate(self.conn)
            or self._transfer(self.conn)
        )

    def _hello(self, conn: smtplib.SMTP) -> Outcome | None:
        code, reply = conn.ehlo()
        if not 200 <= code < 300:
            # An old server without ESMTP; anything that needs an extension fails later.
            code, reply = conn.helo()
        if not 200 <= code < 300:
            return outcomes.from_reply(self.stage, code, self._scrub(reply))
        return None

    def _starttls(self, conn: smtplib.SMTP) -> Outcome | None:
        if self.config.tls_mode is not TlsMode.STARTTLS:
            return None
        self.stage = Stage.STARTTLS
        if not conn.has_extn("starttls"):
            return outcomes.starttls_unsupported()
        conn.starttls(context=self.context)
        # RFC 3207: everything learnt before TLS is void, so ask again.
        return self._hello(conn)

    def _authenticate(self, conn: smtplib.SMTP) -> Outcome | None:
        config = self.config
        if not config.has_credentials:
            return None
        self.stage = Stage.AUTH
        if not isinstance(conn.sock, ssl.SSLSocket) and not config.allow_plaintext_auth:
            return outcomes.plaintext_auth_refused()
        if not conn.has_extn("auth"):
            return outcomes.auth_unsupported()
        try:
            conn.login(config.user, config.password)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPResponseException as exc:
            return outcomes.from_reply(Stage.AUTH, exc.smtp_code, self._scrub(exc.smtp_error))
        except smtplib.SMTPException:
            # smtplib found no mechanism it supports among those offered.
            return outcomes.auth_unsupported()
        return None

    def _transfer(self, conn: smtplib.SMTP) -> Outcome:
        composed = self.composed
        self.stage = Stage.MAIL
        options = []
        if composed.needs_smtputf8:
            if not conn.has_extn("smtputf8"):
                return outcomes.smtputf8_unsupported()
            options.append("SMTPUTF8")
            conn.command_encoding = "utf-8"
        if not composed.raw.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if conn.has_extn("size"):
            options.append(f"SIZE={len(composed.raw)}")
        # The commands are written here, not via smtplib.mail()/rcpt(), whose address
        # quoting re-parses the address with email.utils.parseaddr.
        code, reply = conn.docmd("MAIL", " ".join([f"FROM:<{composed.envelope_from}>", *options]))
        if code != 250:
            return outcomes.from_reply(Stage.MAIL, code, self._scrub(reply))
        self.stage = Stage.RCPT
        refused: dict[str, tuple[int, str | None]] = {}
        for recipient in composed.recipients:
            code, reply = conn.docmd("RCPT", f"TO:<{recipient}>")
            if code not in (250, 251):
                refused[recipient] = (code, self._scrub(reply))
        if len(refused) == len(composed.recipients):
            return outcomes.all_refused(refused)
        self.stage = Stage.DATA
        code, reply = conn.docmd("DATA")
        if code != 354:
            return outcomes.from_reply(Stage.DATA, code, self._scrub(reply))
        data = _LINE_START_DOT.sub(b"..", composed.raw)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        conn.send(data)
        # From here on the server may have the whole message: a lost reply is ambiguous.
        self.stage = Stage.FINAL_DOT
        conn.send(b".\r\n")
        code, reply = conn.getreply()
        if code != 250:
            return outcomes.from_reply(Stage.DATA, code, self._scrub(reply))
        return outcomes.accepted(code, self._scrub(reply), refused=refused)

    def _classify(self, exc: Exception) -> Outcome:
        stage = self.stage
        if isinstance(exc, ssl.SSLError) and stage in (Stage.CONNECT, Stage.STARTTLS):
            detail = getattr(exc, "verify_message", None) or exc.reason or type(exc).__name__
            return outcomes.tls_failed(str(detail))
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            # smtplib reports a read timeout as a disconnect; the cause tells them apart.
            if isinstance(exc.__context__, TimeoutError):
                return outcomes.from_timeout(stage)
            return outcomes.from_disconnect(stage)
        if isinstance(exc, smtplib.SMTPResponseException):
            return outcomes.from_reply(stage, exc.smtp_code, self._scrub(exc.smtp_error))
        if isinstance(exc, TimeoutError):
            return outcomes.from_timeout(stage)
        if isinstance(exc, OSError):
            if not self.connected:
                where = f"{self.config.host}:{self.config.port}"
                return outcomes.connection_failed(f"{where} ({exc.strerror or type(exc).__name__})")
            return outcomes.from_disconnect(stage)
        if isinstance(exc, UnicodeError) and stage is Stage.AUTH:
            return outcomes.unknown("the SMTP user name and password must be ASCII")
        return outcomes.unknown(f"unexpected {type(exc).__name__} at {stage.value}")

    def _scrub(self, reply: bytes | str | None) -> str | None:
        """A server reply, made printable, with any echo of the password removed."""
        if isinstance(reply, bytes):
            reply = reply.decode("utf-8", "replace")
        password = self.config.password
        if reply and password:
            reply = reply.replace(password, "***")
        text = outcomes.clean_reply(reply)
        if text and password:
            text = text.replace(password, "***")
        return text

    def _finish(self) -> None:
        conn = self.conn
        if conn is None:
            return
        if self.healthy and self.connected:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.quit()
        conn.close()
