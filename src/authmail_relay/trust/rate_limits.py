"""Rate-limit decisions and their HTTP headers, with no I/O.

A :class:`Limit` is a named rule ("at most *quota* events per *window_ms*, at least
*min_interval_ms* apart") over one bucket key. :func:`decide` looks at the times of the
events already recorded in that bucket (from :mod:`authmail_relay.db.rate_store`) and the
current time, and says whether one more event fits and, if not, how long to wait.

Recipient buckets count auth mails to one mailbox across every API key; the address is
reduced to its mailbox by :func:`recipient_bucket_address` (that is
:func:`~authmail_relay.trust.mailbox_key.mailbox_key`) so that every spelling of one inbox
(case, IDN forms, ``+tags``, Gmail dots, ``googlemail.com``, …) shares one bucket.
Domain buckets are per requester (:func:`~authmail_relay.trust.requester.requester_key`), so
no caller can use up a budget other people's mail depends on.

The headers follow draft-ietf-httpapi-ratelimit-headers (structured fields):
``RateLimit-Policy: "<name>";q=<quota>;w=<window seconds>`` and
``RateLimit: "<name>";r=<remaining>;t=<seconds until the bucket has room>``. On an
answer the limit allowed, ``t`` is when the oldest counted event leaves the window (one
unit of quota comes back); with ``r=0`` that is exactly when the next event fits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..mail.message_request import AUTH_KINDS
from ..vocabulary import Kind
from .mailbox_key import mailbox_key

__all__ = [
    "AUTH_KINDS",
    "Decision",
    "Limit",
    "all_kinds_limit",
    "decide",
    "domain_limit",
    "domain_of",
    "key_request_limit",
    "ratelimit_header",
    "ratelimit_headers",
    "ratelimit_policy_header",
    "recipient_bucket_address",
    "recipient_limit",
    "seconds_up",
]


@dataclass(frozen=True)
class Limit:
    """One rule over one bucket.

    ``name`` is the public policy name (``recipient``, ``domain``); ``bucket`` the storage
    key. ``quota`` events per ``window_ms`` (``quota`` 0: no count limit) and at least
    ``min_interval_ms`` between two events (0: none).
    """

    name: str
    bucket: str
    quota: int
    window_ms: int
    min_interval_ms: int = 0

    @property
    def keep_ms(self) -> int:
        """How far back events matter; older ones may be purged."""
        return max(self.window_ms, self.min_interval_ms)


@dataclass(frozen=True)
class Decision:
    """Whether one more event fits, and if not how long until it does (milliseconds).

    When allowed, ``remaining`` events still fit after this one and ``reset_ms`` is how
    long until the oldest event counted in the window (this one, if it is alone) leaves it.
    """

    allowed: bool
    retry_after_ms: int = 0
    remaining: int = 0
    reset_ms: int = 0


def decide(limit: Limit, event_times: Sequence[int], now_ms: int) -> Decision:
    """Whether one more event in *limit*'s bucket fits at *now_ms*.

    *event_times* are the recorded events of the bucket (any order; those older than
    ``keep_ms`` are ignored). ``remaining`` is what is left after this event when it is
    allowed, and ``reset_ms`` when the oldest event in the window (counting this one)
    leaves it; when refused, ``retry_after_ms`` (at least 1) is when the oldest counting
    event leaves the window or the minimum interval has passed, whichever is later.
    """
    recent = sorted(t for t in event_times if t > now_ms - limit.keep_ms)
    wait = 0
    if limit.min_interval_ms > 0 and recent:
        wait = max(wait, recent[-1] + limit.min_interval_ms - now_ms)
    in_window = [t for t in recent if t > now_ms - limit.window_ms]
    remaining = max(0, limit.quota - len(in_window) - 1) if limit.quota > 0 else 0
    if limit.quota > 0 and len(in_window) >= limit.quota:
        # The event that must leave the window before one more fits.
        oldest = in_window[len(in_window) - limit.quota]
        wait = max(wait, oldest + limit.window_ms - now_ms)
    if wait > 0:
        return Decision(False, retry_after_ms=max(1, wait), remaining=0)
    oldest_kept = in_window[0] if in_window else now_ms
    return Decision(True, remaining=remaining, reset_ms=oldest_kept + limit.window_ms - now_ms)


def key_request_limit(key_id: str, per_minute: int) -> Limit:
    """The ``key`` limit: *per_minute* requests per sliding minute by API key *key_id*
    (0: unlimited)."""
    return Limit("key", f"key:{key_id}", per_minute, 60_000)


def recipient_bucket_address(address: str) -> str:
    """The counting form of a recipient: the key of the mailbox it reaches
    (:func:`~authmail_relay.trust.mailbox_key.mailbox_key`). Raises InvalidAddressError for an
    address that is not one plain mailbox."""
    return mailbox_key(address)


def domain_of(bucket_address: str) -> str:
    """The domain of a normalised address."""
    return bucket_address.rpartition("@")[2]


def recipient_limit(
    kind: Kind, mailbox: str, quota: int, window_ms: int, min_interval_ms: int
) -> Limit:
    """The ``recipient`` limit: auth mails of *kind* to *mailbox* (a bucket address),
    across every API key and requester."""
    bucket = f"recipient:{kind.value}:{mailbox}"
    return Limit("recipient", bucket, quota, window_ms, min_interval_ms)


def all_kinds_limit(mailbox: str, quota: int, window_ms: int) -> Limit:
    """The ``mailbox`` limit: auth mails of every kind together to *mailbox*, across every
    API key and requester (so the kinds are not three separate bursts)."""
    return Limit("mailbox", f"mailbox:{mailbox}", quota, window_ms)


def domain_limit(domain: str, requester: str, quota: int, window_ms: int) -> Limit:
    """The ``domain`` limit: auth mails one *requester* (see
    :func:`~authmail_relay.trust.requester.requester_key`) sends to *domain*. Per requester,
    never one budget for everyone: whoever spends it refuses only themselves."""
    return Limit("domain", f"domain:{domain}:{requester}", quota, window_ms)


def seconds_up(milliseconds: int) -> int:
    """Whole seconds, rounded up, at least 1 (``Retry-After`` and ``t`` values)."""
    return max(1, math.ceil(milliseconds / 1000))


def ratelimit_policy_header(name: str, quota: int, window_ms: int) -> str:
    """``RateLimit-Policy`` for one policy: ``"name";q=<quota>;w=<window seconds>``."""
    return f'"{name}";q={quota};w={seconds_up(window_ms)}'


def ratelimit_header(name: str, remaining: int, reset_ms: int) -> str:
    """``RateLimit`` for one policy: ``"name";r=<remaining>;t=<seconds to wait>``."""
    return f'"{name}";r={remaining};t={seconds_up(reset_ms)}'


def ratelimit_headers(limit: Limit, decision: Decision) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for an event *limit* allowed (*decision*)."""
    return {
        "RateLimit-Policy": ratelimit_policy_header(limit.name, limit.quota, limit.window_ms),
        "RateLimit": ratelimit_header(limit.name, decision.remaining, decision.reset_ms),
    }
