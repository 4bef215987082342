"""``authmail-relay webhooks …`` as subprocesses, with `worker --until-idle` delivering."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")
standardwebhooks = pytest.importorskip("standardwebhooks", reason="needs the [dev] extra")
from standardwebhooks.webhooks import Webhook

from tests.support.cli import output_field, run_cli
from tests.support.smtpd import DEFAULT_FROM, SmtpServer
from tests.support.webhooks import running_receiver

pytestmark = pytest.mark.slow


_run = functools.partial(run_cli, drop=("SMTP_", "DATABASE_", "WEBHOOK_"))


async def test_webhooks_commands(smtp_sink: SmtpServer, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}",
        "SMTP_HOST": smtp_sink.host,
        "SMTP_PORT": str(smtp_sink.port),
        "SMTP_TLS": "none",
        "SMTP_FROM": DEFAULT_FROM,
        "WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "POLL_INTERVAL_SECONDS": "0.1",
    }
    async with running_receiver() as receiver:
        code, out, err = await _run(
            ["webhooks", "create", "--url", receiver.url(), "--event", "message.sent"],
            env,
            tmp_path,
        )
        assert code == 0, err
        endpoint_id, secret = output_field(out, "id"), output_field(out, "secret")
        assert endpoint_id.startswith("whep_")
        assert secret.startswith("whsec_")

        code, out, err = await _run(["webhooks", "list"], env, tmp_path)
        assert code == 0, err
        assert endpoint_id in out
        assert secret not in out

        code, out, err = await _run(
            ["send", "--to", "ada@example.com", "--subject", "Hi", "--html", "<p>Hi</p>"],
            env,
            tmp_path,
        )
        assert code == 0, err
        message_id = out.strip()
        code, _, err = await _run(["worker", "--until-idle"], env, tmp_path)
        assert code == 0, err
        [request] = receiver.requests
        payload = Webhook(secret).verify(request.body, request.headers)
        assert (payload["type"], payload["data"]["id"]) == ("message.sent", message_id)

        code, out, err = await _run(
            ["webhooks", "deliveries", "--message", message_id], env, tmp_path
        )
        assert code == 0, err
        delivery_id = request.headers["webhook-id"]
        assert delivery_id in out
        assert "succeeded" in out

        code, out, err = await _run(["webhooks", "replay", delivery_id], env, tmp_path)
        assert code == 0, err
        code, _, err = await _run(["worker", "--until-idle"], env, tmp_path)
        assert code == 0, err
        assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery_id] * 2

        code, out, err = await _run(["webhooks", "rotate", endpoint_id], env, tmp_path)
        assert code == 0, err
        assert output_field(out, "secret") != secret
        assert "old secret" in out

        code, out, err = await _run(["webhooks", "update", endpoint_id, "--disable"], env, tmp_path)
        assert code == 0, err
        assert output_field(out, "enabled") == "no"

        code, out, err = await _run(["webhooks", "delete", endpoint_id], env, tmp_path)
        assert code == 0, err
        code, _, err = await _run(["webhooks", "delete", endpoint_id], env, tmp_path)
        assert code == 1
        assert "no webhook endpoint" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["webhooks", "create", "--url", "http://10.0.0.1/"], "10.0.0.1, a private address"),
        (["webhooks", "create", "--url", "ftp://x.example/"], "http or https"),
        (["webhooks", "create", "--url", "https://x.example/", "--event", "nope"], "invalid"),
        (["webhooks", "replay", "whd_01JNOPE0000000000000000000"], "no webhook delivery"),
    ],
)
async def test_refusals_exit_non_zero(tmp_path: Path, args: list[str], message: str) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}"}
    code, _, err = await _run(args, env, tmp_path)
    assert code in (1, 2)
    assert message in err


async def test_secrets_key_commands(tmp_path: Path) -> None:
    """new-key makes a usable key; hash shows this relay's to_hash; reencrypt seals a
    plaintext secret left by an earlier version, and a rotation to a new key."""
    from sqlalchemy import text

    from authmail_relay.db import create_engine, upgrade
    from authmail_relay.db.webhook_store import WebhookStore
    from authmail_relay.settings import decode_secrets_key
    from authmail_relay.trust.secrets_at_rest import SEALED_PREFIX, AtRestKeys

    database = f"sqlite:///{tmp_path / 'relay.db'}"
    code, out, err = await _run(["webhooks", "new-key"], {}, tmp_path)
    assert code == 0, err
    old_key = out.strip()
    code, out, _ = await _run(["webhooks", "new-key"], {}, tmp_path)
    new_key = out.strip()
    assert old_key != new_key
    env = {"DATABASE_URL": database, "SECRETS_KEY": old_key}

    code, out, err = await _run(["webhooks", "hash", "Ada@Example.org"], env, tmp_path)
    assert code == 0, err
    assert out.strip() == AtRestKeys([decode_secrets_key(old_key)]).address_hash("ada@example.org")

    engine = create_engine(database)
    try:
        await upgrade(engine)
        plain = await WebhookStore(engine).create_endpoint(url="https://hooks.example.com/x")
        code, out, err = await _run(["webhooks", "reencrypt"], env, tmp_path)
        assert (code, out.splitlines()[0]) == (
            0,
            f"sealed 1 secret(s) with key {AtRestKeys([decode_secrets_key(old_key)]).current_id}",
        ), err
        rotated = env | {"SECRETS_KEY": f"{new_key},{old_key}"}
        code, out, err = await _run(["webhooks", "reencrypt"], rotated, tmp_path)
        assert code == 0, err
        assert out.startswith("sealed 1 secret(s)")
        async with engine.connect() as connection:
            stored = await connection.scalar(text("SELECT secret FROM webhook_endpoints"))
    finally:
        await engine.dispose()
    new_keys = AtRestKeys([decode_secrets_key(new_key)])
    assert stored.startswith(f"{SEALED_PREFIX}{new_keys.current_id}:")
    assert new_keys.open(stored, context=plain.endpoint.id) == plain.secret
