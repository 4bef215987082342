"""The pure rate-limit decisions and headers (no database, no clock)."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import InvalidAddressError
from authmail_relay.trust.rate_limits import (
    Limit,
    decide,
    domain_of,
    key_request_limit,
    ratelimit_header,
    ratelimit_headers,
    ratelimit_policy_header,
    recipient_bucket_address,
)

FIVE_PER_15_MIN = Limit("recipient", "b", quota=5, window_ms=900_000, min_interval_ms=30_000)


def test_an_empty_bucket_allows_and_reports_what_remains() -> None:
    decision = decide(FIVE_PER_15_MIN, [], 1_000_000)
    assert decision.allowed
    assert decision.remaining == 4


def test_the_minimum_interval_refuses_until_it_has_passed() -> None:
    decision = decide(FIVE_PER_15_MIN, [1_000_000], 1_010_000)
    assert not decision.allowed
    assert decision.retry_after_ms == 20_000
    assert decide(FIVE_PER_15_MIN, [1_000_000], 1_030_000).allowed


def test_a_full_window_waits_for_its_oldest_event() -> None:
    events = [0, 100_000, 200_000, 300_000, 400_000]
    decision = decide(FIVE_PER_15_MIN, events, 500_000)
    assert not decision.allowed
    assert decision.retry_after_ms == 400_000  # 0 leaves the window at 900_000
    assert decide(FIVE_PER_15_MIN, events, 900_001).allowed


def test_a_lowered_quota_counts_the_right_event() -> None:
    """More events than the quota (the quota was lowered): wait until enough have left."""
    limit = Limit("recipient", "b", quota=2, window_ms=1000)
    decision = decide(limit, [100, 200, 300, 400], 500)
    assert decision.retry_after_ms == 300 + 1000 - 500


def test_events_outside_the_window_do_not_count() -> None:
    assert decide(FIVE_PER_15_MIN, [0] * 10, 2_000_000).allowed


def test_a_limit_with_neither_quota_nor_interval_always_allows() -> None:
    assert decide(Limit("domain", "b", quota=0, window_ms=1000), [1, 2, 3], 4).allowed


@pytest.mark.parametrize(
    "spelling",
    [
        "victim@example.com",
        "VICTIM@Example.COM",
        "victim@example.com.",
        "Victim <victim@EXAMPLE.com>",
    ],
)
def test_spellings_of_one_mailbox_share_a_bucket(spelling: str) -> None:
    assert recipient_bucket_address(spelling) == "victim@example.com"


def test_unicode_domains_count_as_a_labels() -> None:
    assert recipient_bucket_address("anna@BÜCHER.example") == "anna@xn--bcher-kva.example"
    assert domain_of("anna@xn--bcher-kva.example") == "xn--bcher-kva.example"


def test_a_broken_address_is_refused() -> None:
    with pytest.raises(InvalidAddressError):
        recipient_bucket_address("not an address")


def test_headers_use_the_structured_field_form() -> None:
    assert ratelimit_policy_header("recipient", 5, 900_000) == '"recipient";q=5;w=900'
    assert ratelimit_header("recipient", 0, 41_200) == '"recipient";r=0;t=42'
    assert ratelimit_header("domain", 0, 1) == '"domain";r=0;t=1'


def test_an_allowed_event_says_when_quota_comes_back() -> None:
    per_minute = Limit("key", "k", quota=3, window_ms=60_000)
    assert decide(per_minute, [], 1_000_000).reset_ms == 60_000  # this event's own minute
    decision = decide(per_minute, [950_000, 990_000], 1_000_000)
    assert (decision.remaining, decision.reset_ms) == (0, 10_000)  # 950_000 leaves first


def test_success_headers() -> None:
    per_minute = key_request_limit("abc", 3)
    assert per_minute == Limit("key", "key:abc", 3, 60_000)
    decision = decide(per_minute, [990_500], 1_000_000)
    assert ratelimit_headers(per_minute, decision) == {
        "RateLimit-Policy": '"key";q=3;w=60',
        "RateLimit": '"key";r=1;t=51',
    }
