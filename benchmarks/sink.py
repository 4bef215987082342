"""The SMTP sink: accepts every message, records (arrival time, Message-ID), nothing else.

    python benchmarks/sink.py

Binds two loopback ports chosen by the kernel and prints them on one line,
``READY <smtp-port> <control-port>``, then serves until SIGTERM. The arrival time is
``time.time()`` taken when the message's data is complete, just before the ``250``
reply, so other processes on the same machine can compare it with their own clock.

The control port speaks one line per connection:

* ``count``    → the number of messages received, as a line;
* ``arrivals`` → one JSON array ``[[time, message_id], …]`` of every message so far;
* ``reset``    → forgets everything received so far; answers ``ok``.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time

from aiosmtpd.smtp import SMTP, Envelope, Session

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class Recorder:
    """The aiosmtpd handler: one (time, Message-ID) pair per message."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: bytes = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        message_id = found.group(1).decode("ascii", "replace") if found else ""
        self.arrivals.append((time.time(), message_id))
        return "250 2.0.0 OK"


async def control(
    recorder: Recorder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    command = (await reader.readline()).decode().strip()
    if command == "count":
        writer.write(f"{len(recorder.arrivals)}\n".encode())
    elif command == "arrivals":
        writer.write(json.dumps(recorder.arrivals).encode() + b"\n")
    elif command == "reset":
        recorder.arrivals = []
        writer.write(b"ok\n")
    else:
        writer.write(b"unknown command\n")
    await writer.drain()
    writer.close()


async def main() -> None:
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        lambda: SMTP(recorder, hostname="sink.bench", enable_SMTPUTF8=True),
        host="127.0.0.1",
        port=0,
        backlog=512,
    )
    control_server = await asyncio.start_server(
        lambda r, w: control(recorder, r, w), host="127.0.0.1", port=0
    )
    smtp_port = smtp_server.sockets[0].getsockname()[1]
    control_port = control_server.sockets[0].getsockname()[1]
    print(f"READY {smtp_port} {control_port}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    smtp_server.close()
    control_server.close()


if __name__ == "__main__":
    asyncio.run(main())
