"""The failed-authentication throttle, per client address *and* credential (pure).

Two counts over a sliding window (:data:`FAILURE_WINDOW`), both capped at the limit
(``AUTH_FAILURE_LIMIT``):

* **per credential** — failures of one exact ``Authorization`` value from one address.
  At the limit that value, from that address, is refused (429) without being checked
  again: it failed that often, so it is no working key (keys do not come back: a revoked
  or expired key stays so, a wrong secret stays wrong). Nothing else from the address is
  affected, so an application retrying with a revoked key slows down only itself.
* **per address** — how many *different* credentials failed from one address. Guessing
  needs a new credential per guess, so this is what caps guessing. At the limit the
  address may still use stored keys, which the caller checks as usual (their 256-bit
  secrets cannot be guessed, so checking them tells a guesser nothing), but any other
  credential, the env ``API_KEY`` included, must be refused *without being compared*:
  answering it would tell the guesser which guess was right (:meth:`address_wait`).

Memory is bounded: each count keeps at most ``limit`` timestamps for at most
``max_entries`` keys; beyond that the least recently failed key is forgotten. Address
strings longer than :data:`MAX_ADDRESS_CHARS` (only a trusted proxy's header can make
one) are reduced to a digest, and credentials are passed in as fixed-size digests.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

from .requester import network_of

__all__ = ["FAILURE_WINDOW", "MAX_ADDRESS_CHARS", "MAX_TRACKED", "FailureThrottle"]

#: Window over which failed authentications are counted, in seconds.
FAILURE_WINDOW = 60.0
#: Keys each count tracks at most (credential count: address and credential pairs).
MAX_TRACKED = 10_000
#: Longer client addresses are tracked by their digest.
MAX_ADDRESS_CHARS = 64


class _WindowCounts:
    """Timestamps per key within the window, the least recently touched key evicted first."""

    def __init__(self, limit: int, max_entries: int, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._max_entries = max_entries
        self._clock = clock
        self._stamps: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def _live(self, key: Hashable) -> deque[float] | None:
        stamps = self._stamps.get(key)
        if stamps is None:
            return None
        now = self._clock()
        while stamps and now - stamps[0] >= FAILURE_WINDOW:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
            return None
        return stamps

    def count(self, key: Hashable) -> int:
        stamps = self._live(key)
        return 0 if stamps is None else len(stamps)

    def wait(self, key: Hashable) -> float | None:
        """Seconds until *key* is under the limit again, or None if it is now."""
        stamps = self._live(key)
        if stamps is None or len(stamps) < self._limit:
            return None
        return max(0.0, FAILURE_WINDOW - (self._clock() - stamps[0]))

    def add(self, key: Hashable) -> None:
        stamps = self._live(key) or deque(maxlen=self._limit)
        stamps.append(self._clock())
        self._stamps[key] = stamps
        self._stamps.move_to_end(key)
        while len(self._stamps) > self._max_entries:
            self._stamps.popitem(last=False)


@functools.lru_cache(maxsize=4096)
def _address_key(address: str) -> str:
    """What one client's failures are counted under: its network when *address* is an
    IP address (an IPv6 client by its /64, which it usually holds whole and could
    otherwise walk through one address per guess), else the text, or its digest when
    long."""
    if len(address) > MAX_ADDRESS_CHARS:
        return "sha256:" + hashlib.sha256(address.encode("utf-8", "surrogateescape")).hexdigest()
    try:
        return network_of(ipaddress.ip_address(address))
    except ValueError:
        return address  # not an IP address (e.g. a test client's name)


class FailureThrottle:
    """Failed authentications per (address, credential) and distinct credentials per
    address; *credential* is a digest of the presented ``Authorization`` value."""

    def __init__(
        self,
        limit: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_TRACKED,
    ) -> None:
        self.limit = limit
        self._credentials = _WindowCounts(limit, max_entries, clock)
        self._addresses = _WindowCounts(limit, max_entries, clock)

    def credential_wait(self, address: str, credential: bytes) -> float | None:
        """Seconds until this credential may be tried again from *address*, or None."""
        return self._credentials.wait((_address_key(address), credential))

    def address_wait(self, address: str) -> float | None:
        """Seconds until *address* may try new credentials other than stored keys, or None.

        While this is not None the caller checks stored keys only and refuses anything
        else unchecked.
        """
        return self._addresses.wait(_address_key(address))

    def record_failure(self, address: str, credential: bytes) -> None:
        """Count one failed attempt of *credential* from *address*: against the pair, and
        against the address when the credential had not failed there within the window."""
        where = _address_key(address)
        pair = (where, credential)
        fresh = self._credentials.count(pair) == 0
        self._credentials.add(pair)
        if fresh:
            self._addresses.add(where)
