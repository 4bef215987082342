"""Property-based fuzzing of the published OpenAPI schema against a real server.

Schemathesis generates requests from ``/openapi.json`` — valid, invalid and odd — and
checks that nothing answers 5xx and every response matches the documented statuses,
content types and schemas; that a request the schema calls valid is not refused as
malformed (so the schema is as strict as the validation behind it); and that a wrong
method gets a 405 whose ``Allow`` lists every method of the path. Once with a valid key
and once with a wrong one.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="fuzzing needs the [dev] extra")
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from authmail_relay.api import create_app
from authmail_relay.relay import Relay
from authmail_relay.settings import Settings
from authmail_relay.smtp.config import SmtpConfig
from tests.support.smtpd import free_port

pytestmark = pytest.mark.slow
API_KEY = "fuzz-key-0123456789abcdef"
#: The routes whose bodies the core judges beyond what a schema can say: whether an
#: address parses, a base_url has an allowed origin, the recipients add up to at most
#: 50, an auth kind has its code or token. There a core refusal (422 with the core's
#: own message) of a schema-valid body is no schema defect; a refusal by the request
#: model itself ("the request is invalid") or a 400 still is.
SEMANTIC_ROUTES = frozenset(
    {"/send", "/send/otp", "/send/magic-link", "/send/password-reset", "/v1/messages"}
)
MODEL_REFUSAL = "the request is invalid"


@schemathesis.check
def schema_valid_requests_are_accepted(
    ctx: st_checks.CheckContext, response: st_checks.Response, case: schemathesis.Case
) -> bool | None:
    """ST202 (positive data acceptance), except the core's semantic refusals above, an
    Idempotency-Key that an earlier generated request used with another body, and a
    key asked to hold both send and approve."""
    if response.status_code == 422:
        body = response.json()
        if body.get("error_code") in ("idempotency_key_mismatch", "conflicting_scopes"):
            # The second: a key's scopes holding both send and approve (separation of
            # duties), a rule across two list items the schema states in words only.
            return None
        if case.path in SEMANTIC_ROUTES and body.get("detail") != MODEL_REFUSAL:
            return None
    return st_checks.positive_data_acceptance(ctx, response, case)


CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    schema_valid_requests_are_accepted,
    st_checks.unsupported_method,
    st_checks.allow_header_conformance,
]
#: Every name "resolves" to this public address, so webhook URLs pass the address
#: policy without real DNS (no worker runs, so nothing is ever called).
PUBLIC_ADDRESS = "93.184.215.14"


async def _public(host: str, port: int) -> list[str]:
    return [PUBLIC_ADDRESS]


class _ServerThread(threading.Thread):
    """uvicorn in its own thread and event loop, so synchronous fuzz calls can reach it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.relay = Relay(settings, webhook_resolver=_public)
        app = create_app(settings, relay=self.relay, run_worker=False)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        async with self.relay:
            await self.server.serve(sockets=[self.sock])


def _settings(folder: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'fuzz.db'}",
        # Nothing listens there: no worker runs, so nothing is ever sent anyway.
        smtp=SmtpConfig(
            host="127.0.0.1", port=free_port(), tls="none", from_addr="relay@example.com"
        ),
        api_key=API_KEY,
        magic_link_base_url="https://app.example.com",
        send_wait_seconds=0.05,
        auth_failure_limit=1_000_000,
        max_body_bytes=256 * 1024,
        # /v1/domains asks a loopback port where nothing answers: never the real DNS.
        dns_resolver=f"127.0.0.1:{free_port()}",
        dns_timeout_seconds=0.2,
    )


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    thread = _ServerThread(_settings(tmp_path_factory.mktemp("fuzz")))
    thread.start()
    while not thread.server.started:
        thread.join(0.05)
        assert thread.is_alive(), "the fuzz server did not start"
    yield thread.url
    thread.server.should_exit = True
    thread.join(10)
    thread.sock.close()


# The schema the server publishes at /openapi.json, taken from an app built the same way
# (building the app opens nothing; only serving it does).
schema = schemathesis.openapi.from_dict(
    create_app(_settings(Path("unused")), run_worker=False).openapi()
)
_HYPOTHESIS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    derandomize=True,
)
# Unauthenticated cases all stop at the 401, so fewer of them find as much.
_HYPOTHESIS_WRONG_KEY = settings(_HYPOTHESIS, max_examples=4)


@schema.parametrize()
@_HYPOTHESIS
def test_with_a_valid_key(case: schemathesis.Case, fuzz_server: str) -> None:
    """Authenticated: never a 5xx, always a documented, well-formed response."""
    case.call_and_validate(
        base_url=fuzz_server, headers={"Authorization": f"Bearer {API_KEY}"}, checks=CHECKS
    )


@schema.parametrize()
@_HYPOTHESIS_WRONG_KEY
def test_with_a_wrong_key(case: schemathesis.Case, fuzz_server: str) -> None:
    """Unauthenticated: the same guarantees, and no authenticated route answers 2xx."""
    response = case.call_and_validate(
        base_url=fuzz_server, headers={"Authorization": "Bearer not-the-key"}, checks=CHECKS
    )
    if case.path not in ("/health", "/ready"):
        assert response.status_code in (400, 401, 404, 405, 413, 422), response.status_code
