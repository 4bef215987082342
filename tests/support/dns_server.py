"""A tiny authoritative DNS server on loopback UDP for tests: TXT records from a dict.

``async with dns_server({"example.com": ["v=spf1 -all"]}) as server:`` serves on
``server.address`` (``127.0.0.1:PORT``, the ``DNS_RESOLVER`` format) in the running
event loop. Names not in the dict get NXDOMAIN; a name whose value is :data:`SILENT` gets
no answer at all (a timeout), :data:`SERVFAIL` a server failure. A value longer than 255
bytes is split into several character-strings, as a real zone would hold it; a tuple
gives the strings explicitly. ``server.queries`` lists the names asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT

SILENT = "<no answer>"
SERVFAIL = "<servfail>"

Value = str | tuple[str, ...]


@dataclass
class DnsServer:
    """The running server: where it listens, what it serves, what it was asked."""

    host: str
    port: int
    records: dict[str, list[Value]]
    queries: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _strings(value: Value) -> list[bytes]:
    if isinstance(value, tuple):
        return [part.encode() for part in value]
    data = value.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's UDP transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        answer = self._answer(query)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer.to_wire(), addr)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.server.queries.append(name)
        values = self.server.records.get(name)
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif SILENT in values:
            return None
        elif SERVFAIL in values:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif question.rdtype == dns.rdatatype.TXT and values:
            rdatas = [
                TXT(dns.rdataclass.IN, dns.rdatatype.TXT, _strings(value)) for value in values
            ]
            response.answer.append(dns.rrset.from_rdata_list(question.name, 300, rdatas))
        return response  # an empty list, or another type: NOERROR without answers


@contextlib.asynccontextmanager
async def dns_server(records: Mapping[str, Sequence[Value]]) -> AsyncIterator[DnsServer]:
    """Serve ``records`` (name → TXT values) on an ephemeral loopback UDP port."""
    server = DnsServer("127.0.0.1", 0, {k.lower().rstrip("."): list(v) for k, v in records.items()})
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Responder(server), local_addr=(server.host, 0)
    )
    server.port = transport.get_extra_info("sockname")[1]
    try:
        yield server
    finally:
        transport.close()
