"""Pure classification of how one SMTP transaction ended.

Both SMTP adapters (the stdlib ``smtplib`` one used in library mode and the ``aiosmtplib``
one used by the worker) translate whatever their library raised into a call to one of
the constructors below, so the two modes can never disagree about what a reply means.

The rule that matters most is *where* the transaction stopped: a disconnect or timeout
before the final dot of the message data means nothing was delivered (safe to retry,
:attr:`ErrorCode.SMTP_CONNECTION` / :attr:`ErrorCode.SMTP_TIMEOUT`); only a disconnect or
timeout while waiting for the reply to the final dot is
:attr:`ErrorCode.SMTP_DISCONNECT_UNCERTAIN` (RFC 5321 §3.8; the server may have taken it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ..vocabulary import ErrorCode

#: Longest server reply text kept in results, attempts and logs.
MAX_REPLY_CHARS = 500


class Stage(Enum):
    """The step of the SMTP conversation in which something happened."""

    CONNECT = "connect"  # TCP connect, implicit TLS handshake, greeting, EHLO
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command and the message bytes, up to the final dot
    FINAL_DOT = "final_dot"  # waiting for the reply to the final dot

    @property
    def before_data_complete(self) -> bool:
        """True when the server cannot have accepted the message yet."""
        return self is not Stage.FINAL_DOT


@dataclass(frozen=True)
class Outcome:
    """How a send attempt ended.

    ``retryable`` follows SMTP semantics (4xx, connection trouble, the uncertain window);
    whether a retry actually happens is decided by the caller's retry policy.
    ``ambiguous`` is true only when the server may have accepted the message although we
    did not see its ``250``. ``refused`` holds recipients the server refused. ``stage``
    is the step at which a failure happened (``None`` for a success or when unknown); it
    tells a failure of the upstream itself (connect, TLS, AUTH) from one about the message.
    """

    sent: bool
    error_code: ErrorCode | None = None
    message: str = ""
    retryable: bool = False
    ambiguous: bool = False
    smtp_code: int | None = None
    smtp_reply: str | None = None
    refused: tuple[str, ...] = ()
    stage: Stage | None = None


def clean_reply(text: str | bytes | None) -> str | None:
    """Make a server reply safe to store and show: one line, printable, bounded."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = " ".join(text.split())
    printable = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return printable[:MAX_REPLY_CHARS]


def accepted(
    code: int = 250,
    reply: str | bytes | None = None,
    *,
    refused: Mapping[str, object] | None = None,
) -> Outcome:
    """The server took the message for at least one recipient."""
    refused_list = tuple(sorted(refused or ()))
    if refused_list:
        return Outcome(
            sent=True,
            error_code=ErrorCode.RECIPIENT_REFUSED,
            message=f"accepted for some recipients; {len(refused_list)} refused",
            smtp_code=code,
            smtp_reply=clean_reply(reply),
            refused=refused_list,
        )
    return Outcome(sent=True, message="accepted", smtp_code=code, smtp_reply=clean_reply(reply))


def from_reply(stage: Stage, code: int, reply: str | bytes | None) -> Outcome:
    """The server answered a command with a non-success reply code."""
    text = clean_reply(reply)
    transient = 400 <= code < 500
    if stage is Stage.AUTH and not transient:
        error = ErrorCode.SMTP_AUTH_FAILED
        message = f"authentication failed ({code})"
    elif transient:
        error = ErrorCode.SMTP_TRANSIENT
        message = f"temporary failure at {stage.value} ({code})"
    elif stage is Stage.RCPT:
        error = ErrorCode.RECIPIENT_REFUSED
        message = f"recipient refused ({code})"
    else:
        error = ErrorCode.SMTP_REJECTED
        message = f"rejected at {stage.value} ({code})"
    return Outcome(
        sent=False,
        error_code=error,
        message=message,
        retryable=transient,
        smtp_code=code,
        smtp_reply=text,
        stage=stage,
    )


def all_refused(refused: Mapping[str, tuple[int, str | bytes | None]]) -> Outcome:
    """Every recipient was refused at RCPT; retryable only if some refusal was temporary."""
    codes = [code for code, _ in refused.values()]
    transient = any(400 <= code < 500 for code in codes)
    code = next((c for c in codes if 400 <= c < 500), codes[0] if codes else None)
    reply = next((r for c, r in refused.values() if c == code), None)
    return Outcome(
        sent=False,
        error_code=ErrorCode.RECIPIENT_REFUSED,
        message=f"all {len(refused)} recipient(s) refused",
        retryable=transient,
        smtp_code=code,
        smtp_reply=clean_reply(reply),
        refused=tuple(sorted(refused)),
        stage=Stage.RCPT,
    )


def from_disconnect(stage: Stage) -> Outcome:
    """The connection closed unexpectedly during ``stage``."""
    if stage.before_data_complete:
        return Outcome(
            sent=False,
            error_code=ErrorCode.SMTP_CONNECTION,
            message=f"connection lost at {stage.value}; nothing was delivered",
            retryable=True,
            stage=stage,
        )
    return _uncertain("connection lost after the final dot")


def from_timeout(stage: Stage) -> Outcome:
    """The server did not answer in time during ``stage``."""
    if stage.before_data_complete:
        return Outcome(
            sent=False,
            error_code=ErrorCode.SMTP_TIMEOUT,
            message=f"timed out at {stage.value}; nothing was delivered",
            retryable=True,
            stage=stage,
        )
    return _uncertain("timed out waiting for the reply to the final dot")


def _uncertain(message: str) -> Outcome:
    return Outcome(
        sent=False,
        error_code=ErrorCode.SMTP_DISCONNECT_UNCERTAIN,
        message=f"{message}; the server may have accepted the message",
        retryable=True,
        ambiguous=True,
        stage=Stage.FINAL_DOT,
    )


def connection_failed(detail: str) -> Outcome:
    """Could not open the connection (refused, unreachable, name not resolved)."""
    return Outcome(
        sent=False,
        error_code=ErrorCode.SMTP_CONNECTION,
        message=f"could not connect: {detail}",
        retryable=True,
        stage=Stage.CONNECT,
    )


def tls_failed(detail: str) -> Outcome:
    """The TLS handshake failed (untrusted or mismatched certificate, protocol error)."""
    return Outcome(
        sent=False,
        error_code=ErrorCode.TLS_ERROR,
        message=f"TLS failed: {detail}",
        stage=Stage.CONNECT,
    )


def starttls_unsupported() -> Outcome:
    """TLS is required but the server does not advertise STARTTLS."""
    return Outcome(
        sent=False,
        error_code=ErrorCode.STARTTLS_UNSUPPORTED,
        message="the server does not offer STARTTLS; refusing to continue without TLS",
        stage=Stage.STARTTLS,
    )


def auth_unsupported() -> Outcome:
    """Credentials are configured but the server offers no usable AUTH mechanism."""
    return Outcome(
        sent=False,
        error_code=ErrorCode.SMTP_AUTH_UNSUPPORTED,
        message="the server offers no supported AUTH mechanism",
        stage=Stage.AUTH,
    )


def plaintext_auth_refused() -> Outcome:
    """Credentials would have crossed an unencrypted connection."""
    return Outcome(
        sent=False,
        error_code=ErrorCode.PLAINTEXT_AUTH_REFUSED,
        message="refusing to send credentials without TLS (set allow_plaintext_auth to permit it)",
        stage=Stage.AUTH,
    )


def smtputf8_unsupported() -> Outcome:
    """A non-ASCII address needs SMTPUTF8, which the server does not offer."""
    return Outcome(
        sent=False,
        error_code=ErrorCode.SMTPUTF8_UNSUPPORTED,
        message="a non-ASCII address needs SMTPUTF8, which the server does not offer",
        stage=Stage.MAIL,
    )


def unknown(detail: str) -> Outcome:
    """Anything the classification above does not cover."""
    return Outcome(sent=False, error_code=ErrorCode.UNKNOWN, message=detail)
