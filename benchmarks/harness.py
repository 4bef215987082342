"""Shared plumbing of the benchmark scenarios: processes, ports, readiness, statistics.

Every process the benchmarks start (relay, SMTP sink, load generator) runs in its own
session, so stopping it stops everything it spawned; :class:`Processes` stops whatever
is still running when a scenario ends, fails or is interrupted.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
#: Our relay runs on the project's own venv (the working tree, an editable install).
RELAY_PYTHON = REPO / ".venv" / "bin" / "python"
#: The previous public release (0.5.0), in its own venv (`make bench` creates it).
LEGACY_PYTHON = BENCH_DIR / ".venv-050" / "bin" / "python"
#: py-spy for ``run.py --profile`` (its own venv, or one on PATH).
PY_SPY = BENCH_DIR / ".venv-prof" / "bin" / "py-spy"
API_KEY = "bench-key-0123456789abcdefghijklmnop"
SENDER = "bench@bench.example"

#: Settings that switch the relay's rate limits off, so the benchmarks measure the
#: engine and not the limiter (see docs/configuration.md, "Rate limits").
NO_RATE_LIMITS = {
    "SEND_RATE_PER_MINUTE": "0",
    "KEY_REQUESTS_PER_MINUTE": "0",
    "RECIPIENT_MAX_PER_WINDOW": "0",
    "RECIPIENT_MIN_INTERVAL_SECONDS": "0",
    "DOMAIN_MAX_PER_WINDOW": "0",
}


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A loopback port that was free a moment ago (callers retry on a lost race)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env() -> dict[str, str]:
    """A minimal environment: no SMTP_*, DATABASE_URL … leaking in from the caller."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {k: os.environ[k] for k in keep if k in os.environ}


@dataclass
class Proc:
    """A child process in its own session (process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    #: Processes attached to this one (a profiler) that end by themselves when it ends.
    followers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left after ``grace``."""
        if self.popen.poll() is None:
            with _no_such_process():
                os.killpg(self.popen.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        with _no_such_process():
            os.killpg(self.popen.pid, signal.SIGKILL)  # stragglers of the group
        if self.popen.poll() is None:
            self.popen.wait(5)
        for follower in self.followers:
            try:
                follower.wait(60)  # py-spy writes its profile when the target is gone
            except subprocess.TimeoutExpired:
                with _no_such_process():
                    os.killpg(follower.pid, signal.SIGKILL)
                follower.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def _no_such_process() -> Iterator[None]:
    with suppress(ProcessLookupError, PermissionError):
        yield


@dataclass
class Processes:
    """Starts children and stops all of them (newest first) on :meth:`stop_all`."""

    workdir: Path
    running: list[Proc] = field(default_factory=list)
    #: Where to write py-spy profiles of the relays, or None for no profiling.
    profile_dir: Path | None = None
    profile_prefix: str = ""

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        stdout_pipe: bool = False,
    ) -> Proc:
        log_path = self.workdir / f"{name}.log"
        log = log_path.open("ab")
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd or self.workdir,
            stdout=subprocess.PIPE if stdout_pipe else log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        proc = Proc(name, popen, log_path)
        self.running.append(proc)
        return proc

    def profile(self, proc: Proc) -> None:
        """Attach py-spy to ``proc`` (when profiling): collapsed stacks, written when it
        exits, to ``<profile_dir>/<prefix><name>.txt``."""
        if self.profile_dir is None:
            return
        py_spy = str(PY_SPY) if PY_SPY.exists() else shutil.which("py-spy")
        if py_spy is None:
            raise FileNotFoundError(f"--profile needs py-spy: {PY_SPY} or on PATH")
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{self.profile_prefix}{proc.name}.txt"
        argv = [py_spy, "record", "--pid", str(proc.pid), "--rate", "250", "--nonblocking"]
        argv += ["--format", "raw", "--output", str(out)]
        with (self.workdir / f"py-spy-{proc.name}.log").open("ab") as log:
            follower = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        proc.followers.append(follower)

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        while self.running:
            self.running.pop().stop()


def wait_http(url: str, proc: Proc, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 200, or fail with the child's log if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited during start-up:\n{proc.log_tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready at {url} after {timeout:.0f}s:\n{proc.log_tail()}")


def run_child(argv: Sequence[str], *, timeout: float, log_path: Path) -> None:
    """Run a short-lived child (the load generator) to completion in its own session;
    its stderr goes to ``log_path`` and is quoted if it fails."""
    with log_path.open("ab") as log:
        popen = subprocess.Popen(list(argv), stdout=log, stderr=log, start_new_session=True)
    try:
        code = popen.wait(timeout)
    except BaseException:
        with _no_such_process():
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        raise
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{Path(argv[1]).name} exited with {code}:\n{tail}")


def python_script(name: str) -> list[str]:
    """argv prefix to run one of the benchmark scripts with the current interpreter."""
    return [sys.executable, str(BENCH_DIR / name)]


# --------------------------------------------------------------------------- /proc


def proc_status_kib(pid: int, field_name: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM …), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100), linear between the closest ranks; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else math.nan,
    }


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- scenarios


@dataclass
class Context:
    """What a scenario gets: its scratch folder, its process set and the run's size."""

    quick: bool
    workdir: Path
    processes: Processes

    def n(self, full: int, quick: int) -> int:
        """A count for the full run, or the smaller one for ``--quick``."""
        return quick if self.quick else full

    def path(self, name: str) -> Path:
        return self.workdir / name
