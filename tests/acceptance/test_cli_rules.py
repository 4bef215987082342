"""``authmail-relay rules …`` and ``keys set-oversight`` as subprocesses, audited as ``cli``."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from sqlalchemy import select

from authmail_relay.db import create_engine
from authmail_relay.db.schema import audit
from tests.support.cli import output_field, run_cli

pytestmark = pytest.mark.slow

_run = functools.partial(run_cli, drop=("SMTP_", "DATABASE_", "OVERSIGHT_"))


async def _audit(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(audit.c.actor, audit.c.action, audit.c.subject).order_by(audit.c.seq)
            return [tuple(row) for row in (await connection.execute(query)).all()]
    finally:
        await engine.dispose()


async def test_rules_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    env = {"DATABASE_URL": url}
    code, out, err = await _run(
        ["rules", "create", "--action", "hold", "--tag", "signup", "--tag", "invite",
         "--recipient-domain", "Example.ORG", "--description", "new people"],
        env,
        tmp_path,
    )  # fmt: skip
    assert code == 0, err
    held = output_field(out, "id")
    assert output_field(out, "position") == "1"
    assert "recipient_domains: example.org" in out
    assert "tags: invite, signup" in out

    code, out, err = await _run(
        ["rules", "create", "--action", "approve", "--kind", "otp", "--position", "1"],
        env,
        tmp_path,
    )
    assert code == 0, err
    approved = output_field(out, "id")

    code, out, err = await _run(["rules", "list"], env, tmp_path)
    assert code == 0, err
    lines = out.splitlines()[1:]
    assert lines[0].split()[:3] == ["1", approved, "approve"]
    assert lines[1].split()[:3] == ["2", held, "hold"]

    code, out, err = await _run(
        ["rules", "update", held, "--position", "1", "--sender", "Ops@Example.com"], env, tmp_path
    )
    assert code == 0, err
    assert output_field(out, "position") == "1"
    assert "senders: ops@example.com" in out
    assert "tags" not in out  # the conditions given replace them all

    code, out, err = await _run(["rules", "show", approved], env, tmp_path)
    assert code == 0, err
    assert output_field(out, "position") == "2"

    code, out, err = await _run(["rules", "delete", held], env, tmp_path)
    assert code == 0, err
    code, out, err = await _run(["rules", "list"], env, tmp_path)
    assert held not in out
    assert out.splitlines()[1].split()[:2] == ["1", approved]

    code, out, err = await _run(["rules", "show", held], env, tmp_path)
    assert code == 1
    code, out, err = await _run(
        ["rules", "create", "--action", "hold", "--description", "x" * 501], env, tmp_path
    )
    assert code == 2
    assert "description" in err
    code, out, err = await _run(
        ["rules", "create", "--action", "hold", "--kind", "fax"], env, tmp_path
    )
    assert code == 2
    assert "Traceback" not in err

    assert await _audit(url) == [
        ("cli", "rule.created", held),
        ("cli", "rule.created", approved),
        ("cli", "rule.updated", held),
        ("cli", "rule.deleted", held),
    ]


async def test_keys_oversight_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    env = {"DATABASE_URL": url, "OVERSIGHT_DEFAULT": "monitored"}
    code, out, err = await _run(
        ["keys", "create", "--name", "app", "--scope", "send"], env, tmp_path
    )
    assert code == 0, err
    key_id = output_field(out, "id")
    assert output_field(out, "oversight") == "monitored"

    code, out, err = await _run(["keys", "set-oversight", key_id, "gated"], env, tmp_path)
    assert code == 0, err
    assert output_field(out, "oversight") == "gated"
    code, out, err = await _run(["keys", "list"], env, tmp_path)
    assert code == 0, err
    assert out.splitlines()[0].split()[:4] == ["ID", "STATE", "OVERSIGHT", "SCOPES"]
    assert out.splitlines()[1].split()[:3] == [key_id, "active", "gated"]

    code, out, err = await _run(
        ["keys", "create", "--name", "both", "--scope", "send", "--scope", "approve"],
        env,
        tmp_path,
    )
    assert code == 2
    assert "approve" in err
    code, out, err = await _run(["keys", "set-oversight", key_id, "lenient"], env, tmp_path)
    assert code == 2

    assert await _audit(url) == [
        ("cli", "key.created", key_id),
        ("cli", "key.mode_changed", key_id),
    ]
