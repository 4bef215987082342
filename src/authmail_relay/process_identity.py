"""Telling, for sure, that the worker holding a lease has died (Linux only).

A worker's id (the ``lease_owner`` of what it claims) is ``host:pid:random``, and on
Linux a fourth part, the *tag*: a hash of the boot id and the PID namespace, and the
process's start time (``/proc/<pid>/stat``). Another process can then prove that the
owner is gone: same tag namespace (the same machine since the same boot, the same PID
namespace — so the PID means the same process to both) and either no such PID any more,
or a PID with another start time (reused). Anything else — another machine, another
container, no ``/proc``, a worker id given by the caller — is *not* gone: its lease runs
out as before. Used once at start-up (:func:`authmail_relay.db.lease_recovery`), so a
restarted worker takes over its crashed predecessor's work at once instead of after
``LEASE_SECONDS``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

__all__ = ["owner_is_gone", "process_tag"]

_PROC = Path("/proc")


@functools.cache
def _namespace() -> str | None:
    """A short hash of this boot and this PID namespace, or None without ``/proc`` (read
    once: neither changes while the process lives)."""
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        pid_namespace = os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot}|{pid_namespace}".encode()).hexdigest()[:12]


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if there is none."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses; field 22 is the
    # start time, the 20th after the last ")".
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def process_tag() -> str | None:
    """This process's tag (``<namespace>.<start time>``), or None where it cannot be made."""
    namespace = _namespace()
    start = _start_time(os.getpid())
    if namespace is None or start is None:
        return None
    return f"{namespace}.{start}"


def owner_is_gone(owner: str) -> bool:
    """True only when *owner* (a worker id) is provably a process that no longer runs."""
    parts = owner.rsplit(":", 3)
    # ASCII digits only, and few: str.isdigit() also takes '²', which int() refuses.
    if len(parts) != 4 or not (parts[1].isascii() and parts[1].isdecimal()):
        return False
    if len(parts[1]) > 10:
        return False
    namespace, _, started = parts[3].partition(".")
    if not started or namespace != _namespace():
        return False
    # A live process with that PID and start time is the owner (this one, maybe: several
    # workers may share a process); no process, or another one, means it is gone.
    return _start_time(int(parts[1])) != started
