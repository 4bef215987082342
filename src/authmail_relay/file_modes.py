"""Owner-only files and folders for anything secret the relay keeps on disk (stdlib only).

DKIM private keys, the SQLite database (with its ``-wal`` and ``-shm`` files) and the
secrets key file are created readable by their owner alone: folders 0700, files 0600,
whatever the process umask says. Files and folders that already exist are not changed
behind the operator's back (except where a caller asks for it); :func:`loose_mode` tells
whether one is open to others, so the caller can warn.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["create_private_file", "loose_mode", "private_dir", "write_private"]

#: Permission bits that let anyone but the owner in.
_OTHERS = 0o077


def loose_mode(path: Path) -> int | None:
    """The permission bits of *path* if group or others have any access; else None.

    None too when *path* cannot be looked at (missing: nothing to warn about; anything
    else is reported by whoever opens it).
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & _OTHERS else None


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Make sure the folder *path* exists; every folder this creates is mode 0700.

    With *tighten* (the default) *path* itself is set to 0700 even if it existed, for
    folders that belong to the relay alone (DKIM keys, the dev data folder). Without
    it, only the folders created here are 0700 and an existing one is left as it is.
    """
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask; set it for real.
    for created in missing:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(created, 0o700)
    if tighten:
        os.chmod(path, 0o700)


def create_private_file(path: Path) -> bool:
    """Create *path* empty, mode 0600, unless it exists; True if this call created it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, 0o600)  # the umask may have taken bits away; never adds any
    finally:
        os.close(descriptor)
    return True


def write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write *data* to *path* as a 0600 file, atomically (temporary name, then link or
    rename), so a crash never leaves half a file behind.

    Without *replace*, an existing *path* is left alone and FileExistsError is raised
    (also when the name was taken while writing); with it, the file is replaced.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # FileExistsError if the name is taken
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
