"""The raw SMTP ceiling: aiosmtplib sending pre-built messages over N reused connections.

    python benchmarks/ceiling.py --port SINK_PORT --connections 4 --count 2000 \
        --size 2500 --out result.json

All messages are built (and padded to ``--size`` bytes, the size of the relay's own
rendering) before the clock starts; then ``--connections`` senders each keep one
connection open and send the next message as soon as the previous one got its ``250``.
This is what the relay's worker could do at best with the same connections and no
database, rendering or HTTP at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import aiosmtplib

SENDER = "bench@bench.example"


def build(i: int, size: int) -> bytes:
    head = (
        f"From: Bench <{SENDER}>\r\n"
        f"To: user{i}.ceiling@example.com\r\n"
        f"Subject: Benchmark message {i}\r\n"
        "Date: Sat, 21 Nov 2026 06:00:00 +0000\r\n"
        f"Message-ID: <ceiling.{i}@bench.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Hello, this is a line of the benchmark message body, padding it.\r\n"
    body = (line * (max(0, size - len(head)) // len(line) + 1))[: max(0, size - len(head))]
    return head + body


async def run(args: argparse.Namespace) -> dict[str, float]:
    messages = [build(i, args.size) for i in range(args.count)]
    next_index = 0

    async def sender(smtp: aiosmtplib.SMTP) -> None:
        nonlocal next_index
        while next_index < len(messages):
            i = next_index
            next_index += 1
            await smtp.sendmail(SENDER, [f"user{i}.ceiling@example.com"], messages[i])

    connections = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=args.port, use_tls=False, start_tls=False)
        for _ in range(args.connections)
    ]
    await asyncio.gather(*(c.connect() for c in connections))
    await asyncio.gather(*(c.ehlo() for c in connections))
    began = time.time()
    await asyncio.gather(*(sender(c) for c in connections))
    ended = time.time()
    await asyncio.gather(*(c.quit() for c in connections))
    return {"began": began, "ended": ended, "count": args.count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, default=2500, help="bytes per message")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
