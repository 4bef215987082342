"""Retry decisions are pure: every branch is checked with plain numbers."""

from __future__ import annotations

import pytest

from authmail_relay.retry import Expire, GiveUp, Retry, RetryPolicy, Sent, decide
from authmail_relay.smtp import outcome as outcomes
from authmail_relay.smtp.outcome import Stage
from authmail_relay.vocabulary import ErrorCode

POLICY = RetryPolicy(base_delay_ms=1_000, max_delay_ms=60_000)
NOW = 1_000_000


def _decide(
    outcome: outcomes.Outcome,
    *,
    attempt: int = 1,
    expires_at: int | None = None,
    give_up_at: int = NOW + 86_400_000,
    rand: float = 0.0,
):
    return decide(
        outcome,
        attempt_number=attempt,
        now_ms=NOW,
        expires_at=expires_at,
        give_up_at=give_up_at,
        policy=POLICY,
        rand=lambda: rand,
    )


def test_sent_outcome_is_sent() -> None:
    """A 250 ends the message as sent."""
    assert _decide(outcomes.accepted()) == Sent()


@pytest.mark.parametrize(
    ("attempt", "rand", "expected_delay"),
    [
        (1, 0.0, 500),
        (1, 1.0, 1_000),
        (2, 0.0, 1_000),
        (3, 1.0, 4_000),
        (20, 1.0, 60_000),
        (20, 0.0, 30_000),
    ],
)
def test_backoff_doubles_with_equal_jitter_and_a_cap(
    attempt: int, rand: float, expected_delay: int
) -> None:
    """Delays double per attempt, jitter stays in the upper half, and the cap holds."""
    assert _decide(
        outcomes.from_reply(Stage.MAIL, 451, "busy"), attempt=attempt, rand=rand
    ) == Retry(NOW + expected_delay)


def test_permanent_failure_gives_up_with_its_code() -> None:
    """A 5xx is final and keeps its error code."""
    decision = _decide(outcomes.from_reply(Stage.FINAL_DOT, 554, "no"))
    assert isinstance(decision, GiveUp)
    assert decision.error_code is ErrorCode.SMTP_REJECTED


def test_ambiguous_outcome_is_retried() -> None:
    """A disconnect after the final dot is treated like a 4xx (RFC 5321 §3.8)."""
    assert isinstance(_decide(outcomes.from_disconnect(Stage.FINAL_DOT)), Retry)


@pytest.mark.parametrize(
    "outcome",
    [
        outcomes.from_reply(Stage.AUTH, 535, "bad"),
        outcomes.tls_failed("certificate verify failed"),
        outcomes.starttls_unsupported(),
        outcomes.plaintext_auth_refused(),
        outcomes.auth_unsupported(),
    ],
)
def test_relay_side_failures_keep_the_message_queued(outcome: outcomes.Outcome) -> None:
    """Fixing a wrong password or CA must not require re-submitting every message."""
    assert isinstance(_decide(outcome), Retry)


def test_retry_after_expiry_expires_instead() -> None:
    """A retry that would land at or after expires_at ends the message as expired."""
    outcome = outcomes.from_timeout(Stage.CONNECT)
    assert _decide(outcome, expires_at=NOW + 499) == Expire()
    assert _decide(outcome, expires_at=NOW + 500) == Expire()
    assert _decide(outcome, expires_at=NOW + 501) == Retry(NOW + 500)


def test_retry_after_max_age_gives_up() -> None:
    """Past give_up_at the message fails with the last error code."""
    decision = _decide(outcomes.from_reply(Stage.RCPT, 450, "later"), give_up_at=NOW + 10)
    assert isinstance(decision, GiveUp)
    assert decision.error_code is ErrorCode.SMTP_TRANSIENT
    assert "maximum message age" in decision.reason
