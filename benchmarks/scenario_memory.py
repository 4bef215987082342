"""Scenario 5 — memory: peak RSS of the relay holding a queue of 10,000 messages.

A relay without worker (``serve --no-worker``, so the queue only grows) starts; its
``VmRSS``/``VmHWM`` (from /proc/<pid>/status) right after it answers ``/ready`` are
the baseline. Then the load generator queues ``QUEUED`` messages one request each
through ``POST /v1/messages`` (c=10) and ``VmHWM`` — the highest RSS the process ever
had — is read again.

Target (the benchmark's own; the brief sets none): the queue lives in the database, so
holding it should cost the process little: peak growth at most 64 MiB.
"""

from __future__ import annotations

from drivers import run_load
from harness import Context, proc_status_kib
from report import Result, fmt
from services import start_relay

GROWTH_LIMIT_MIB = 64


def run(ctx: Context) -> Result:
    queued = ctx.n(10_000, 2_000)
    result = Result(
        "memory",
        f"serve --no-worker, {queued} messages queued via POST /v1/messages (c=10)",
        "idle after start-up",
        f"{queued} queued",
    )
    relay = start_relay(
        ctx.processes, name="relay", sink=None, database=ctx.path("relay.db"), worker=False
    )
    pid = relay.proc.pid
    idle_rss, idle_hwm = proc_status_kib(pid, "VmRSS"), proc_status_kib(pid, "VmHWM")
    load = run_load(
        ctx.path("fill.json"),
        url=relay.url,
        path="/v1/messages",
        count=queued,
        concurrency=10,
        tag="mem",
    )
    relay.ensure_alive()
    rss, hwm = proc_status_kib(pid, "VmRSS"), proc_status_kib(pid, "VmHWM")
    growth_mib = (hwm - idle_hwm) / 1024

    result.info("messages queued (202)", "0", f"{len(load.with_status(202))}")
    result.info("RSS MiB", fmt(idle_rss / 1024), fmt(rss / 1024))
    result.check(
        "peak RSS (VmHWM) MiB",
        fmt(idle_hwm / 1024),
        f"{fmt(hwm / 1024)} (+{fmt(growth_mib)})",
        f"growth <= {GROWTH_LIMIT_MIB} MiB",
        growth_mib <= GROWTH_LIMIT_MIB,
    )
    per_message = (hwm - idle_hwm) * 1024 / max(queued, 1)
    result.info("peak growth per queued message", "", f"{per_message:,.0f} bytes")
    result.data = {
        "queued": queued,
        "idle_kib": {"VmRSS": idle_rss, "VmHWM": idle_hwm},
        "after_kib": {"VmRSS": rss, "VmHWM": hwm},
        "peak_growth_mib": round(growth_mib, 1),
        "intake": load.summary(202),
    }
    return result
