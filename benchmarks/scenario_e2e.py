"""Scenario 2 — end-to-end: messages per second from the first request to the last ``250``.

The baseline is the raw ceiling on the same sink: ceiling.py sends pre-built messages
of the same size as the relay's rendering with aiosmtplib over ``SMTP_POOL_SIZE``
reused connections, nothing else. Then the relay (``serve`` with its embedded worker, on
its default settings: ``SMTP_POOL_SIZE`` connections) gets the same number of messages
through ``POST /v1/messages`` from the load generator, and the clock runs from the first
request's start to the sink's arrival time of the last message.

A second row shows the delivery engine alone: the same number of messages already
queued (stored by ``serve --no-worker``), then a separate ``worker`` process started;
the clock runs from its start to the last arrival.

Target (from the brief): the relay reaches at least 70 % of the ceiling.
"""

from __future__ import annotations

import time

import httpx
from drivers import run_ceiling, run_load
from harness import API_KEY, BENCH_DIR, RELAY_PYTHON, Context
from load import raw_body
from report import Result, fmt
from services import Sink, relay_env, start_relay, start_sink

#: The relay's default SMTP_POOL_SIZE: the ceiling gets as many connections.
SMTP_CONNECTIONS = 4
HTTP_CONCURRENCY = 10


def rendered_size(url: str) -> int:
    """Bytes of the relay's rendering of the load generator's message (a dry run)."""
    response = httpx.post(
        url + "/v1/messages",
        json=raw_body(0, "size"),
        headers={"Authorization": f"Bearer {API_KEY}", "X-Dry-Run": "true"},
        timeout=30,
    )
    response.raise_for_status()
    return int(response.json()["size"])


def run(ctx: Context) -> Result:
    count = ctx.n(3000, 600)
    result = Result(
        "e2e",
        f"{count} messages, first request to last 250; default settings "
        f"(SMTP_POOL_SIZE={SMTP_CONNECTIONS}), HTTP c={HTTP_CONCURRENCY}",
        f"aiosmtplib ceiling ({SMTP_CONNECTIONS} conns)",
        "relay (POST /v1/messages)",
    )
    sink = start_sink(ctx.processes)
    relay = start_relay(
        ctx.processes,
        name="relay",
        sink=sink,
        database=ctx.path("relay.db"),
        settings={"SMTP_POOL_SIZE": str(SMTP_CONNECTIONS)},
    )
    size = rendered_size(relay.url)
    ceiling = run_ceiling(
        ctx.path("ceiling.json"),
        smtp_port=sink.smtp_port,
        connections=SMTP_CONNECTIONS,
        count=count,
        size=size,
    )
    sink.reset()
    load = run_load(
        ctx.path("load.json"),
        url=relay.url,
        path="/v1/messages",
        count=count,
        concurrency=HTTP_CONCURRENCY,
        tag="e2e",
    )
    relay.ensure_alive()
    accepted = len(load.with_status(202))
    complete = sink.wait_for(accepted, timeout=ctx.n(300, 120))
    arrivals = sink.arrival_times()
    last = max(arrivals) if arrivals else load.ended
    e2e_rate = len(arrivals) / max(last - load.began, 1e-9)
    intake_rate = load.rate(202)
    share = e2e_rate / ceiling.rate

    result.info("messages", f"{ceiling.count}", f"{len(arrivals)} sent / {accepted} accepted")
    result.info("seconds", fmt(ceiling.ended - ceiling.began, 2), fmt(last - load.began, 2))
    result.check(
        "msg/s",
        fmt(ceiling.rate),
        f"{fmt(e2e_rate)} ({share:.0%})",
        ">= 70% of ceiling",
        complete and share >= 0.70,
    )
    result.info("intake 202/s (while sending)", "", fmt(intake_rate))
    ctx.processes.stop(relay.proc)
    drain_rate, drained = _worker_alone(ctx, sink, count)
    result.info(
        "worker alone, msg/s (queue pre-filled)",
        "",
        f"{fmt(drain_rate)} ({drain_rate / ceiling.rate:.0%})" + ("" if drained else " incomplete"),
    )
    result.info("message size (bytes)", f"{size}", f"{size}")
    if not complete:
        result.notes.append(
            f"only {len(arrivals)} of {accepted} accepted messages reached the sink"
        )
    result.data = {
        "count": count,
        "message_size": size,
        "smtp_connections": SMTP_CONNECTIONS,
        "worker_alone_rate_per_s": round(drain_rate, 1),
        "http_concurrency": HTTP_CONCURRENCY,
        "ceiling": {"seconds": ceiling.ended - ceiling.began, "rate_per_s": round(ceiling.rate, 1)},
        "relay": {
            "seconds": last - load.began,
            "rate_per_s": round(e2e_rate, 1),
            "share_of_ceiling": round(share, 3),
            "delivered": len(arrivals),
            "intake": load.summary(202),
        },
    }
    return result


def _worker_alone(ctx: Context, sink: Sink, count: int) -> tuple[float, bool]:
    """Fill a fresh outbox through ``serve --no-worker``, then time a ``worker`` process
    from its start to the last arrival."""
    database = ctx.path("drain.db")
    settings = {"SMTP_POOL_SIZE": str(SMTP_CONNECTIONS)}
    filler = start_relay(
        ctx.processes,
        name="filler",
        sink=sink,
        database=database,
        worker=False,
        settings=settings,
    )
    run_load(
        ctx.path("fill.json"),
        url=filler.url,
        path="/v1/messages",
        count=count,
        concurrency=HTTP_CONCURRENCY,
        tag="drain",
    )
    ctx.processes.stop(filler.proc)
    sink.reset()
    began = time.time()
    ctx.processes.start(
        "worker",
        [str(RELAY_PYTHON), str(BENCH_DIR / "relay_main.py"), "worker"],
        relay_env(sink, database, settings),
        cwd=database.parent,
    )
    drained = sink.wait_for(count, timeout=ctx.n(300, 120))
    arrivals = sink.arrival_times()
    if not arrivals:
        return 0.0, False
    return len(arrivals) / max(max(arrivals) - began, 1e-9), drained
