"""The failed-authentication throttle, on an injected clock."""

from __future__ import annotations

import hashlib

import pytest

from authmail_relay.trust.auth_throttle import FAILURE_WINDOW, FailureThrottle

pytestmark = pytest.mark.library


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cred(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def test_one_credential_failing_is_throttled_alone() -> None:
    clock = Clock()
    throttle = FailureThrottle(3, clock=clock)
    for _ in range(3):
        assert throttle.credential_wait("10.0.0.1", cred("revoked")) is None
        throttle.record_failure("10.0.0.1", cred("revoked"))
    assert throttle.credential_wait("10.0.0.1", cred("revoked")) == FAILURE_WINDOW
    # The same value from another address, and another value from this one: untouched.
    assert throttle.credential_wait("10.0.0.2", cred("revoked")) is None
    assert throttle.credential_wait("10.0.0.1", cred("other")) is None
    # One credential, however often it failed, is one guess for the address.
    assert throttle.address_wait("10.0.0.1") is None
    clock.now += 20
    assert throttle.credential_wait("10.0.0.1", cred("revoked")) == FAILURE_WINDOW - 20
    clock.now += FAILURE_WINDOW - 20
    assert throttle.credential_wait("10.0.0.1", cred("revoked")) is None


def test_different_credentials_from_one_address_trip_the_address() -> None:
    clock = Clock()
    throttle = FailureThrottle(3, clock=clock)
    for n in range(3):
        assert throttle.address_wait("10.0.0.1") is None
        throttle.record_failure("10.0.0.1", cred(f"guess {n}"))
        clock.now += 1
    assert throttle.address_wait("10.0.0.1") == FAILURE_WINDOW - 3
    assert throttle.address_wait("10.0.0.2") is None
    clock.now += FAILURE_WINDOW - 3
    assert throttle.address_wait("10.0.0.1") is None  # the window slid past the first


def test_a_credential_counts_for_its_address_again_once_its_failures_expired() -> None:
    clock = Clock()
    throttle = FailureThrottle(2, clock=clock)
    throttle.record_failure("a", cred("x"))
    clock.now += FAILURE_WINDOW
    throttle.record_failure("a", cred("x"))
    throttle.record_failure("a", cred("y"))
    assert throttle.address_wait("a") is not None


def test_memory_is_bounded() -> None:
    """Entries are capped (least recently failed first out); each keeps at most
    ``limit`` stamps; a huge address string is tracked by a digest of it."""
    throttle = FailureThrottle(4, max_entries=100)
    for n in range(1000):
        throttle.record_failure(f"10.0.{n // 256}.{n % 256}", cred(str(n)))
    for _ in range(50):
        throttle.record_failure("x" * 100_000, cred("same"))
    counts = (throttle._credentials, throttle._addresses)
    assert all(len(count._stamps) <= 100 for count in counts)
    assert all(len(stamps) <= 4 for count in counts for stamps in count._stamps.values())
    assert all(len(str(key)) < 200 for count in counts for key in count._stamps)
    assert throttle.credential_wait("x" * 100_000, cred("same")) is not None
    assert throttle.credential_wait("10.0.0.0", cred("0")) is None  # forgotten


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    clock = Clock()
    throttle = FailureThrottle(3, clock=clock)
    # A guesser walking through addresses of the /64 it holds, one per guess.
    for n in range(3):
        throttle.record_failure(f"2001:db8:1:2::{n + 1:x}", cred(f"guess {n}"))
    assert throttle.address_wait("2001:db8:1:2:ffff::9") is not None
    assert throttle.address_wait("2001:db8:1:3::1") is None  # the next /64 is someone else
    # An IPv4-mapped address is that IPv4 client.
    for n in range(3):
        throttle.record_failure("::ffff:192.0.2.7", cred(f"mapped {n}"))
    assert throttle.address_wait("192.0.2.7") is not None
