"""Scenario 4 — against the previous public release, authmail-relay 0.5.0.

Both answer ``POST /send`` only after the SMTP server's ``250`` (0.5.0 sends inline on
a fresh connection per request; ours stores the message, its worker sends it on a
reused connection, and the request waits for the outcome up to ``SEND_WAIT_SECONDS``).
Same sink, same closed-loop load, same concurrency; both with their default settings
otherwise (logging at INFO), TLS and rate limits off. 0.5.0 runs from its own venv,
``benchmarks/.venv-050``.

Target (from the brief): ours at least 5x 0.5.0's throughput, at equal or better p99.
"""

from __future__ import annotations

from drivers import LoadResult, run_load
from harness import Context
from report import Result, fmt
from services import Relay, start_legacy, start_relay, start_sink

CONCURRENCY = 10


def run(ctx: Context) -> Result:
    count, warmup = ctx.n(2000, 500), ctx.n(200, 50)
    result = Result(
        "legacy",
        f"POST /send, c={CONCURRENCY}, {count} requests, waits for the SMTP 250",
        "0.5.0 (baseline)",
        "ours",
    )
    sink = start_sink(ctx.processes)

    def load(relay: Relay, name: str) -> LoadResult:
        return run_load(
            ctx.path(f"{name}.json"),
            url=relay.url,
            path="/send",
            count=count,
            warmup=warmup,
            concurrency=CONCURRENCY,
            tag=name,
        )

    legacy_relay = start_legacy(ctx.processes, sink=sink)
    theirs = load(legacy_relay, "legacy")
    legacy_relay.ensure_alive()
    ctx.processes.stop(legacy_relay.proc)
    relay = start_relay(ctx.processes, name="relay", sink=sink, database=ctx.path("relay.db"))
    ours = load(relay, "ours")
    relay.ensure_alive()

    t, o = theirs.stats(200), ours.stats(200)
    t_rate, o_rate = t["rate_per_s"], o["rate_per_s"]
    result.info(
        "200 sent",
        f"{len(theirs.with_status(200))}/{count}",
        f"{len(ours.with_status(200))}/{count}",
    )
    result.check(
        "req/s",
        fmt(t_rate),
        f"{fmt(o_rate)} ({o_rate / max(t_rate, 1e-9):.1f}x)",
        ">= 5x 0.5.0",
        o_rate >= 5 * t_rate,
    )
    result.info("p50 ms", fmt(t["p50_ms"]), fmt(o["p50_ms"]))
    result.info("p95 ms", fmt(t["p95_ms"]), fmt(o["p95_ms"]))
    result.check(
        "p99 ms",
        fmt(t["p99_ms"]),
        fmt(o["p99_ms"]),
        "<= 0.5.0",
        o["p99_ms"] <= t["p99_ms"],
    )
    result.data = {
        "concurrency": CONCURRENCY,
        "count": count,
        "v0_5_0": theirs.summary(200),
        "ours": ours.summary(200),
    }
    return result
