"""Scenario 2 — end-to-end: messages per second from the first request to the last ``250``.

The baseline is the raw ceiling on the same sink: ceiling.py sends pre-built messages
of the same size as the relay's rendering with aiosmtplib over ``WORKER_CONCURRENCY``
reused connections, nothing else. Then the relay (``serve`` with its worker,
``WORKER_CONCURRENCY`` connections) gets the same number of messages through
``POST /v1/messages`` from the load generator, and the clock runs from the first
request's start to the sink's arrival time of the last message.

Target (from the brief): the relay reaches at least 70 % of the ceiling.
"""

from __future__ import annotations

import httpx
from drivers import run_ceiling, run_load
from harness import API_KEY, Context
from load import raw_body
from report import Result, fmt
from services import start_relay, start_sink

WORKER_CONCURRENCY = 4
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
        f"{count} messages, first request to last 250; WORKER_CONCURRENCY={WORKER_CONCURRENCY}, "
        f"HTTP c={HTTP_CONCURRENCY}",
        f"aiosmtplib ceiling ({WORKER_CONCURRENCY} conns)",
        "relay (POST /v1/messages)",
    )
    sink = start_sink(ctx.processes)
    relay = start_relay(
        ctx.processes,
        name="relay",
        sink=sink,
        database=ctx.path("relay.db"),
        settings={"WORKER_CONCURRENCY": str(WORKER_CONCURRENCY)},
    )
    size = rendered_size(relay.url)
    ceiling = run_ceiling(
        ctx.path("ceiling.json"),
        smtp_port=sink.smtp_port,
        connections=WORKER_CONCURRENCY,
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
    result.info("message size (bytes)", f"{size}", f"{size}")
    if not complete:
        result.notes.append(
            f"only {len(arrivals)} of {accepted} accepted messages reached the sink"
        )
    result.data = {
        "count": count,
        "message_size": size,
        "worker_concurrency": WORKER_CONCURRENCY,
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
