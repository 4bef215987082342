"""Real SMTP servers for tests: aiosmtpd in background threads on 127.0.0.1.

Loaded as a pytest plugin by ``tests/conftest.py``. It needs only pytest, trustme and
aiosmtpd (plus the package's base install), so it works in the Python 3.10 library-mode
run as well as for the service's async tests (the servers run in their own threads and
event loops, so they do not care which loop the test uses).

Fixtures
--------
``smtp_server``
    A factory: ``smtp_server(tls="none" | "starttls" | "implicit", ...)`` starts a server
    and returns an :class:`SmtpServer`; every server is stopped at teardown. See
    :meth:`SmtpServerFactory.__call__` for the options (STARTTLS required or not, AUTH
    with one user and password, SMTPUTF8 on or off, a certificate from an untrusted CA).
``smtp_sink``
    A plain server (no TLS, no AUTH) for tests that only need somewhere to deliver.
``smtp_ca`` / ``smtp_ca_file``
    The session's test CA (:class:`trustme.CA`) and the path of its PEM file; pass the
    path as ``SmtpConfig(ca_file=...)``. :meth:`SmtpServer.config` does that for you.
``smtp_untrusted_ca``
    A second CA that clients do not trust (``smtp_server(untrusted=True)`` uses it).

Faults
------
Each server has a :class:`RecordingHandler` (``server.handler``) that records what it
receives and can misbehave on request, per stage (``ehlo``, ``mail``, ``rcpt``, ``data``
for the DATA command, ``final_dot`` for the reply after the message data)::

    server.handler.reply_at("mail", "451 4.3.0 Try again later", times=1)
    server.handler.refuse_recipient("nobody@example.com")       # 550 for that RCPT
    server.handler.disconnect_at("final_dot")  # store the message, then hang up: ambiguous
    server.handler.disconnect_at_first_final_dot()  # the same, once per Message-ID
    server.handler.delay_at("final_dot", 2.0)  # store, then wait before replying 250
    server.handler.hide_extension("STARTTLS")  # leave it out of the EHLO reply
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from authmail_relay.smtp.config import SmtpConfig

HOST = "127.0.0.1"
#: The name the servers greet with; their certificates are valid for it and for HOST.
SERVER_NAME = "smtp.test"
#: The default sender address of :meth:`SmtpServer.config`.
DEFAULT_FROM = "noreply@sender.example"
STAGES = ("ehlo", "mail", "rcpt", "data", "final_dot")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One message as the server got it (``raw`` is the DATA payload, un-dot-stuffed)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    mail_options: tuple[str, ...]
    tls: bool
    authenticated: bool

    def parsed(self) -> EmailMessage:
        """The message parsed with the modern email policy."""
        return BytesParser(policy=default).parsebytes(self.raw)

    def header_names(self) -> list[str]:
        """Top-level header names, lower-cased and sorted (a multiset)."""
        return sorted(name.lower() for name in self.parsed())


@dataclass
class Fault:
    """One injected misbehaviour; ``times=None`` means every time."""

    stage: str
    reply: str | None = None
    disconnect: bool = False
    delay: float = 0.0
    recipient: str | None = None
    times: int | None = None


@dataclass
class RecordingHandler:
    """Records envelopes and commands; misbehaves on request (see module docs).

    ``messages`` holds accepted messages; ``data_received`` every message body that
    reached the end of DATA, accepted or not (so retries can be compared byte for byte);
    ``events`` is ``(command, tls_active)`` for EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA.
    """

    credentials: tuple[str, str] | None = None
    messages: list[Received] = field(default_factory=list)
    data_received: list[bytes] = field(default_factory=list)
    events: list[tuple[str, bool]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hidden_extensions: set[str] = field(default_factory=set)
    #: Message-IDs seen so far, when every message's first copy is to be dropped.
    first_copies_seen: set[str] | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    # -- configuring faults -------------------------------------------------------------

    def reply_at(
        self, stage: str, reply: str, *, times: int | None = None, recipient: str | None = None
    ) -> None:
        """Answer ``stage`` with ``reply`` (e.g. ``"451 4.3.0 later"``) instead of 250."""
        self._add(Fault(stage, reply=reply, times=times, recipient=recipient))

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        """Refuse RCPT TO for ``address`` (every time)."""
        self._add(Fault("rcpt", reply=reply, recipient=address))

    def disconnect_at(self, stage: str, *, times: int | None = None) -> None:
        """Close the connection instead of answering ``stage``.

        At ``final_dot`` the message is stored first: the client cannot know that.
        """
        self._add(Fault(stage, disconnect=True, times=times))

    def disconnect_at_first_final_dot(self) -> None:
        """Store each message, then hang up instead of answering the final dot — the first
        time its Message-ID arrives; later copies get their 250 (an upstream that loses
        the reply once for every message)."""
        self.first_copies_seen = set()

    def _first_copy(self, received: Received) -> bool:
        if self.first_copies_seen is None:
            return False
        message_id = str(received.parsed()["Message-ID"])
        with self._changed:
            first = message_id not in self.first_copies_seen
            self.first_copies_seen.add(message_id)
        return first

    def delay_at(self, stage: str, seconds: float, *, times: int | None = None) -> None:
        """Wait ``seconds`` before answering ``stage`` (at ``final_dot``: after storing)."""
        self._add(Fault(stage, delay=seconds, times=times))

    def hide_extension(self, name: str) -> None:
        """Leave the ESMTP extension ``name`` (e.g. ``"AUTH"``) out of EHLO replies."""
        self.hidden_extensions.add(name.upper())

    def _add(self, fault: Fault) -> None:
        if fault.stage not in STAGES:
            raise ValueError(f"unknown stage {fault.stage!r}; use one of {STAGES}")
        self.faults.append(fault)

    def _take(self, stage: str, recipient: str | None = None) -> Fault | None:
        with self._changed:
            for fault in self.faults:
                if fault.stage != stage or fault.times == 0:
                    continue
                if fault.recipient is not None and fault.recipient != recipient:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def apply_fault(
        self, stage: str, server: SMTP, recipient: str | None = None
    ) -> str | None:
        """Run the fault for ``stage`` if any; return the reply to send instead, if any."""
        fault = self._take(stage, recipient)
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.disconnect:
            await _hang_up(server)
        return fault.reply

    # -- reading what happened ----------------------------------------------------------

    @property
    def commands(self) -> list[str]:
        """The command names of ``events`` in order."""
        return [name for name, _ in self.events]

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """Block until ``count`` messages were accepted; raise ``TimeoutError`` if not."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
            return list(self.messages)

    def _record(self, command: str, server: SMTP) -> None:
        with self._changed:
            self.events.append((command, _tls_active(server)))

    # -- aiosmtpd hooks -----------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self._record("EHLO", server)
        # With this hook in place aiosmtpd leaves remembering the EHLO name to us.
        session.host_name = hostname
        reply = await self.apply_fault("ehlo", server)
        if reply is not None:
            return [reply]
        kept = [r for r in responses if r[4:].split(" ")[0].upper() not in self.hidden_extensions]
        # The last line of a multi-line reply uses "250 ", the others "250-".
        return [line[:3] + "-" + line[4:] for line in kept[:-1]] + ["250 " + kept[-1][4:]]

    def handle_STARTTLS(self, server: SMTP, session: Session, envelope: Envelope) -> bool:
        self._record("STARTTLS", server)
        return True

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._record("MAIL", server)
        reply = await self.apply_fault("mail", server)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._record("RCPT", server)
        reply = await self.apply_fault("rcpt", server, recipient=address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            mail_options=tuple(envelope.mail_options),
            tls=_tls_active(server),
            authenticated=bool(session.authenticated),
        )
        with self._changed:
            self.data_received.append(raw)
        fault = self._take("final_dot")
        if fault is not None and fault.reply is not None and not fault.reply.startswith("2"):
            if fault.delay:
                await asyncio.sleep(fault.delay)
            return fault.reply  # refused: not stored
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()
        if self._first_copy(received):
            await _hang_up(server)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.disconnect:
                await _hang_up(server)
        return "250 2.0.0 OK queued"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """The aiosmtpd authenticator: accepts exactly ``credentials``."""
        self._record("AUTH", server)
        ok = False
        if self.credentials is not None and isinstance(auth_data, LoginPassword):
            user, password = self.credentials
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        # handled=False makes aiosmtpd send the 535 itself; True would hang the client.
        return AuthResult(success=ok, handled=False)


def _tls_active(server: SMTP) -> bool:
    """True when the connection is encrypted (implicit TLS or after STARTTLS)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


async def _hang_up(server: SMTP) -> None:
    """Close the connection and wait to be cancelled (aiosmtpd does that on close)."""
    if server.transport is not None:
        server.transport.close()
    await asyncio.Event().wait()


class _FaultySMTP(SMTP):
    """aiosmtpd's server with a hook before the DATA command is answered."""

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        handler = self.event_handler
        if isinstance(handler, RecordingHandler) and self.session is not None:
            handler._record("DATA", self)
            reply = await handler.apply_fault("data", self)
            if reply is not None:
                await self.push(reply)
                return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    """A running server: where it listens, what it got, and a matching client config."""

    host: str
    port: int
    tls: str
    handler: RecordingHandler
    ca_file: str | None
    controller: Controller = field(repr=False)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def config(self, **overrides: Any) -> SmtpConfig:
        """An :class:`SmtpConfig` for this server (its TLS mode, the test CA, the AUTH
        credentials if any, a 5 s timeout, ``from_addr`` :data:`DEFAULT_FROM`)."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "ca_file": self.ca_file,
            "timeout": 5.0,
            "from_addr": DEFAULT_FROM,
        }
        if self.handler.credentials is not None:
            values["user"], values["password"] = self.handler.credentials
        values.update(overrides)
        return SmtpConfig(**values)

    def stop(self) -> None:
        with contextlib.suppress(AssertionError):
            self.controller.stop()


class SmtpServerFactory:
    """Starts servers on free ports and stops them all at teardown."""

    def __init__(self, trusted: trustme.CA, untrusted: trustme.CA, ca_file: str):
        self._trusted = trusted
        self._untrusted = untrusted
        self._ca_file = ca_file
        self.servers: list[SmtpServer] = []

    def __call__(
        self,
        *,
        tls: str = "none",
        require_starttls: bool = False,
        auth: tuple[str, str] | None = None,
        auth_require_tls: bool = True,
        auth_required: bool | None = None,
        smtputf8: bool = True,
        untrusted: bool = False,
        certificate_names: tuple[str, ...] = (HOST, "localhost", SERVER_NAME),
        handler: RecordingHandler | None = None,
        **smtp_options: Any,
    ) -> SmtpServer:
        """Start a server.

        ``tls``: ``"none"``, ``"starttls"`` (offered after EHLO; required before any
        other command with ``require_starttls``) or ``"implicit"`` (TLS from the first
        byte). ``untrusted`` uses a certificate from a CA the clients do not trust;
        ``certificate_names`` sets the names the certificate is valid for (leave out
        ``127.0.0.1`` to test a host-name mismatch).
        ``auth=(user, password)`` enables AUTH PLAIN/LOGIN for that one user; it is only
        offered over TLS unless ``auth_require_tls=False``, and MAIL needs a successful
        AUTH when ``auth_required`` (default: whenever AUTH also needs STARTTLS; over
        implicit TLS AUTH is always offered and not required). ``smtputf8``
        toggles the SMTPUTF8 extension. Other keywords go to aiosmtpd's ``SMTP``.
        """
        if tls not in ("none", "starttls", "implicit"):
            raise ValueError(f"unknown tls mode {tls!r}")
        handler = handler or RecordingHandler()
        context = _server_context(
            self._untrusted if untrusted else self._trusted, certificate_names
        )
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8, **smtp_options}
        if tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=require_starttls)
        if auth is not None:
            handler.credentials = auth
            # aiosmtpd only counts STARTTLS as TLS when deciding whether to offer AUTH, so
            # over implicit TLS it must be told not to insist on it (the link is TLS).
            require_tls = auth_require_tls and tls != "implicit"
            if auth_required is None:
                # aiosmtpd warns when AUTH is required but TLS is not; avoid that pairing.
                auth_required = require_tls
            kwargs.update(
                authenticator=handler.authenticate,
                auth_require_tls=require_tls,
                auth_required=auth_required,
            )
        ssl_context = context if tls == "implicit" else None
        controller = self._start(handler, ssl_context, kwargs)
        server = SmtpServer(
            host=HOST,
            port=controller.port,
            tls=tls,
            handler=handler,
            ca_file=self._ca_file if tls != "none" else None,
            controller=controller,
        )
        self.servers.append(server)
        return server

    @staticmethod
    def _start(
        handler: RecordingHandler, ssl_context: ssl.SSLContext | None, kwargs: dict[str, Any]
    ) -> Controller:
        error: Exception | None = None
        for _ in range(5):  # another process may grab the probed port first
            controller = _Controller(
                handler,
                hostname=HOST,
                port=free_port(),
                server_hostname=SERVER_NAME,
                ssl_context=ssl_context,
                **kwargs,
            )
            try:
                controller.start()
            except OSError as exc:
                error = exc
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                    controller.loop.close()
                continue
            return controller
        raise RuntimeError("could not start an SMTP test server") from error

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()


@functools.cache
def _server_context(ca: trustme.CA, names: tuple[str, ...]) -> ssl.SSLContext:
    """A server context with a certificate from ``ca`` for ``names`` (made once each)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """The test CA that clients trust (via ``smtp_ca_file``)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_untrusted_ca() -> trustme.CA:
    """A CA that no client trusts."""
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_ca_file(smtp_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of the trusted test CA's certificate (PEM), for ``SmtpConfig(ca_file=...)``."""
    path = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    smtp_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def smtp_server(
    smtp_ca: trustme.CA, smtp_untrusted_ca: trustme.CA, smtp_ca_file: str
) -> Iterator[SmtpServerFactory]:
    """Factory for SMTP servers (see :meth:`SmtpServerFactory.__call__`)."""
    factory = SmtpServerFactory(smtp_ca, smtp_untrusted_ca, smtp_ca_file)
    yield factory
    factory.stop_all()


@pytest.fixture
def smtp_sink(smtp_server: SmtpServerFactory) -> SmtpServer:
    """A plain SMTP server: no TLS, no AUTH, SMTPUTF8 on."""
    return smtp_server()
