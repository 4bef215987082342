"""Scenario 1 — intake: durable ``202``s per second of ``POST /v1/messages``.

One relay (``serve --no-worker``, SQLite with its default settings, rate limits off)
gets the same closed-loop load twice per round: with ``X-Dry-Run: true`` (validated and
rendered, nothing stored: the baseline) and for real (committed with
``synchronous=FULL`` before the ``202``). Rounds alternate the two so that background
load on the machine hits both alike. The difference is the cost of durability.

Targets (the benchmark's own, the brief sets none): durable throughput at least half of
the dry run's, and durable p99 at most twice the dry run's.
"""

from __future__ import annotations

from drivers import LoadResult, run_load
from harness import Context, latency_summary_ms
from report import Result, fmt
from services import start_relay

CONCURRENCY = 10


def _pooled(runs: list[LoadResult], status: int) -> tuple[float, dict[str, float], int]:
    ok = sum(len(r.with_status(status)) for r in runs)
    elapsed = sum(r.ended - r.began for r in runs)
    latencies = [x for r in runs for x in r.latencies(status)]
    return ok / max(elapsed, 1e-9), latency_summary_ms(latencies), ok


def run(ctx: Context) -> Result:
    rounds, count, warmup = ctx.n(2, 1), ctx.n(2000, 500), ctx.n(200, 100)
    result = Result(
        "intake",
        f"POST /v1/messages, SQLite defaults, no worker, c={CONCURRENCY}, "
        f"{rounds}×{count} requests per mode",
        "dry run (baseline)",
        "durable 202",
    )
    relay = start_relay(
        ctx.processes, name="relay", sink=None, database=ctx.path("relay.db"), worker=False
    )

    def load(name: str, *, dry_run: bool) -> LoadResult:
        return run_load(
            ctx.path(f"{name}.json"),
            url=relay.url,
            path="/v1/messages",
            count=count,
            warmup=warmup,
            concurrency=CONCURRENCY,
            dry_run=dry_run,
            tag=name,
        )

    dry: list[LoadResult] = []
    durable: list[LoadResult] = []
    for n in range(rounds):
        dry.append(load(f"dry{n}", dry_run=True))
        durable.append(load(f"durable{n}", dry_run=False))
    relay.ensure_alive()
    dry_rate, dry_lat, dry_ok = _pooled(dry, 200)
    rate, lat, ok = _pooled(durable, 202)
    result.info("answered as expected", f"{dry_ok}/{rounds * count}", f"{ok}/{rounds * count}")
    result.check(
        "req/s",
        fmt(dry_rate),
        fmt(rate),
        "durable >= 0.5x dry run",
        rate >= 0.5 * dry_rate,
    )
    result.info("p50 ms", fmt(dry_lat["p50_ms"]), fmt(lat["p50_ms"]))
    result.info("p95 ms", fmt(dry_lat["p95_ms"]), fmt(lat["p95_ms"]))
    result.check(
        "p99 ms",
        fmt(dry_lat["p99_ms"]),
        fmt(lat["p99_ms"]),
        "durable <= 2x dry run",
        lat["p99_ms"] <= 2 * dry_lat["p99_ms"],
    )
    result.info("max ms", fmt(dry_lat["max_ms"]), fmt(lat["max_ms"]))
    result.data = {
        "concurrency": CONCURRENCY,
        "rounds": rounds,
        "requests_per_round": count,
        "dry_run": {
            "rate_per_s": round(dry_rate, 1),
            **dry_lat,
            "rounds": [r.summary(200) for r in dry],
        },
        "durable": {
            "rate_per_s": round(rate, 1),
            **lat,
            "rounds": [r.summary(202) for r in durable],
        },
    }
    return result
