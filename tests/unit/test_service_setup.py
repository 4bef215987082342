"""Service logging: LOG_LEVEL reaches the relay's loggers only; third parties stay at
WARNING whatever they ask for; uvicorn's access lines lose their query string."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from authmail_relay.cli.service_setup import PINNED_LOGGERS, configure_logging, redact_access_query
from authmail_relay.exceptions import ConfigurationError
from authmail_relay.settings import Settings

pytestmark = pytest.mark.library


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """configure_logging on a clean root logger writing to a buffer; everything it
    touched is put back afterwards."""
    root = logging.getLogger()
    touched = ["authmail_relay", "uvicorn.access", "some.library", *PINNED_LOGGERS]
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in touched})
    access_filters = logging.getLogger("uvicorn.access").filters[:]
    buffer = io.StringIO()
    root.handlers = []
    logging.basicConfig(stream=buffer, format="%(levelname)s %(name)s %(message)s")
    try:
        configure_logging("DEBUG")
        yield buffer
    finally:
        root.handlers, root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
        logging.getLogger("uvicorn.access").filters = access_filters


def test_only_the_relays_loggers_follow_log_level(output: io.StringIO) -> None:
    logging.getLogger("authmail_relay.worker").debug("own debug line")
    logging.getLogger("aiosqlite").debug("executing INSERT ... ('whsec_secret',)")
    logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/t0ken")
    # A library nobody listed, which even sets its own level: still held back.
    chatty = logging.getLogger("some.library")
    chatty.setLevel(logging.DEBUG)
    chatty.info("payload with a secret")
    chatty.warning("a real problem")
    text = output.getvalue()
    assert "own debug line" in text
    assert "a real problem" in text
    assert "whsec_secret" not in text
    assert "t0ken" not in text
    assert "payload with a secret" not in text
    assert all(logging.getLogger(name).level == logging.WARNING for name in PINNED_LOGGERS)


def test_access_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/messages?to=ada%40example.com", "1.1", 200),
        None,
    )
    assert redact_access_query(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /v1/messages?… HTTP/1.1" 200'
    odd = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("?to=x",), None)
    assert not redact_access_query(odd)  # a shape it does not know is dropped


def test_forwarded_allow_ips_is_parsed_and_checked() -> None:
    assert Settings.from_env({}).forwarded_allow_ips == ()
    parsed = Settings.from_env({"FORWARDED_ALLOW_IPS": " 127.0.0.1, ::1 ,10.1.0.0/16"})
    assert parsed.forwarded_allow_ips == ("127.0.0.1", "::1", "10.1.0.0/16")
    assert Settings.from_env({"FORWARDED_ALLOW_IPS": "*"}).forwarded_allow_ips == ("*",)
    for bad in ("proxy.example", "127.0.0.1,*", "10.0.0.0/40"):
        with pytest.raises(ConfigurationError, match="FORWARDED_ALLOW_IPS"):
            Settings.from_env({"FORWARDED_ALLOW_IPS": bad})
