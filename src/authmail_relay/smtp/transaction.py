"""One synchronous SMTP transaction over the standard library's ``smtplib``.

Used by :class:`~authmail_relay.sender.SmtpSender` (library mode). Every reply and
exception is translated into an :class:`~authmail_relay.smtp.outcome.Outcome` here; no
``smtplib`` exception leaves this module. DATA is sent in explicit steps so a failure is
attributed to the correct side of the final dot.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl

from ..mail.composing import Composed
from ..vocabulary import TlsMode
from . import outcome as outcomes
from .config import SmtpConfig
from .outcome import Outcome, Stage

_ENVELOPE_ADDRESS = re.compile(r"[^\s<>\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+")
_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_LINE_START_DOT = re.compile(rb"(?m)^\.")


def transmit(config: SmtpConfig, context: ssl.SSLContext | None, composed: Composed) -> Outcome:
    """Open a connection, send ``composed`` once, close; every failure becomes an Outcome."""
    problem = _check_envelope(composed)
    if problem is not None:
        return problem
    return _Transaction(config, context, composed).run()


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
