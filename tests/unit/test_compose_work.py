"""Large messages are composed in a bounded number of threads; small ones inline."""

from __future__ import annotations

import asyncio
import threading

import pytest

from authmail_relay.compose_work import (
    INLINE_BODY_CHARS,
    INLINE_HEADER_CHARS,
    ComposeSlots,
    is_large,
)
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.vocabulary import Kind


def test_an_ordinary_message_and_an_auth_mail_are_small() -> None:
    assert not is_large(MessageRequest(to="Ada <ada@example.com>", subject="Hi", text="x"))
    otp = MessageRequest(to="ada@example.com", kind=Kind.OTP, user_name="Ä" * 200, code="1")
    assert not is_large(otp)


def test_header_text_and_bodies_over_their_thresholds_are_large() -> None:
    names = [f"{'ü' * 100} <t{i}@example.com>" for i in range(INLINE_HEADER_CHARS // 100)]
    assert is_large(MessageRequest(to=names, subject="s", text="x"))
    headers = {"X-A": "v" * (INLINE_HEADER_CHARS + 1)}
    assert is_large(MessageRequest(to="a@example.com", subject="s", text="x", headers=headers))
    body = "x" * (INLINE_BODY_CHARS + 1)
    assert is_large(MessageRequest(to="a@example.com", subject="s", html=body))
    assert not is_large(MessageRequest(to="a@example.com", subject="s", html=body[:-1]))


async def test_large_work_runs_in_threads_at_most_two_at_a_time() -> None:
    slots = ComposeSlots(threads=2)
    large = MessageRequest(to="a@example.com", subject="s", text="x" * (INLINE_BODY_CHARS + 1))
    lock = threading.Lock()
    running = peak = 0
    loop_thread = threading.get_ident()

    def work() -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.05)
        with lock:
            running -= 1
        return threading.get_ident()

    threads = await asyncio.gather(*(slots.run(large, work) for _ in range(6)))
    assert loop_thread not in threads
    assert peak == 2


async def test_small_work_runs_inline_and_errors_propagate() -> None:
    slots = ComposeSlots()
    small = MessageRequest(to="a@example.com", subject="s", text="x")
    assert await slots.run(small, threading.get_ident) == threading.get_ident()

    def fail() -> None:
        raise ValueError("bad")

    large = MessageRequest(to="a@example.com", subject="s", text="x" * (INLINE_BODY_CHARS + 1))
    for request in (small, large):
        with pytest.raises(ValueError, match="bad"):
            await slots.run(request, fail)
