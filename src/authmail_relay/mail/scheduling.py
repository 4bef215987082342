"""When a message may be sent: the rules of ``send_at`` (pure).

A message may ask to be sent later. The rules, the same for every adapter:

- ``send_at`` must be a timezone-aware moment: a naive one is ambiguous.
- A moment at or before now means "due now" (it does not jump the queue).
- At most :data:`MAX_SEND_AT_AHEAD_SECONDS` (30 days) ahead.
- Never at or after the message's expiry (``expires_in``, or an auth kind's default
  lifetime, counted from now): a mail that would be dead on arrival is refused, not
  scheduled.

The wire form is RFC 3339 with an offset (``2026-11-21T12:00:00Z``,
``2026-11-21T13:00:00.5+01:00``); :func:`parse_rfc3339` reads it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ..exceptions import ValidationError

#: Furthest ahead a message may be scheduled: 30 days.
MAX_SEND_AT_AHEAD_SECONDS = 30 * 86400
#: Longest ``send_at`` string read; an RFC 3339 time with nanoseconds is 35 characters.
MAX_SEND_AT_CHARS = 64
FIELD = "send_at"
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,40}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,  # \d is 0-9 only, not every script's digits
)
_NAIVE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,40})?)?", re.ASCII)


def parse_rfc3339(text: str) -> datetime:
    """*text* as an aware datetime; ValidationError (``send_at``) unless it is an RFC 3339
    date-time with ``Z`` or a numeric offset. A leap second (``:60``) is read as ``:59``
    (Python has no leap seconds); digits past microseconds are dropped. The message never
    echoes the value."""
    if not isinstance(text, str) or len(text) > MAX_SEND_AT_CHARS:
        raise ValidationError(_SHAPE, field=FIELD)
    match = _RFC3339.fullmatch(text)
    if match is None:
        if _looks_naive(text):
            raise ValidationError(_NAIVE, field=FIELD)
        raise ValidationError(_SHAPE, field=FIELD)
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    if match.group(8):
        offset = timedelta(0)
    else:
        sign = -1 if match.group(9) == "-" else 1
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            raise ValidationError(_SHAPE, field=FIELD)
        offset = sign * timedelta(hours=hours, minutes=minutes)
    try:
        return datetime(
            year,
            month,
            day,
            hour,
            minute,
            min(second, 59),
            int(fraction),
            tzinfo=timezone(offset),
        )
    except ValueError:  # month 13, February 30, hour 24, …
        raise ValidationError(_SHAPE, field=FIELD) from None


def send_at_ms(
    send_at: datetime | None, *, now: datetime, lifetime_seconds: float | None
) -> int | None:
    """The epoch milliseconds *send_at* asks for, or None when the message is due at once
    (no ``send_at``, or one at or before *now*).

    ValidationError (``send_at``) for a value that is not an aware datetime, one more than
    :data:`MAX_SEND_AT_AHEAD_SECONDS` after *now*, or one at or after ``now +
    lifetime_seconds`` (the message's expiry; None: it does not expire).
    """
    if send_at is None:
        return None
    if not isinstance(send_at, datetime) or send_at.utcoffset() is None:
        raise ValidationError(_NAIVE, field=FIELD)
    # Differences of aware datetimes, never a conversion to UTC: a year-9999 time with a
    # negative offset has no UTC datetime, but its distance from now is well defined.
    ahead = send_at - now
    if ahead <= timedelta(0):
        return None
    if ahead > timedelta(seconds=MAX_SEND_AT_AHEAD_SECONDS):
        raise ValidationError(
            f"send_at may be at most {MAX_SEND_AT_AHEAD_SECONDS // 86400} days ahead",
            field=FIELD,
        )
    if lifetime_seconds is not None and ahead >= timedelta(seconds=lifetime_seconds):
        raise ValidationError(
            "send_at must be before the message expires (expires_in, or the kind's "
            "default lifetime, counted from now)",
            field=FIELD,
        )
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (send_at - epoch) // timedelta(milliseconds=1)


_SHAPE = "send_at must be an RFC 3339 date-time with an offset, e.g. 2026-11-21T12:00:00Z"
_NAIVE = "send_at must carry a UTC offset (Z or +hh:mm); a time without one is ambiguous"


def _looks_naive(text: str) -> bool:
    """True for a date-time without an offset, to say so rather than "not RFC 3339"."""
    return _NAIVE_SHAPE.fullmatch(text) is not None
