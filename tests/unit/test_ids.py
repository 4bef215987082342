"""Ids: shape, uniqueness and ordering by creation time; prefixed ids; worker ids."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("hypothesis", reason="property tests need the [dev] extra")
from hypothesis import given
from hypothesis import strategies as st

from authmail_relay import ids
from authmail_relay.ids import (
    is_message_id,
    message_id_time_ms,
    new_id,
    new_message_id,
    new_worker_id,
)
from authmail_relay.process_identity import process_tag

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_shape() -> None:
    value = new_message_id()
    assert value.startswith("msg_")
    body = value[4:]
    assert len(body) == 26
    assert set(body) <= CROCKFORD
    assert is_message_id(value)


def test_encodes_the_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    value = new_message_id()
    after = time.time_ns() // 1_000_000
    # Ids made in the same millisecond count up from the first one, so allow for that.
    assert before - 5 <= message_id_time_ms(value) <= after


def test_ids_made_by_one_process_strictly_increase() -> None:
    values = [new_message_id() for _ in range(20_000)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_later_ids_sort_after_earlier_ones() -> None:
    first = new_message_id()
    time.sleep(0.002)
    second = new_message_id()
    assert first < second
    assert message_id_time_ms(first) < message_id_time_ms(second)


def test_random_part_differs_between_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(1_700_000_000_000_000_000, 1_700_000_100_000_000_000, 1_000_000))
    monkeypatch.setattr(ids.time, "time_ns", lambda: next(clock))
    monkeypatch.setattr(ids, "_last_time_ms", -1)
    values = [new_message_id()[-16:] for _ in range(100)]
    assert len(set(values)) == 100


def test_clock_stepping_back_keeps_ids_increasing(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([2_000_000_000_000_000_000, 1_999_999_999_000_000_000])
    monkeypatch.setattr(ids.time, "time_ns", lambda: next(times))
    monkeypatch.setattr(ids, "_last_time_ms", -1)
    first, second = new_message_id(), new_message_id()
    assert first < second
    assert message_id_time_ms(second) == message_id_time_ms(first) == 2_000_000_000_000


@pytest.mark.parametrize(
    "value",
    [
        "",
        "msg_",
        "msg_01J9Z3T8R6V4Q0W2E5N7K1M3X",  # 25 characters
        "msg_01J9Z3T8R6V4Q0W2E5N7K1M3XCC",  # 27 characters
        "msg_01J9Z3T8R6V4Q0W2E5N7K1M3XU",  # U is not in the alphabet
        "msg_01j9z3t8r6v4q0w2e5n7k1m3xc",  # lower case
        "msg_81J9Z3T8R6V4Q0W2E5N7K1M3XC",  # more than 128 bits
        "req_01J9Z3T8R6V4Q0W2E5N7K1M3XC",
    ],
)
def test_rejects_malformed_ids(value: str) -> None:
    assert not is_message_id(value)
    with pytest.raises(ValueError, match="not a message id"):
        message_id_time_ms(value)


@given(st.integers(min_value=0, max_value=(1 << 48) - 1))
def test_time_round_trips(time_ms: int) -> None:
    value = "msg_" + ids._encode(time_ms << 80)
    assert is_message_id(value)
    assert message_id_time_ms(value) == time_ms


def test_new_id_puts_a_ulid_under_any_prefix() -> None:
    value = new_id("whd_")
    assert value.startswith("whd_")
    assert is_message_id("msg_" + value[4:])


def test_ids_under_different_prefixes_share_one_increasing_sequence() -> None:
    values = [new_id(prefix)[-26:] for prefix in ("msg_", "whep_", "whd_") * 2_000]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_worker_id_names_host_pid_random_and_tag() -> None:
    parts = new_worker_id().split(":")
    assert parts[:2] == [socket.gethostname(), str(os.getpid())]
    assert re.fullmatch(r"[0-9a-f]{8}", parts[2])
    tag = process_tag()
    assert parts[3:] == ([] if tag is None else [tag])
    assert new_worker_id() != new_worker_id()


def test_worker_id_without_a_tag_has_three_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "process_tag", lambda: None)
    assert len(new_worker_id().split(":")) == 3


def test_webhook_dispatcher_does_not_load_the_smtp_worker() -> None:
    """The dispatcher takes its id from here, so importing it leaves SMTP and DKIM out."""
    pytest.importorskip("httpx", reason="the dispatcher needs the [http] extra")
    probe = (
        "import sys, authmail_relay.webhooks.dispatcher;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiosmtplib', 'dkim')"
        " or m == 'authmail_relay.worker'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
