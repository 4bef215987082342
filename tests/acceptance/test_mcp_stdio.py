"""``authmail-relay mcp`` as a child process on stdio, driven by the MCP SDK's own client:
against a running relay (``AUTHMAIL_URL``) and with the relay in process (``--local``),
each delivering to a real SMTP sink."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the MCP tests need the [mcp] extra")

from mcp import Client, StdioServerParameters
from mcp.types import LATEST_PROTOCOL_VERSION

from tests.support.processes import running_service, service_env
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow
KEY = "stdio-test-key-0123456789"
CODE = "271828"
_DROP = ("SMTP_", "DATABASE_", "API_", "AUTHMAIL_", "MCP_", "LOG_")


def _client_env(**settings: str) -> dict[str, str]:
    """This environment without relay settings, plus ``settings``."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_DROP)} | settings


def _server(env: dict[str, str], *args: str) -> StdioServerParameters:
    command = ["-m", "authmail_relay", "--env-file", os.devnull, "mcp", *args]
    return StdioServerParameters(command=sys.executable, args=command, env=env)


async def _otp_is_sent(client: Client, sink: SmtpServer) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert {"send_otp", "wait_for_message", "decide_approval"} <= tools
    sent = await client.call_tool("send_otp", {"to": "ada@example.org", "code": CODE})
    assert not sent.is_error, sent.content
    assert isinstance(sent.structured_content, dict)
    waited = await client.call_tool(
        "wait_for_message", {"message_id": sent.structured_content["message_id"], "timeout": 30}
    )
    assert not waited.is_error, waited.content
    assert isinstance(waited.structured_content, dict)
    assert waited.structured_content["message"]["status"] == "sent"
    assert [m.rcpt_tos for m in sink.messages] == [("ada@example.org",)]
    assert CODE.encode() in sink.messages[0].raw


async def test_stdio_talks_to_a_running_relay_with_its_key(
    tmp_path: Path, smtp_sink: SmtpServer
) -> None:
    with running_service(tmp_path, smtp_sink, API_KEY=KEY) as (url, _log):
        env = _client_env(AUTHMAIL_URL=url, AUTHMAIL_API_KEY=KEY)
        async with Client(_server(env)) as client:
            await _otp_is_sent(client, smtp_sink)


async def test_stdio_local_runs_the_relay_in_process(tmp_path: Path, smtp_sink: SmtpServer) -> None:
    env = service_env(
        f"sqlite:///{tmp_path / 'local.db'}",
        smtp_sink,
        drop=_DROP,
        API_KEY=KEY,
        POLL_INTERVAL_SECONDS="0.1",
    )
    async with Client(_server(env, "--local")) as client:
        await _otp_is_sent(client, smtp_sink)


async def test_stdout_carries_the_protocol_and_nothing_else(
    tmp_path: Path, smtp_sink: SmtpServer
) -> None:
    """Every line a client reads is JSON-RPC, even with debug logging on; logs go to stderr."""
    with running_service(tmp_path, smtp_sink, API_KEY=KEY) as (url, _log):
        env = _client_env(AUTHMAIL_URL=url, AUTHMAIL_API_KEY=KEY, LOG_LEVEL="DEBUG")
        requests = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": LATEST_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "list_messages", "arguments": {}},
            },
        ]
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "mcp"],
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        answers: dict[int, dict[str, object]] = {}
        for request in requests:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            if "id" in request:
                line = await asyncio.wait_for(process.stdout.readline(), 30)
                message = json.loads(line)
                assert message["jsonrpc"] == "2.0"
                answers[message["id"]] = message
        process.stdin.close()
        rest, _err = await asyncio.wait_for(process.communicate(), 30)
    assert set(answers) == {1, 2, 3}
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in rest.splitlines() if line)
    assert "isError" in json.dumps(answers[3]) or "structuredContent" in json.dumps(answers[3])


async def test_without_a_relay_url_it_says_what_to_set(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "mcp"],
        env=_client_env(),
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(b""), 30)
    assert process.returncode == 2
    assert out == b""
    assert b"AUTHMAIL_URL" in err
