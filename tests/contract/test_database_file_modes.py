"""A SQLite database is owner-only on disk: the folder the relay creates is 0700 and the
database, WAL and shared-memory files 0600 whatever the umask; an existing looser file or
folder is left alone and warned about once, by path and mode."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import Outbox
from tests.support.db import new_message


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.usefixtures("usual_umask")
async def test_a_new_database_and_its_folder_are_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "relay"
    database = folder / "relay.db"
    engine = create_engine(f"sqlite:///{database}")
    try:
        await upgrade(engine)
        await Outbox(engine).enqueue(new_message())
        # The connections are still open: the WAL and shared-memory files exist now.
        files = {name: _mode(Path(f"{database}{name}")) for name in ("", "-wal", "-shm")}
    finally:
        await engine.dispose()
    assert files == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert _mode(folder) == 0o700
    assert _mode(folder.parent) == 0o700  # every folder the relay made


@pytest.mark.usefixtures("usual_umask")
async def test_an_existing_loose_database_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.chmod(tmp_path, 0o755)  # noqa: S103 - the loose folder under test
    database = tmp_path / "relay.db"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    caplog.set_level(logging.WARNING, logger="authmail_relay.db.engine")
    for _ in range(2):
        engine = create_engine(f"sqlite:///{database}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if f"file {database} is mode 0644" in w]) == 1
    assert len([w for w in warnings if f"folder {tmp_path} is mode 0755" in w]) == 1
    assert _mode(database) == 0o644  # the operator's file is not changed behind their back
