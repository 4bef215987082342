"""Bearer API-key checks, constant-time, with throttling of repeated failures.

Two kinds of key are accepted: the env ``API_KEY`` (every scope; senders limited to
``SMTP_FROM`` and ``ALLOWED_SENDERS``) and stored keys ``amr_<id>_<secret>`` (their own
scopes, senders and link origins; see :mod:`authmail_relay.db.api_keys_store`). Any
``Authorization`` value — missing, malformed, non-ASCII, of any length — is either a
usable key or a ``401``; never a ``500``. Comparisons are between SHA-256 digests with
:func:`hmac.compare_digest`, so their time depends on neither the key's content nor its
length. Stored keys are read from the database on every request (no cache), so a
revocation or expiry takes effect on the next request.

Failures are throttled per client address and presented credential
(:mod:`authmail_relay.trust.auth_throttle`): a credential that keeps failing from an address
gets ``429`` there, and an address from which too many *different* credentials failed
may use only stored keys until the minute has passed. A working stored key is never
refused because of other credentials' failures; the env key is, from an address that is
guessing, because answering it would tell the guesser when a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request

from ..db.api_keys_store import ApiKeyStore
from ..exceptions import AuthenticationError, RateLimitedError
from ..trust.api_keys import ALL_SCOPES, KEY_PREFIX
from ..trust.auth_throttle import FailureThrottle
from ..vocabulary import OversightMode, Scope

__all__ = ["Caller", "FailureThrottle", "KeyChecker", "client_address", "key_fingerprint"]


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
    #: How closely this key's sends are watched (the env key: OVERSIGHT_DEFAULT).
    oversight: OversightMode = OversightMode.AUTONOMOUS


class KeyChecker:
    """Verifies ``Authorization: Bearer <key>`` against the env key and stored keys."""

    def __init__(
        self,
        api_key: str,
        throttle: FailureThrottle,
        *,
        allowed_senders: Sequence[str] = (),
        oversight: OversightMode = OversightMode.AUTONOMOUS,
    ) -> None:
        self._digest = hashlib.sha256(api_key.encode("utf-8")).digest()
        self._env_caller = Caller(
            key_fingerprint(api_key), allowed_senders=tuple(allowed_senders), oversight=oversight
        )
        self.throttle = throttle
        #: Set once the database is open; until then only the env key is accepted.
        self.store: ApiKeyStore | None = None

    async def check(self, authorization: str | None, address: str) -> Caller:
        """The caller, or AuthenticationError / RateLimitedError (StorageError when the
        key store cannot be read)."""
        scheme, _, presented = (authorization or "").partition(" ")
        scheme, presented = scheme.lower(), presented.strip()
        # Header values arrive as latin-1 text; surrogateescape keeps any byte comparable.
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        # What the throttle knows this value by (in memory only): scheme and secret digest.
        credential = hashlib.sha256(scheme.encode("utf-8", "surrogateescape") + b" " + digest)
        wait = self.throttle.credential_wait(address, credential.digest())
        if wait is not None:  # this very value failed too often here: it is not a key
            raise RateLimitedError("too many failed authentications", retry_after=wait)
        guessing = self.throttle.address_wait(address)
        bearer = scheme == "bearer"
        # From an address that is guessing, the env key is not compared at all: a 200 for
        # the right guess among 429s would tell the guesser it was right.
        compared = bearer and guessing is None
        if compared and hmac.compare_digest(digest, self._digest):
            return self._env_caller
        if bearer and self.store is not None and presented.startswith(KEY_PREFIX):
            key = await self.store.authenticate(presented)
            if key is not None:
                return Caller(
                    key.id,
                    scopes=key.scopes,
                    allowed_senders=key.allowed_senders,
                    allowed_origins=key.allowed_origins,
                    stored=True,
                    requests_per_minute=key.rate_limit_per_minute,
                    oversight=key.oversight,
                )
        # Counted in both cases, so a value that keeps failing from a guessing address is
        # soon refused by its own count, before any key-store read.
        self.throttle.record_failure(address, credential.digest())
        if guessing is not None:
            raise RateLimitedError("too many failed authentications", retry_after=guessing)
        raise AuthenticationError("invalid or missing API key")


def client_address(request: Request) -> str:
    """The peer address as the server sees it: the socket's peer, or, from a proxy listed
    in ``FORWARDED_ALLOW_IPS``, the client its ``X-Forwarded-For`` names."""
    return request.client.host if request.client else "unknown"
