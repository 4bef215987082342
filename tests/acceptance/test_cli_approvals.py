"""``authmail-relay approvals …`` as subprocesses: list, show, approve, reject."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import Outbox
from authmail_relay.vocabulary import MessageStatus, OversightMode
from tests.support.cli import run_cli
from tests.support.db import new_message

pytestmark = pytest.mark.slow

_run = functools.partial(run_cli, drop=("SMTP_", "DATABASE_"))


async def test_approvals_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        outbox = Outbox(engine)
        first, second = [
            (await outbox.enqueue(new_message(oversight=OversightMode.GATED, api_key_id="k1"))).id
            for _ in range(2)
        ]
    finally:
        await engine.dispose()
    env = {"DATABASE_URL": url}

    code, out, err = await _run(["approvals", "list"], env, tmp_path)
    assert code == 0, err
    assert first in out
    assert second in out
    assert "user@example.org" not in out  # recipients are masked

    code, out, err = await _run(["approvals", "approve", first, "--reason", "ok"], env, tmp_path)
    assert code == 0, err
    assert out.strip() == f"{first} queued"
    code, out, err = await _run(["approvals", "show", first], env, tmp_path)
    assert code == 0, err
    assert "by cli — ok" in out
    assert "message.approved" in out

    code, out, err = await _run(["approvals", "reject", second], env, tmp_path)
    assert code == 2  # argparse: --reason is required
    code, out, err = await _run(["approvals", "reject", second, "--reason", " "], env, tmp_path)
    assert code == 2
    assert "reason" in err
    code, out, err = await _run(["approvals", "reject", second, "--reason", "no"], env, tmp_path)
    assert code == 0, err
    assert out.strip() == f"{second} {MessageStatus.REJECTED}"

    code, out, err = await _run(["approvals", "approve", second], env, tmp_path)
    assert code == 1
    assert "not held" in err
    code, out, err = await _run(["approvals", "list"], env, tmp_path)
    assert first not in out
    assert second not in out
