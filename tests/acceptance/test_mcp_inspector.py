"""The MCP server checked by an independent client: the official MCP Inspector CLI
(``@modelcontextprotocol/inspector-cli``, pinned in ``tests/inspector``), over Streamable
HTTP against ``serve`` and over stdio against ``authmail-relay mcp``.

``make test`` installs the CLI (``make inspector``); without npm the tests skip and say so.
The CLI must run from a directory whose parent holds a ``package.json`` (it reads its own
version relative to the working directory), hence ``cwd=node_modules``. It exits 0 even
for a tool error, so the results are read from its JSON.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the MCP tests need the [mcp] extra")

from tests.support.processes import running_service
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.slow

TOOLS_DIR = Path(__file__).resolve().parents[1] / "inspector"
CLI = TOOLS_DIR / "node_modules" / ".bin" / "mcp-inspector-cli"
KEY = "inspector-test-key-0123456789"
CODE = "918273"


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The installed CLI (installed here if ``make inspector`` has not run)."""
    if shutil.which("npx") is None or shutil.which("npm") is None:
        pytest.skip("npm/npx not found: install Node.js to check MCP with the MCP Inspector")
    # Parallel test workers may get here together: one installs, the others wait.
    with (TOOLS_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CLI.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=TOOLS_DIR,
                check=True,
                timeout=300,
            )
    return CLI


async def _inspect(
    cli: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(cli),
        "--cli",
        *args,
        cwd=TOOLS_DIR / "node_modules",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _tools(output: str) -> dict[str, Any]:
    return {tool["name"]: tool for tool in json.loads(output)["tools"]}


async def _delivered(sink: SmtpServer, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(sink.messages) < count:
        assert time.monotonic() < deadline, f"{len(sink.messages)} of {count} mails arrived"
        await asyncio.sleep(0.1)


async def test_the_inspector_lists_and_calls_tools_over_http(
    inspector: Path, tmp_path: Path, smtp_sink: SmtpServer
) -> None:
    with running_service(tmp_path, smtp_sink, API_KEY=KEY, MCP_ENABLED="true") as (url, log):
        target = [f"{url}/mcp", "--transport", "http", "--header", f"Authorization: Bearer {KEY}"]
        code, out, err = await _inspect(inspector, *target, "--method", "tools/list")
        assert code == 0, err + log.read_text(errors="replace")
        tools = _tools(out)
        assert len(tools) == 15
        assert tools["send_otp"]["annotations"]["readOnlyHint"] is False
        assert tools["get_message"]["annotations"]["readOnlyHint"] is True
        assert "outputSchema" in tools["wait_for_message"]

        code, out, err = await _inspect(
            inspector,
            *target,
            "--method",
            "tools/call",
            "--tool-name",
            "send_otp",
            "--tool-arg",
            "to=ada@example.org",
            f'code="{CODE}"',  # JSON quotes: a bare number would arrive as a number
        )
        assert code == 0, err
        result = json.loads(out)
        assert result["isError"] is False, result
        assert result["structuredContent"]["status"] == "queued"
        await _delivered(smtp_sink, 1)
        assert CODE.encode() in smtp_sink.messages[0].raw

        code, _out, err = await _inspect(
            inspector,
            f"{url}/mcp",
            "--transport",
            "http",
            "--header",
            "Authorization: Bearer not-the-key-at-all",
            "--method",
            "tools/list",
        )
    assert code == 1
    assert "unauthorized" in err


async def test_the_inspector_calls_the_stdio_server(
    inspector: Path, tmp_path: Path, smtp_sink: SmtpServer
) -> None:
    with running_service(tmp_path, smtp_sink, API_KEY=KEY) as (url, _log):
        server = [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "mcp"]
        relay = ["-e", f"AUTHMAIL_URL={url}", "-e", f"AUTHMAIL_API_KEY={KEY}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHMAIL_", "LOG_"))}
        code, out, err = await _inspect(
            inspector, *relay, *server, "--method", "tools/list", env=env
        )
        assert code == 0, err
        assert "send_magic_link" in _tools(out)

        code, out, err = await _inspect(
            inspector,
            *relay,
            *server,
            "--method",
            "tools/call",
            "--tool-name",
            "list_templates",
            env=env,
        )
    assert code == 0, err
    result = json.loads(out)
    assert result["isError"] is False, result
    assert {kind["kind"] for kind in result["structuredContent"]["kinds"]} >= {"otp"}
