"""Proving a lease owner dead: a real child process, alive and then gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from authmail_relay.process_identity import owner_is_gone, process_tag

pytestmark = pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="needs Linux /proc")


def _owner_of(pid: int) -> str:
    """The worker id a process *pid* of this namespace would have had."""
    tag = process_tag()
    assert tag is not None
    namespace = tag.split(".")[0]
    stat = Path(f"/proc/{pid}/stat").read_text()
    started = stat.rpartition(")")[2].split()[19]
    return f"host:{pid}:0a1b2c3d:{namespace}.{started}"


def test_a_child_is_gone_only_once_it_has_exited() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = _owner_of(child.pid)
        assert not owner_is_gone(owner)
    finally:
        child.kill()
        child.wait()
    assert owner_is_gone(owner)


def test_only_provable_deaths_count() -> None:
    tag = process_tag()
    assert tag is not None
    assert not owner_is_gone(f"host:{os.getpid()}:0a1b2c3d:{tag}")  # this process
    namespace = tag.split(".")[0]
    # The same PID in another boot or PID namespace, or a worker id without a tag, or
    # one given by a caller: perhaps alive, so not gone.
    assert not owner_is_gone(f"host:999999999:0a1b2c3d:000000000000.{tag.split('.')[1]}")
    assert not owner_is_gone("host:999999999:0a1b2c3d")
    assert not owner_is_gone("my-worker")
    assert not owner_is_gone(f"host:notapid:0a1b2c3d:{namespace}.1")
    # The same namespace, a PID that does not run: gone.
    assert owner_is_gone(f"host:999999999:0a1b2c3d:{namespace}.1")
