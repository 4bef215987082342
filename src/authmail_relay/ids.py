"""Identifiers: every prefixed id the relay mints, and the worker id.

A message id is ``"msg_"`` followed by a 26-character ULID in Crockford base32: a 48-bit
count of milliseconds since the Unix epoch, then 80 random bits. Webhook endpoint and
delivery ids (``whep_``, ``whd_``) are the same ULIDs under their own prefix, all drawn
from one sequence (:func:`new_id`). Because the time comes
first and the alphabet is in ASCII order, sorting ids as plain strings sorts them by
creation time (to the millisecond). Within one process ids are strictly increasing, even
when many are made in the same millisecond, so they also serve as a stable cursor for
paging through message lists.

The time here is the local clock of the process that creates the id; it only orders ids.
Timestamps that matter for delivery (due times, leases, expiry) come from the database.

A worker id (:func:`new_worker_id`) is not a ULID: it names a process, for the leases it
holds, in a form :mod:`authmail_relay.process_identity` can check.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import threading
import time

from .process_identity import process_tag

__all__ = [
    "MESSAGE_ID_PREFIX",
    "is_message_id",
    "message_id_time_ms",
    "new_id",
    "new_message_id",
    "new_worker_id",
]

MESSAGE_ID_PREFIX = "msg_"

# Crockford's base32: digits and upper-case letters without I, L, O and U.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {char: index for index, char in enumerate(_ALPHABET)}
_ULID_LENGTH = 26
_RANDOM_BITS = 80
_MAX_TIME_MS = (1 << 48) - 1
_MAX_RANDOM = (1 << _RANDOM_BITS) - 1

_lock = threading.Lock()
_last_time_ms = -1
_last_random = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(_ULID_LENGTH):
        chars.append(_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def _next_ulid_value() -> int:
    """Return the next 128-bit ULID value, strictly greater than the previous one."""
    global _last_time_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_time_ms:
            _last_time_ms, _last_random = now_ms, secrets.randbits(_RANDOM_BITS)
        elif _last_random < _MAX_RANDOM:
            # Same millisecond (or the clock stepped back): keep the earlier time and count
            # up, so ids from this process never go backwards.
            _last_random += 1
        else:
            _last_time_ms, _last_random = _last_time_ms + 1, secrets.randbits(_RANDOM_BITS)
        if _last_time_ms > _MAX_TIME_MS:  # pragma: no cover - the year 10889
            raise OverflowError("ULID timestamp out of range")
        return (_last_time_ms << _RANDOM_BITS) | _last_random


def new_id(prefix: str) -> str:
    """Return *prefix* followed by a new ULID, e.g. ``whd_01J9Z3T8R6V4Q0W2E5N7K1M3XC``.

    Ids under one prefix sort by creation time; every id made by the same process, whatever
    its prefix, comes from one strictly increasing sequence.
    """
    return prefix + _encode(_next_ulid_value())


def new_message_id() -> str:
    """Return a new unique message id, e.g. ``msg_01J9Z3T8R6V4Q0W2E5N7K1M3XC``.

    Ids sort by creation time; ids made by the same process are strictly increasing.
    """
    return new_id(MESSAGE_ID_PREFIX)


def is_message_id(value: str) -> bool:
    """Whether *value* has the shape of an id made by :func:`new_message_id`."""
    if not value.startswith(MESSAGE_ID_PREFIX):
        return False
    body = value[len(MESSAGE_ID_PREFIX) :]
    # The first character carries only 3 bits (128 = 26 * 5 - 2), so it is at most "7".
    return len(body) == _ULID_LENGTH and body[0] in "01234567" and all(c in _DECODE for c in body)


def message_id_time_ms(value: str) -> int:
    """The creation time (epoch milliseconds) encoded in a message id.

    Raises :class:`ValueError` if *value* is not a message id.
    """
    if not is_message_id(value):
        raise ValueError("not a message id")
    number = 0
    for char in value[len(MESSAGE_ID_PREFIX) :]:
        number = (number << 5) | _DECODE[char]
    return number >> _RANDOM_BITS


def new_worker_id() -> str:
    """``host:pid:random`` — unique enough to tell lease owners apart in the database —
    and, on Linux, ``:tag``, by which a later process can prove this one has stopped
    (:mod:`authmail_relay.process_identity`)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
    tag = process_tag()
    return worker_id if tag is None else f"{worker_id}:{tag}"
