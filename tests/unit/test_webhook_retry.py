"""The webhook retry policy, one branch at a time."""

from __future__ import annotations

import pytest

from authmail_relay.webhooks.retry import (
    AttemptResult,
    Delivered,
    GiveUp,
    RetryAt,
    WebhookRetryPolicy,
    decide_delivery,
    retry_after_ms,
)

POLICY = WebhookRetryPolicy(base_delay_ms=5_000, max_delay_ms=3_600_000, client_error_attempts=3)
NOW = 1_000_000_000
DAY = 86_400_000


def _decide(result: AttemptResult, attempt: int = 1, give_up_at: int = NOW + DAY) -> object:
    return decide_delivery(
        result,
        attempt_number=attempt,
        now_ms=NOW,
        give_up_at=give_up_at,
        policy=POLICY,
        rand=lambda: 1.0,
    )


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert _decide(AttemptResult(status_code=status)) == Delivered()


@pytest.mark.parametrize(
    "result",
    [
        AttemptResult(status_code=500),
        AttemptResult(status_code=503),
        AttemptResult(status_code=429),
        AttemptResult(error="no answer within 15 s"),
        AttemptResult(error="ConnectError: refused"),
    ],
)
def test_transient_failures_are_retried_with_backoff(result: AttemptResult) -> None:
    assert _decide(result, attempt=1) == RetryAt(NOW + 5_000, _reason(result))
    assert _decide(result, attempt=4) == RetryAt(NOW + 40_000, _reason(result))
    assert _decide(result, attempt=30) == RetryAt(NOW + 3_600_000, _reason(result))


def _reason(result: AttemptResult) -> str:
    return f"HTTP {result.status_code}" if result.status_code else str(result.error)


def test_jitter_stays_in_the_upper_half() -> None:
    low = decide_delivery(
        AttemptResult(status_code=500),
        attempt_number=3,
        now_ms=NOW,
        give_up_at=NOW + DAY,
        policy=POLICY,
        rand=lambda: 0.0,
    )
    assert low == RetryAt(NOW + 10_000, "HTTP 500")


def test_retry_after_is_honoured() -> None:
    result = AttemptResult(status_code=429, retry_after="120")
    assert _decide(result) == RetryAt(NOW + 120_000, "HTTP 429")
    shorter = AttemptResult(status_code=503, retry_after="1")
    assert _decide(shorter) == RetryAt(NOW + 5_000, "HTTP 503")


def test_the_last_retry_lands_on_the_maximum_age() -> None:
    result = AttemptResult(status_code=500, retry_after="999999")
    assert _decide(result, give_up_at=NOW + 60_000) == RetryAt(NOW + 60_000, "HTTP 500")


def test_a_failure_at_the_maximum_age_gives_up() -> None:
    decision = _decide(AttemptResult(status_code=500), attempt=20, give_up_at=NOW)
    assert isinstance(decision, GiveUp)
    assert "maximum delivery age" in decision.reason


def test_410_gives_up_and_disables() -> None:
    decision = _decide(AttemptResult(status_code=410))
    assert isinstance(decision, GiveUp)
    assert decision.disable_endpoint


@pytest.mark.parametrize("status", [301, 302, 307, 400, 401, 403, 404, 422])
def test_redirects_and_client_errors_get_a_few_attempts(status: int) -> None:
    assert isinstance(_decide(AttemptResult(status_code=status), attempt=1), RetryAt)
    assert isinstance(_decide(AttemptResult(status_code=status), attempt=2), RetryAt)
    final = _decide(AttemptResult(status_code=status), attempt=3)
    assert isinstance(final, GiveUp)
    assert not final.disable_endpoint
    assert final.reason == f"HTTP {status} after 3 attempts"


def test_a_client_error_ignores_retry_after() -> None:
    assert _decide(AttemptResult(status_code=400, retry_after="600")) == RetryAt(
        NOW + 5_000, "HTTP 400"
    )


def test_a_blocked_address_gives_up_at_once() -> None:
    decision = _decide(AttemptResult(error="blocked: private", blocked=True))
    assert decision == GiveUp("blocked: private")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30_000),
        (" 0 ", 0),
        ("Mon, 12 Jan 1970 13:46:50 GMT", 10_000),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_parsing(value: str | None, expected: int | None) -> None:
    assert retry_after_ms(value, NOW) == expected
