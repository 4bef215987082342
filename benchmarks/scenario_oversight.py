"""Scenario 6 — oversight: does an auto-approved OTP go out as fast as an ungated one?

Two relays on their own SQLite files share one sink:

* ungated (baseline): ``OVERSIGHT_DEFAULT=autonomous``, no rules: today's behaviour.
* gated + rule: ``OVERSIGHT_DEFAULT=gated`` (the env key's sends are held for approval)
  and one rule, ``approve`` when ``kinds: [otp]``, created through
  ``POST /v1/approval-rules`` before the run. Every OTP is approved by that rule in the
  transaction that stores it, with its approval and audit entries.

Both get the same OTPs (``kind: otp``), one at a time, one every ``PACE`` seconds, in
alternating rounds (ungated, gated, ungated, gated) so a drift of the machine hits both.
Latency is accept-to-``250`` as in the priority scenario.

Target: the gated relay's p50 and p99 within 10 % (or 2 ms, whichever is larger) of the
ungated one's, and every OTP delivered (a held OTP would never arrive).
"""

from __future__ import annotations

import httpx
from harness import API_KEY, Context, latency_summary_ms
from report import Result, fmt
from scenario_priority import otp_latencies, send_otps
from services import Relay, Sink, start_relay, start_sink

PACE = 0.05
ROUNDS = 2


def _tolerance_ms(baseline_ms: float) -> float:
    return max(baseline_ms * 0.10, 2.0)


def _add_otp_rule(relay: Relay) -> None:
    response = httpx.post(
        relay.url + "/v1/approval-rules",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"action": "approve", "conditions": {"kinds": ["otp"]}, "description": "OTPs"},
        timeout=30,
    )
    response.raise_for_status()


def _round(
    ctx: Context, relay: Relay, sink: Sink, name: str, count: int
) -> tuple[list[float], int]:
    load = send_otps(ctx, relay, name, count, pace=PACE)
    latencies, missing = otp_latencies(load, sink, timeout=60)
    return latencies, missing + (count - len(load.with_status(202)))


def run(ctx: Context) -> Result:
    count = ctx.n(300, 60)
    result = Result(
        "oversight",
        f"{ROUNDS}x{count} OTPs (kind otp, one at a time), accept→250",
        "ungated",
        "gated + approve rule",
    )
    sink = start_sink(ctx.processes)
    ungated = start_relay(
        ctx.processes,
        name="relay-ungated",
        sink=sink,
        database=ctx.path("ungated.db"),
        settings={"OVERSIGHT_DEFAULT": "autonomous"},
    )
    gated = start_relay(
        ctx.processes,
        name="relay-gated",
        sink=sink,
        database=ctx.path("gated.db"),
        settings={"OVERSIGHT_DEFAULT": "gated"},
    )
    _add_otp_rule(gated)
    base: list[float] = []
    ours: list[float] = []
    missing = {"ungated": 0, "gated": 0}
    for number in range(ROUNDS):
        for name, relay, into in (("ungated", ungated, base), ("gated", gated, ours)):
            latencies, lost = _round(ctx, relay, sink, f"{name}-{number}", count)
            into.extend(latencies)
            missing[name] += lost
            relay.ensure_alive()
    base_lat, our_lat = latency_summary_ms(base), latency_summary_ms(ours)
    result.info("OTPs delivered", f"{len(base)}/{ROUNDS * count}", f"{len(ours)}/{ROUNDS * count}")
    for metric in ("p50_ms", "p99_ms"):
        limit = base_lat[metric] + _tolerance_ms(base_lat[metric])
        result.check(
            metric.replace("_ms", " ms"),
            fmt(base_lat[metric]),
            fmt(our_lat[metric]),
            "<= ungated + max(10%, 2 ms)",
            not missing["gated"] and our_lat[metric] <= limit,
        )
    result.info("p95 ms", fmt(base_lat["p95_ms"]), fmt(our_lat["p95_ms"]))
    result.info("max ms", fmt(base_lat["max_ms"]), fmt(our_lat["max_ms"]))
    result.data = {
        "count_per_round": count,
        "rounds": ROUNDS,
        "pace_s": PACE,
        "ungated": {**base_lat, "missing": missing["ungated"]},
        "gated_rule": {**our_lat, "missing": missing["gated"]},
    }
    return result
