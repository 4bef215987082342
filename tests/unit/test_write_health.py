"""The write-health record behind /ready's "write_failing", with a hand-driven clock."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlalchemy", reason="the db package needs the [http] extra")

from authmail_relay.db.write_health import WriteHealth


def test_a_failure_lasts_until_that_kind_of_write_succeeds_or_is_forgotten() -> None:
    now = [100.0]
    health = WriteHealth(clock=lambda: now[0], memory_seconds=60)
    assert not health.failing
    health.failed("record the results")
    assert health.failing
    # Another kind of write that still fits (an empty claim) does not clear it.
    health.succeeded("claim messages")
    assert health.failing
    health.succeeded("record the results")
    assert not health.failing
    health.failed("record the results")
    now[0] += 59.9
    assert health.failing
    now[0] += 0.2
    assert not health.failing  # not written to for a minute: no longer claimed to fail
    health.failed("record the results")
    assert health.failing
