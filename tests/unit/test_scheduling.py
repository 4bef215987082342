"""The rules of ``send_at``: the RFC 3339 wire form, the 30-day window, the expiry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from authmail_relay.exceptions import ValidationError
from authmail_relay.mail.scheduling import (
    MAX_SEND_AT_AHEAD_SECONDS,
    MAX_SEND_AT_CHARS,
    parse_rfc3339,
    send_at_ms,
)
from authmail_relay.vocabulary import MessageStatus

pytestmark = pytest.mark.library

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)


def _ms(send_at: datetime | None, lifetime: float | None = None) -> int | None:
    return send_at_ms(send_at, now=NOW, lifetime_seconds=lifetime)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T12:00:00Z", NOW),
        ("2026-11-21t12:00:00z", NOW),
        ("2026-11-21T13:30:00+01:30", NOW),
        ("2026-11-21T07:00:00-05:00", NOW),
        ("2026-11-21T12:00:00.5Z", NOW + timedelta(milliseconds=500)),
        ("2026-11-21T12:00:00.123456789Z", NOW + timedelta(microseconds=123456)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),
    ],
)
def test_rfc3339_times_are_read_with_their_offset(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "2026-11-21",
        "2026-11-21T12:00Z",  # seconds are required
        "2026-11-21 12:00:00Z",  # RFC 3339 separates with T
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-21T24:00:00Z",
        "2026-11-21T12:00:00+24:00",
        "2026-11-21T12:00:00+01:60",
        "2026-11-21T12:00:00+0100",
        "１２３４-11-21T12:00:00Z",  # digits of another script
        "2026-11-21T12:00:00Z\n",
        "9" * 10_000_000,
    ],
)
def test_anything_else_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_rfc3339(text)
    assert refused.value.field == "send_at"
    # One fixed sentence, whatever the input: nothing of it is echoed.
    assert refused.value.message == _shape_error()


def _shape_error() -> str:
    with pytest.raises(ValidationError) as refused:
        parse_rfc3339("x")
    return refused.value.message


@pytest.mark.parametrize(
    "text", ["2026-11-21T12:00:00", "2026-11-21T12:00:00.250", "2026-11-21 12:00"]
)
def test_a_time_without_an_offset_is_called_ambiguous(text: str) -> None:
    with pytest.raises(ValidationError, match="UTC offset"):
        parse_rfc3339(text)


def test_non_strings_are_refused() -> None:
    for value in (1_700_000_000, None, b"2026-11-21T12:00:00Z", ["2026-11-21T12:00:00Z"]):
        with pytest.raises(ValidationError):
            parse_rfc3339(value)  # type: ignore[arg-type]


def test_the_length_cap_is_one_a_real_time_never_reaches() -> None:
    longest = "2026-11-21T12:00:00." + "1" * 9 + "+01:00"
    assert len(longest) < MAX_SEND_AT_CHARS
    parse_rfc3339(longest)


def test_extreme_years_parse_and_are_judged_by_distance() -> None:
    """Year 1 with a large positive offset, and year 9999 with a negative one, have no
    UTC datetime; they are still compared with now (past, and too far)."""
    first = parse_rfc3339("0001-01-01T00:00:00+23:59")
    last = parse_rfc3339("9999-12-31T23:59:59-23:59")
    assert _ms(first) is None
    with pytest.raises(ValidationError, match="30 days"):
        _ms(last)


def test_nothing_or_a_past_time_is_due_now() -> None:
    assert _ms(None) is None
    assert _ms(NOW) is None
    assert _ms(NOW - timedelta(days=400), lifetime=60) is None


def test_a_future_time_is_kept_to_the_millisecond() -> None:
    assert _ms(NOW + timedelta(seconds=90, microseconds=1500)) == NOW_MS + 90_001
    other_zone = (NOW + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-7)))
    assert _ms(other_zone) == NOW_MS + 3_600_000


def test_at_most_thirty_days_ahead() -> None:
    limit = NOW + timedelta(seconds=MAX_SEND_AT_AHEAD_SECONDS)
    assert _ms(limit) == NOW_MS + MAX_SEND_AT_AHEAD_SECONDS * 1000
    with pytest.raises(ValidationError) as refused:
        _ms(limit + timedelta(milliseconds=1))
    assert refused.value.field == "send_at"


def test_never_at_or_after_the_expiry() -> None:
    """A send time must come before the mail dies: never schedule a dead link."""
    assert _ms(NOW + timedelta(seconds=599), lifetime=600) == NOW_MS + 599_000
    for late in (timedelta(seconds=600), timedelta(seconds=601), timedelta(days=2)):
        with pytest.raises(ValidationError, match="expires") as refused:
            _ms(NOW + late, lifetime=600)
        assert refused.value.field == "send_at"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValidationError, match="UTC offset"):
        _ms(datetime(2026, 11, 22, 12, 0))
    with pytest.raises(ValidationError):
        _ms("2026-11-22T12:00:00Z")  # type: ignore[arg-type]


def test_a_wait_ends_on_terminal_statuses_and_held() -> None:
    ending = {status for status in MessageStatus if status.ends_wait}
    terminal = {status for status in MessageStatus if status.is_terminal}
    assert ending == terminal | {MessageStatus.HELD}
    assert not (ending & {MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.DEFERRED})
