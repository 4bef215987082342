"""``serve`` with ``LOG_LEVEL=DEBUG``: no secret, token, code, webhook URL or recipient
address reaches the log, whatever library is talking at that level."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

httpx = pytest.importorskip("httpx", reason="service tests need the [http] extra")
pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from tests.support.db import migrate
from tests.support.processes import running_service
from tests.support.smtpd import SmtpServer
from tests.support.webhooks import running_receiver

pytestmark = pytest.mark.slow
API_KEY = "log-test-key-0123456789abcdef"


async def test_debug_log_holds_no_secret(
    tmp_path: Path, smtp_sink: SmtpServer, db_url: str
) -> None:
    """A webhook endpoint, a message with its own webhook URL and secret, a magic link, a
    code and a listing by recipient, all delivered: none of their secrets is logged."""
    await migrate(db_url)
    mark = uuid.uuid4().hex[:12]
    canaries = {
        "recipient": f"canary-{mark}@example.com",
        "request webhook secret": f"whs-canary-{mark}",
        "webhook path": f"hook-path-{mark}",
        "token": f"TOKEN{mark}",
        "code": f"CODE{mark}",
    }
    to = canaries["recipient"]
    async with running_receiver() as receiver:
        with running_service(
            tmp_path,
            smtp_sink,
            db_url=db_url,
            API_KEY=API_KEY,
            LOG_LEVEL="DEBUG",
            MAGIC_LINK_BASE_URL="https://app.example.com",
            WEBHOOK_ALLOW_HOSTS="127.0.0.1",
            RECIPIENT_MAX_PER_WINDOW="0",
            RECIPIENT_MIN_INTERVAL_SECONDS="0",
        ) as (url, log_path):
            hook_url = receiver.url(path=f"/{canaries['webhook path']}")
            headers = {"Authorization": f"Bearer {API_KEY}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                endpoint = await client.post("/v1/webhooks", json={"url": hook_url})
                assert endpoint.status_code == 201, endpoint.text
                canaries["endpoint secret"] = endpoint.json()["secret"]
                calls = [
                    (
                        "/v1/messages",
                        {
                            "to": to,
                            "subject": "Hello",
                            "html_body": "<p>Hi</p>",
                            "webhook_url": hook_url,
                            "webhook_secret": canaries["request webhook secret"],
                        },
                    ),
                    ("/send/magic-link", {"to": to, "token": canaries["token"]}),
                    ("/send/otp", {"to": to, "code": canaries["code"]}),
                ]
                for path, body in calls:
                    answer = await client.post(path, json=body)
                    assert answer.status_code in (200, 202), answer.text
                listed = await client.get("/v1/messages", params={"to": to})
                assert listed.status_code == 200
                assert len(listed.json()["data"]) == 3
                # Every message's events go to the endpoint, the first one's to its own URL.
                await receiver.wait_for(4, timeout=30)
                for _ in range(100):
                    deliveries = (await client.get("/v1/webhooks/deliveries")).json()["data"]
                    if deliveries and all(d["status"] == "succeeded" for d in deliveries):
                        break
                    await asyncio.sleep(0.1)
        assert len(smtp_sink.messages) == 3
    log = log_path.read_text(errors="replace")
    assert " INFO authmail_relay.worker: " in log  # the relay's own lines are all there
    # Each value as given and as it would appear in a URL (``@`` as ``%40``, say).
    forms = {name: (value, quote(value, safe="")) for name, value in canaries.items()}
    leaks = [name for name, spelled in forms.items() if any(form in log for form in spelled)]
    lines = [line[:300] for line in log.splitlines() if any(v in line for v in canaries.values())]
    assert leaks == [], lines[:10]
