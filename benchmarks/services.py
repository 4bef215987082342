"""The processes under test: the SMTP sink, our relay, and the 0.5.0 release.

Each ``start_*`` function starts one process through :class:`harness.Processes` (so it
is stopped with the scenario) and returns once it answers.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import (
    API_KEY,
    BENCH_DIR,
    LEGACY_PYTHON,
    NO_RATE_LIMITS,
    RELAY_PYTHON,
    SENDER,
    Proc,
    Processes,
    base_env,
    free_port,
    python_script,
    wait_http,
)

# --------------------------------------------------------------------------- the sink


@dataclass
class Sink:
    proc: Proc
    smtp_port: int
    control_port: int

    def _ask(self, command: str, timeout: float = 30.0) -> bytes:
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=timeout) as s:
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(1 << 20):
                chunks.append(chunk)
        return b"".join(chunks)

    def count(self) -> int:
        return int(self._ask("count"))

    def arrivals(self) -> dict[str, float]:
        """Message-ID → arrival time (time.time() of the sink) of every message so far."""
        return {mid: t for t, mid in json.loads(self._ask("arrivals"))}

    def arrival_times(self) -> list[float]:
        return [t for t, _mid in json.loads(self._ask("arrivals"))]

    def reset(self) -> None:
        self._ask("reset")

    def wait_for(self, count: int, timeout: float, stall: float = 30.0) -> bool:
        """Wait until at least ``count`` messages arrived; False after ``timeout``, or
        as soon as nothing arrived for ``stall`` seconds (a stuck worker)."""
        deadline = time.monotonic() + timeout
        seen, last_progress = -1, time.monotonic()
        while (now := time.monotonic()) < deadline and now - last_progress < stall:
            current = self.count()
            if current >= count:
                return True
            if current != seen:
                seen, last_progress = current, now
            time.sleep(0.05)
        return self.count() >= count


def start_sink(processes: Processes) -> Sink:
    proc = processes.start("sink", python_script("sink.py"), base_env(), stdout_pipe=True)
    assert proc.popen.stdout is not None
    ready, _, _ = select.select([proc.popen.stdout], [], [], 30.0)
    line = proc.popen.stdout.readline().decode() if ready else ""
    if not line.startswith("READY "):
        raise RuntimeError(f"the SMTP sink did not start:\n{proc.log_tail()}")
    _, smtp_port, control_port = line.split()
    return Sink(proc, int(smtp_port), int(control_port))


# --------------------------------------------------------------------------- our relay


class ProcessDied(RuntimeError):
    """A relay under test exited on its own (or was killed by someone else)."""

    def __init__(self, name: str, code: int | None, log_tail: str) -> None:
        super().__init__(f"{name} died (exit {code}):\n{log_tail}")
        self.code = code


@dataclass
class Relay:
    proc: Proc
    url: str

    def ensure_alive(self) -> None:
        """Fail the scenario, quoting the relay's log, if the relay died under load (its
        numbers would be meaningless)."""
        if not self.proc.alive():
            code = self.proc.popen.returncode
            raise ProcessDied(self.proc.name, code, self.proc.log_tail())


def relay_env(sink: Sink | None, database: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """Our relay's settings for a benchmark: plain SMTP to the sink, no rate limits."""
    env = base_env()
    env.update(
        API_KEY=API_KEY,
        SMTP_HOST="127.0.0.1",
        # Nothing listens on port 9 (discard) when there is no sink; the worker never
        # runs in that case anyway.
        SMTP_PORT=str(sink.smtp_port if sink else 9),
        SMTP_TLS="none",
        SMTP_FROM=SENDER,
        DATABASE_URL=f"sqlite:///{database}",
        LOG_LEVEL="INFO",  # the default; the log is in the scenario's scratch folder
        **NO_RATE_LIMITS,
    )
    env.update(settings)
    return env


def start_relay(
    processes: Processes,
    *,
    name: str,
    sink: Sink | None,
    database: Path,
    worker: bool = True,
    settings: Mapping[str, str] | None = None,
) -> Relay:
    """``authmail-relay serve`` (through relay_main.py) on a free loopback port, in the
    run's scratch folder (so no ``.env`` or ``dkim-keys/`` of the repository is used)."""
    env = relay_env(sink, database, settings or {})
    last_error: Exception | None = None
    for _ in range(3):  # another process may grab the port between picking and binding
        port = free_port()
        argv = [str(RELAY_PYTHON), str(BENCH_DIR / "relay_main.py"), "serve"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        if not worker:
            argv.append("--no-worker")
        proc = processes.start(name, argv, env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/ready", proc)
            processes.profile(proc)
            return Relay(proc, url)
        except RuntimeError as exc:
            last_error = exc
            processes.stop(proc)
    raise RuntimeError(f"{name} did not start: {last_error}")


def start_legacy(processes: Processes, *, sink: Sink) -> Relay:
    """authmail-relay 0.5.0 (``python -m authmail_relay``) with TLS and its limiter off."""
    if not LEGACY_PYTHON.exists():
        raise FileNotFoundError(
            f"{LEGACY_PYTHON} is missing; create it with `make bench` or "
            f"`python3 -m venv benchmarks/.venv-050 && "
            f"benchmarks/.venv-050/bin/pip install 'authmail-relay[http]==0.5.0'`"
        )
    last_error: Exception | None = None
    for _ in range(3):
        port = free_port()
        env = base_env()
        env.update(
            HOST="127.0.0.1",
            PORT=str(port),
            API_KEY=API_KEY,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(sink.smtp_port),
            SMTP_FROM=SENDER,
            SMTP_USE_TLS="false",
            API_RATE_LIMIT_PER_MINUTE="0",
        )
        proc = processes.start("relay-0.5.0", [str(LEGACY_PYTHON), "-m", "authmail_relay"], env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/health", proc)
            return Relay(proc, url)
        except RuntimeError as exc:
            last_error = exc
            processes.stop(proc)
    raise RuntimeError(f"0.5.0 did not start: {last_error}")
