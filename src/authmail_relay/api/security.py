"""Bearer API-key checks, constant-time, with throttling of repeated failures.

Two kinds of key are accepted: the env ``API_KEY`` (every scope; senders limited to
``SMTP_FROM`` and ``ALLOWED_SENDERS``) and stored keys ``amr_<id>_<secret>`` (their own
scopes, senders and link origins; see :mod:`authmail_relay.api_keys_store`). Any
``Authorization`` value — missing, malformed, non-ASCII, of any length — is either a
usable key or a ``401``; never a ``500``. Comparisons are between SHA-256 digests with
:func:`hmac.compare_digest`, so their time depends on neither the key's content nor its
length. Stored keys are read from the database on every request (no cache), so a
revocation or expiry takes effect on the next request. A client address that fails too
often within a minute gets ``429`` until the minute has passed, before its key is even
looked at.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import Request

from ..api_keys import ALL_SCOPES, KEY_PREFIX
from ..api_keys_store import ApiKeyStore
from ..exceptions import AuthenticationError, RateLimitedError
from ..vocabulary import Scope

#: Window over which failed authentications are counted, in seconds.
FAILURE_WINDOW = 60.0
#: At most this many client addresses are tracked; the oldest are forgotten first.
MAX_TRACKED_ADDRESSES = 10_000


def key_fingerprint(key: str) -> str:
    """A short, non-reversible id for an API key (idempotency scope, message owner)."""
    return hashlib.sha256(b"authmail-relay key id\x00" + key.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class Caller:
    """Who made an authenticated request and what it may do.

    ``key_id`` is the stored key's id, or the env key's fingerprint; ``allowed_senders``
    are normalised sender rules (the default sender is always allowed on top);
    ``allowed_origins`` add to ``ALLOWED_LINK_ORIGINS`` for this caller's requests.
    """

    key_id: str
    scopes: frozenset[Scope] = ALL_SCOPES
    allowed_senders: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    stored: bool = False
    #: The stored key's own requests-per-minute limit; None: KEY_REQUESTS_PER_MINUTE.
    requests_per_minute: int | None = None


class FailureThrottle:
    """Counts failed authentications per client address over a sliding minute."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None if it may try now."""
        stamps = self._failures.get(address)
        if not stamps:
            return None
        now = self._clock()
        while stamps and now - stamps[0] >= FAILURE_WINDOW:
            stamps.popleft()
        if len(stamps) < self.limit:
            return None
        return FAILURE_WINDOW - (now - stamps[0])

    def record_failure(self, address: str) -> None:
        """Count one failed attempt from ``address``."""
        stamps = self._failures.pop(address, None) or deque()
        stamps.append(self._clock())
        self._failures[address] = stamps  # re-inserted: dict order is recency order
        while len(self._failures) > MAX_TRACKED_ADDRESSES:
            self._failures.pop(next(iter(self._failures)))


class KeyChecker:
    """Verifies ``Authorization: Bearer <key>`` against the env key and stored keys."""

    def __init__(
        self,
        api_key: str,
        throttle: FailureThrottle,
        *,
        allowed_senders: Sequence[str] = (),
    ) -> None:
        self._digest = hashlib.sha256(api_key.encode("utf-8")).digest()
        self._env_caller = Caller(key_fingerprint(api_key), allowed_senders=tuple(allowed_senders))
        self.throttle = throttle
        #: Set once the database is open; until then only the env key is accepted.
        self.store: ApiKeyStore | None = None

    async def check(self, authorization: str | None, address: str) -> Caller:
        """The caller, or AuthenticationError / RateLimitedError (StorageError when the
        key store cannot be read)."""
        wait = self.throttle.retry_after(address)
        if wait is not None:
            raise RateLimitedError("too many failed authentications", retry_after=wait)
        scheme, _, presented = (authorization or "").partition(" ")
        presented = presented.strip()
        # Header values arrive as latin-1 text; surrogateescape keeps any byte comparable.
        candidate = presented.encode("utf-8", "surrogateescape")
        digest = hashlib.sha256(candidate).digest()
        if scheme.lower() == "bearer":
            if hmac.compare_digest(digest, self._digest):
                return self._env_caller
            if self.store is not None and presented.startswith(KEY_PREFIX):
                key = await self.store.authenticate(presented)
                if key is not None:
                    return Caller(
                        key.id,
                        scopes=key.scopes,
                        allowed_senders=key.allowed_senders,
                        allowed_origins=key.allowed_origins,
                        stored=True,
                        requests_per_minute=key.rate_limit_per_minute,
                    )
        self.throttle.record_failure(address)
        raise AuthenticationError("invalid or missing API key")


def client_address(request: Request) -> str:
    """The peer address as the server sees it (behind a proxy, configure uvicorn's
    forwarded-allow-ips so this is the real client)."""
    return request.client.host if request.client else "unknown"
