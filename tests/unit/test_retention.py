"""Which finished messages lose their stored bytes and their own webhook, and when."""

from __future__ import annotations

import pytest

from authmail_relay.retention import TERMINAL_STATUSES, RetentionPolicy
from authmail_relay.vocabulary import Kind, MessageStatus

pytestmark = pytest.mark.library

POLICY = RetentionPolicy(auth_ms=1_000, other_ms=100_000)
NOW = 1_000_000


def test_terminal_statuses_are_the_vocabulary_ones() -> None:
    assert set(TERMINAL_STATUSES) == {s for s in MessageStatus if s.is_terminal}
    assert MessageStatus.DEFERRED not in TERMINAL_STATUSES


@pytest.mark.parametrize("status", list(MessageStatus))
def test_only_terminal_messages_lose_their_bytes(status: MessageStatus) -> None:
    due = POLICY.raw_due(kind=Kind.OTP, status=status, updated_at=0, now_ms=NOW)
    assert due is status.is_terminal


@pytest.mark.parametrize(
    ("kind", "age", "due"),
    [
        (Kind.OTP, 999, False),
        (Kind.OTP, 1_000, True),
        (Kind.MAGIC_LINK, 1_000, True),
        (Kind.PASSWORD_RESET, 1_000, True),
        (Kind.RAW, 1_000, False),
        (Kind.RAW, 100_000, True),
    ],
)
def test_each_kind_has_its_retention(kind: Kind, age: int, due: bool) -> None:
    status = MessageStatus.SENT
    assert POLICY.raw_due(kind=kind, status=status, updated_at=NOW - age, now_ms=NOW) is due


def test_cutoffs_match_the_rule() -> None:
    assert POLICY.cutoffs(NOW) == (NOW - 1_000, NOW - 100_000)
    assert RetentionPolicy.from_seconds(0, 604_800) == RetentionPolicy(0, 604_800_000)
    with pytest.raises(ValueError, match="negative"):
        RetentionPolicy(auth_ms=-1)


def _webhook_due(status: MessageStatus, *, expires_at: int | None, pending: bool) -> bool:
    return POLICY.webhook_due(
        kind=Kind.MAGIC_LINK,
        status=status,
        updated_at=NOW - 5_000,
        expires_at=expires_at,
        deliveries_pending=pending,
        now_ms=NOW,
    )


def test_the_own_webhook_waits_for_pending_deliveries_and_a_possible_consumption() -> None:
    assert _webhook_due(MessageStatus.FAILED, expires_at=None, pending=False)
    assert not _webhook_due(MessageStatus.FAILED, expires_at=None, pending=True)
    assert not _webhook_due(MessageStatus.SENT, expires_at=NOW + 1, pending=False)
    assert _webhook_due(MessageStatus.SENT, expires_at=NOW, pending=False)
    assert _webhook_due(MessageStatus.SENT, expires_at=None, pending=False)
    assert _webhook_due(MessageStatus.CONSUMED, expires_at=NOW + 1, pending=False)
    assert not _webhook_due(MessageStatus.DEFERRED, expires_at=None, pending=False)
