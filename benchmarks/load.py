"""Closed-loop HTTP load generator (httpx), run as its own process by the scenarios.

    python benchmarks/load.py --url http://127.0.0.1:PORT --path /v1/messages \
        --body raw --count 2000 --concurrency 10 --out result.json

``--concurrency`` workers each send one request, wait for the answer, and send the
next (no sooner than ``--pace`` seconds after the previous one started), until
``--count`` requests were answered (after ``--warmup`` unrecorded ones).
The result file holds one sample per request, ``[start, latency, status, message_id]``
(start as ``time.time()``, so it can be compared with the sink's arrival times;
latency in seconds from a monotonic clock), plus the wall-clock span of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

HTML = (
    "<p>Hello {i},</p><p>this is message {i} of the authmail-relay benchmark. "
    "It is about as long as a typical notification: a greeting, two sentences "
    "and a link to <a href='https://app.bench.example/m/{i}'>the app</a>.</p>"
)


def raw_body(i: int, tag: str) -> dict[str, Any]:
    return {
        "to": f"user{i}.{tag}@example.com",
        "subject": f"Benchmark message {i}",
        "html_body": HTML.format(i=i),
    }


def otp_body(i: int, tag: str) -> dict[str, Any]:
    return {"kind": "otp", "to": f"otp{i}.{tag}@example.com", "code": f"{i % 1_000_000:06d}"}


def batch_body(size: int) -> Callable[[int, str], dict[str, Any]]:
    def body(i: int, tag: str) -> dict[str, Any]:
        return {"messages": [raw_body(i * size + j, tag) for j in range(size)]}

    return body


async def run(args: argparse.Namespace) -> dict[str, Any]:
    make: Callable[[int, str], dict[str, Any]]
    if args.body == "raw":
        make = raw_body
    elif args.body == "otp":
        make = otp_body
    else:
        make = batch_body(args.batch_size)
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
    if args.dry_run:
        headers["X-Dry-Run"] = "true"
    total = args.warmup + args.count
    next_index = 0
    samples: list[list[Any]] = []
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            content = json.dumps(make(i, args.tag)).encode()
            wall, started = time.time(), time.perf_counter()
            try:
                response = await client.post(args.path, content=content, headers=headers)
                status = response.status_code
                message_id = _message_id(response)
            except httpx.HTTPError as exc:
                status, message_id = 0, f"{type(exc).__name__}: {exc}"
            latency = time.perf_counter() - started
            if i >= args.warmup:
                samples.append([wall, latency, status, message_id])
            if args.pace > latency:
                await asyncio.sleep(args.pace - latency)

    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=args.timeout) as client:
        # Open the connections before the clock starts.
        await asyncio.gather(*(client.get("/health") for _ in range(args.concurrency)))
        began = time.time()
        await asyncio.gather(*(worker(client) for _ in range(args.concurrency)))
        ended = time.time()
    if args.warmup and samples:
        began = min(s[0] for s in samples)
    return {"began": began, "ended": ended, "samples": samples}


def _message_id(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("message_id") or "") if isinstance(data, dict) else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--body", choices=("raw", "otp", "batch"), default="raw")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--count", type=int, required=True, help="recorded requests")
    parser.add_argument("--warmup", type=int, default=0, help="unrecorded requests first")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--dry-run", action="store_true", help="send X-Dry-Run: true")
    parser.add_argument(
        "--pace", type=float, default=0.0, help="least seconds between one worker's requests"
    )
    parser.add_argument("--tag", default="b", help="makes recipients unique per run")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
