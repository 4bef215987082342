"""``authmail-relay audit …`` as subprocesses: list, checkpoint, export, verify (and a
tampered trail making ``verify`` exit 1)."""

from __future__ import annotations

import functools
import json
import sqlite3
import stat
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from tests.support.cli import output_field, run_cli

pytestmark = pytest.mark.slow

_run = functools.partial(run_cli, drop=("SMTP_", "DATABASE_", "WEBHOOK_", "AUDIT_"))


async def test_audit_commands(tmp_path: Path) -> None:
    database = tmp_path / "relay.db"
    env = {"DATABASE_URL": f"sqlite:///{database}", "WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    code, out, err = await _run(
        ["webhooks", "create", "--url", "http://127.0.0.1:9/hook"], env, tmp_path
    )
    assert code == 0, err
    endpoint_id = output_field(out, "id")
    secret = output_field(out, "secret")
    code, out, err = await _run(["webhooks", "rotate", endpoint_id], env, tmp_path)
    assert code == 0, err

    code, out, err = await _run(["audit", "list", "--message", endpoint_id], env, tmp_path)
    assert code == 0, err
    rows = out.splitlines()[1:]
    assert [row.split()[4] for row in rows] == ["webhook.rotated", "webhook.created"]
    assert all(row.split()[3] == "cli" for row in rows)

    code, out, err = await _run(["audit", "checkpoint"], env, tmp_path)
    assert code == 0, err
    assert "seq=2 " in out

    code, out, err = await _run(["audit", "verify"], env, tmp_path)
    assert (code, "intact" in out) == (0, True), err

    export = tmp_path / "trail.jsonl"
    args = ["audit", "export", "--format", "jsonl", "--output", str(export), "--checkpoints"]
    code, out, err = await _run(args, env, tmp_path)
    assert code == 0, err
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [line["seq"] for line in lines[:2]] == [1, 2]
    assert lines[0]["action"] == "webhook.created"
    assert lines[0]["prev_hash"] == "0" * 64
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert lines[2]["checkpoint"]["seq"] == 2
    assert lines[2]["checkpoint"]["head_hash"] == lines[1]["hash"]
    assert secret not in export.read_text()

    code, out, err = await _run(["audit", "export"], env, tmp_path)
    assert code == 0, err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2]

    with sqlite3.connect(database) as connection:
        connection.execute("DROP TRIGGER audit_no_update")
        connection.execute("UPDATE audit SET actor = 'someone' WHERE seq = 1")
    code, out, err = await _run(["audit", "verify"], env, tmp_path)
    assert code == 1
    assert "BROKEN at entry 1" in err
