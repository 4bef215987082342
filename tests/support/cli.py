"""The ``authmail-relay`` command line as a child process, for acceptance tests."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path


async def run_cli(
    args: list[str], env: Mapping[str, str], cwd: Path, *, drop: tuple[str, ...]
) -> tuple[int, str, str]:
    """Run ``python -m authmail_relay --env-file /dev/null *args`` without blocking the
    event loop; return its exit code, stdout and stderr.

    The child gets this process's environment without variables starting with *drop* (so
    the developer's own configuration never leaks in), plus *env*.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "authmail_relay",
        "--env-file",
        os.devnull,
        *args,
        env=clean | dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def output_field(output: str, name: str) -> str:
    """The value of the first ``name: value`` line of a command's output."""
    return next(
        line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(name)
    )
