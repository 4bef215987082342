"""``authmail-relay keys …`` as subprocesses: create, list, rotate, revoke."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from tests.support.cli import output_field, run_cli

pytestmark = pytest.mark.slow


_run = functools.partial(run_cli, drop=("SMTP_", "DATABASE_"))


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
    key_id, token = output_field(out, "id"), output_field(out, "key")
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
    new_token = output_field(out, "key")
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


async def test_the_agent_key_recipe_of_the_mcp_docs(tmp_path: Path) -> None:
    """``--scopes send,read`` (docs/mcp.md), and what it refuses."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}"}
    recipe = ["keys", "create", "--name", "agent", "--scopes", "send,read", "--oversight", "gated"]
    code, out, err = await _run(recipe, env, tmp_path)
    assert code == 0, err
    assert "gated" in out
    assert "read, send" in out or "send, read" in out

    code, _out, err = await _run(["keys", "create", "--name", "x"], env, tmp_path)
    assert code == 2
    assert "at least one scope" in err
    code, _out, err = await _run(
        ["keys", "create", "--name", "x", "--scopes", "send,root"], env, tmp_path
    )
    assert code == 2
    assert "root" in err
    code, _out, err = await _run(
        ["keys", "create", "--name", "x", "--scopes", "send,approve"], env, tmp_path
    )
    assert code == 2
    assert "Traceback" not in err
