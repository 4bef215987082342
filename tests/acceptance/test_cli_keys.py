"""``authmail-relay keys …`` as subprocesses: create, list, rotate, revoke."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

pytestmark = pytest.mark.slow


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "DATABASE_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "authmail_relay",
        "--env-file",
        os.devnull,
        *args,
        env=clean | env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _field(output: str, name: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(name)
    )


async def test_keys_commands(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}"}
    code, out, err = await _run(
        [
            "keys",
            "create",
            "--name",
            "billing",
            "--scope",
            "send",
            "--scope",
            "read",
            "--sender",
            "NoReply@Example.com",
            "--sender",
            "*.example.org",
            "--origin",
            "https://app.example.com/",
            "--expires-in",
            "30",
        ],
        env,
        tmp_path,
    )
    assert code == 0, err
    key_id, token = _field(out, "id"), _field(out, "key")
    assert token.startswith(f"amr_{key_id}_")
    assert "noreply@example.com, *.example.org" in out or "*.example.org, noreply@" in out
    assert "https://app.example.com:443" in out

    code, out, err = await _run(["keys", "list"], env, tmp_path)
    assert code == 0, err
    assert key_id in out
    assert "active" in out
    assert token.rsplit("_", 1)[1] not in out

    code, out, err = await _run(["keys", "rotate", key_id], env, tmp_path)
    assert code == 0, err
    new_token = _field(out, "key")
    assert new_token != token
    assert f"rotated from {key_id}" in out

    code, out, err = await _run(["keys", "revoke", key_id], env, tmp_path)
    assert code == 0, err
    code, out, err = await _run(["keys", "list"], env, tmp_path)
    assert "revoked" in out

    code, out, err = await _run(["keys", "revoke", "aaaaaaaaaaaa"], env, tmp_path)
    assert code != 0
    code, out, err = await _run(["keys", "create", "--name", "x", "--scope", "root"], env, tmp_path)
    assert code != 0
    code, out, err = await _run(
        ["keys", "create", "--name", "x", "--scope", "send", "--sender", "not a domain"],
        env,
        tmp_path,
    )
    assert code != 0
    assert "Traceback" not in err
