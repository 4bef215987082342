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
through :mod:`authmail_relay.smtp.outcome`, so results mean the same as in service mode.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .exceptions import ConfigurationError, ValidationError
from .mail.composing import Composed, Draft, compose, make_draft
from .smtp.config import SmtpConfig
from .smtp.outcome import Outcome
from .smtp.transaction import transmit
from .vocabulary import MessageStatus, TlsMode

__all__ = ["SendResult", "SmtpConfig", "SmtpSender"]

#: Relative spread of each retry delay (±25 %), so clients that failed together do not
#: all come back at the same moment.
JITTER = 0.25


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
        return transmit(self.config, self._ssl_context, composed)
