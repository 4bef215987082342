"""`python -m authmail_relay` as a real process: the documented calls, limits and start-up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="service tests need the [http] extra")

from tests.support.smtpd import DEFAULT_FROM, SmtpServer, free_port

pytestmark = pytest.mark.slow
API_KEY = "process-test-key-0123456789"
MAX_BODY = 1024 * 1024


def _env(tmp_path: Path, sink: SmtpServer, port: int, **extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMTP_", "DATABASE_", "API_", "MAGIC_"))
    }
    base.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}",
        SMTP_HOST=sink.host,
        SMTP_PORT=str(sink.port),
        SMTP_USE_TLS="false",
        SMTP_FROM=DEFAULT_FROM,
        API_KEY=API_KEY,
        PORT=str(port),
        MAGIC_LINK_BASE_URL="https://app.example.com",
        LOG_LEVEL="WARNING",
        MAX_BODY_BYTES=str(MAX_BODY),
    )
    base.update(extra)
    return base


@pytest.fixture
def service(tmp_path: Path, smtp_sink: SmtpServer) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (tmp_path / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull],
        env=_env(tmp_path, smtp_sink, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError((tmp_path / "service.log").read_text())
    try:
        yield url, process
    finally:
        process.terminate()
        code = process.wait(15)
        log.close()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert code in (0, -signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "service.log").read_text()


def test_documented_calls(
    service: tuple[str, subprocess.Popen[bytes]], smtp_sink: SmtpServer
) -> None:
    """The three curl calls of the guide return what it says, and the mail arrives."""
    url, _ = service
    auth = {"Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    calls = [
        ("/send", {"to": "me@example.com", "subject": "Hi", "html_body": "<b>Hello</b>"}),
        ("/send/otp", {"to": "me@example.com", "user_name": "Ada", "code": "123456"}),
        ("/send/magic-link", {"to": "me@example.com", "user_name": "Ada", "token": "tok-abc"}),
    ]
    for path, body in calls:
        response = httpx.post(f"{url}{path}", json=body, headers=auth, timeout=30)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["sent"] is True
        assert answer["message_id"].startswith("<")
        assert answer["id"].startswith("msg_")
    assert len(smtp_sink.handler.wait_for_messages(3)) == 3
    assert (
        "123456" in smtp_sink.messages[1].parsed().get_body(preferencelist=("plain",)).get_content()
    )


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _raw_request(url: str, head: bytes, chunks: Iterator[bytes]) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed early, as it should
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return answer


def test_oversized_bodies_get_413_without_being_read(
    service: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """20 MB declared or streamed: 413, and the server's peak memory grows by no more than
    the 1 MiB cap (a streamed body is read up to the cap, never beyond)."""
    url, process = service
    before = _peak_rss_kib(process.pid)
    twenty_mb = 20 * 1024 * 1024
    head = (
        f"POST /send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {twenty_mb}\r\n\r\n"
    ).encode()
    declared = _raw_request(url, head, iter([b"{" + b" " * 65535] * 320))
    assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
    chunked_head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b" " * 65536
    chunks = iter([b"%x\r\n%s\r\n" % (len(piece), piece)] * 320)
    streamed = _raw_request(url, chunked_head, chunks)
    assert streamed.startswith(b"HTTP/1.1 413"), streamed[:200]
    grown_mib = (_peak_rss_kib(process.pid) - before) / 1024
    assert grown_mib < 4, f"peak memory grew by {grown_mib:.1f} MiB"


@pytest.mark.parametrize(
    ("drop", "message"),
    [("API_KEY", "API_KEY is not set"), ("SMTP_HOST", "SMTP_HOST is not set")],
)
def test_start_up_fails_fast_in_one_line(
    tmp_path: Path, smtp_sink: SmtpServer, drop: str, message: str
) -> None:
    """A missing required setting: exit 2 and one line on stderr, no traceback."""
    env = _env(tmp_path, smtp_sink, free_port())
    env.pop(drop)
    done = subprocess.run(
        [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull, "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"authmail-relay: error: {message} (see docs/configuration.md)"


def test_invalid_settings_fail_fast(tmp_path: Path, smtp_sink: SmtpServer) -> None:
    """A too-short API key is refused before anything starts."""
    env = _env(tmp_path, smtp_sink, free_port(), API_KEY="short")
    done = subprocess.run(
        [sys.executable, "-m", "authmail_relay", "--env-file", os.devnull],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "API_KEY must be at least 16" in done.stderr
    assert "Traceback" not in done.stderr
