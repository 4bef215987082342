"""The one backoff formula gives exactly the schedules the three callers had before.

Each ``old_*`` function below is the formula a caller used to carry inline; the property
tests run both over the inputs the settings allow (delays are unbounded positive numbers
of seconds, so milliseconds from 0 upwards) and compare the results exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("hypothesis", reason="property tests need the [dev] extra")
from hypothesis import given, settings
from hypothesis import strategies as st

from authmail_relay.backoff import backoff_delay
from authmail_relay.retry import RetryPolicy
from authmail_relay.webhooks.retry import WebhookRetryPolicy

MILLISECONDS = st.integers(min_value=0, max_value=2**80)
ATTEMPTS = st.integers(min_value=-3, max_value=5_000)
RANDS = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def old_server_delay(
    attempt_number: int, base: int, maximum: int, rand: Callable[[], float], cap: int
) -> int:
    exponent = min(max(attempt_number - 1, 0), cap)
    ceiling = min(maximum, base * (2**exponent))
    return int(ceiling / 2 + rand() * ceiling / 2)


def old_client_delay(attempt: int, base: float, maximum: float) -> float:
    return float(min(base * 2**attempt, maximum))


@settings(max_examples=500)
@given(attempt=ATTEMPTS, base=MILLISECONDS, maximum=MILLISECONDS, rand=RANDS)
def test_message_retry_schedule_is_unchanged(
    attempt: int, base: int, maximum: int, rand: float
) -> None:
    policy = RetryPolicy(base_delay_ms=base, max_delay_ms=maximum)
    expected = old_server_delay(attempt, base, maximum, lambda: rand, cap=32)
    assert policy.delay_ms(attempt, lambda: rand) == expected


@settings(max_examples=500)
@given(attempt=ATTEMPTS, base=MILLISECONDS, maximum=MILLISECONDS, rand=RANDS)
def test_webhook_retry_schedule_is_unchanged(
    attempt: int, base: int, maximum: int, rand: float
) -> None:
    policy = WebhookRetryPolicy(base_delay_ms=base, max_delay_ms=maximum)
    expected = old_server_delay(attempt, base, maximum, lambda: rand, cap=40)
    assert policy.delay_ms(attempt, lambda: rand) == expected


@settings(max_examples=500)
@given(
    attempt=st.integers(min_value=0, max_value=1_000),
    base=st.floats(min_value=1e-6, max_value=1e6),
    maximum=st.floats(min_value=1e-6, max_value=1e6),
)
def test_unjittered_schedule_is_unchanged(attempt: int, base: float, maximum: float) -> None:
    assert backoff_delay(attempt, base, maximum) == old_client_delay(attempt, base, maximum)


def test_client_schedule_is_unchanged() -> None:
    pytest.importorskip("httpx", reason="the client needs the [http] extra")
    from authmail_relay.client._base import BACKOFF_BASE, BACKOFF_MAX

    for attempt in range(1_024):
        old = old_client_delay(attempt, BACKOFF_BASE, BACKOFF_MAX)
        assert backoff_delay(attempt, BACKOFF_BASE, BACKOFF_MAX) == old
    # Past the float range both fail the same way (an unbounded max_retries allows it).
    with pytest.raises(OverflowError):
        old_client_delay(1_024, BACKOFF_BASE, BACKOFF_MAX)
    with pytest.raises(OverflowError):
        backoff_delay(1_024, BACKOFF_BASE, BACKOFF_MAX)


def test_the_caps_matter_only_past_two_to_the_32() -> None:
    """Why the exponent caps stay parameters: with a huge maximum they decide the result."""
    assert backoff_delay(40, 1, 2**50, exponent_cap=32) == 2**32
    assert backoff_delay(40, 1, 2**50, exponent_cap=40) == 2**40
    assert backoff_delay(40, 1, 2**30, exponent_cap=32) == backoff_delay(40, 1, 2**30)


def test_equal_jitter_spans_the_upper_half() -> None:
    assert backoff_delay(2, 1_000, 60_000, rand=lambda: 0.0) == 2_000
    assert backoff_delay(2, 1_000, 60_000, rand=lambda: 0.5) == 3_000
    assert backoff_delay(10, 1_000, 60_000, rand=lambda: 0.0) == 30_000
    assert backoff_delay(-1, 1_000, 60_000) == 1_000.0
