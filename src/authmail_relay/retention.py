"""Retention of what a finished message still holds (pure; no clock, no I/O).

A message's stored bytes (``messages.raw``) hold its links and codes; they are needed
only while it may still be sent. Once the message is terminal (``sent``, ``failed``,
``expired``, ``cancelled``, ``consumed``) and its last status change is older than the
retention of its kind, the bytes are erased. Auth mails (OTP, magic link, password
reset) have a retention of their own, short by default (``RAW_RETENTION_SECONDS_AUTH``,
0: at the next sweep); other mail ``RAW_RETENTION_SECONDS`` (7 days).

The message's own webhook (``webhook_url`` and its secret) is forgotten under the same
retention, and only once nothing more can be reported to it: none of its deliveries is
pending, and the message cannot change again (a ``sent`` message may still be reported
``consumed`` until its ``expires_at``; one without an expiry is kept no longer than the
retention). The storage layer asks the same questions in SQL
(:mod:`authmail_relay.db.retention_sweep`); this module is the reference it is tested
against.
"""

from __future__ import annotations

from dataclasses import dataclass

from .mail.message_request import AUTH_KINDS
from .vocabulary import Kind, MessageStatus

__all__ = ["TERMINAL_STATUSES", "RetentionPolicy"]

#: Statuses no worker will ever act on again.
TERMINAL_STATUSES: tuple[MessageStatus, ...] = tuple(s for s in MessageStatus if s.is_terminal)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long a terminal message keeps its bytes and webhook, in milliseconds."""

    auth_ms: int = 0
    other_ms: int = 7 * 86_400_000

    def __post_init__(self) -> None:
        if self.auth_ms < 0 or self.other_ms < 0:
            raise ValueError("retention must not be negative")

    @classmethod
    def from_seconds(cls, auth_seconds: float, other_seconds: float) -> RetentionPolicy:
        return cls(auth_ms=int(auth_seconds * 1000), other_ms=int(other_seconds * 1000))

    def retention_ms(self, kind: Kind) -> int:
        return self.auth_ms if kind in AUTH_KINDS else self.other_ms

    def cutoffs(self, now_ms: int) -> tuple[int, int]:
        """``(auth, other)``: a terminal message last changed at or before its kind's
        cutoff is due."""
        return now_ms - self.auth_ms, now_ms - self.other_ms

    def raw_due(self, *, kind: Kind, status: MessageStatus, updated_at: int, now_ms: int) -> bool:
        """Whether the stored bytes of this message are to be erased now."""
        return status.is_terminal and updated_at <= now_ms - self.retention_ms(kind)

    def webhook_due(
        self,
        *,
        kind: Kind,
        status: MessageStatus,
        updated_at: int,
        expires_at: int | None,
        deliveries_pending: bool,
        now_ms: int,
    ) -> bool:
        """Whether the message's own webhook URL and secret are to be forgotten now."""
        if deliveries_pending or not self.raw_due(
            kind=kind, status=status, updated_at=updated_at, now_ms=now_ms
        ):
            return False
        # A sent message can still be consumed, and that is reported, while its link or
        # code is valid.
        return status is not MessageStatus.SENT or expires_at is None or expires_at <= now_ms
