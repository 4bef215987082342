"""Worst-case validation time of header-bound values, against baselines of the same run.

    .venv/bin/python benchmarks/validation_worst.py [--repeat 20]

Validates through the core, as every adapter does (``validate_request`` and
``build_draft``: addresses, subject, custom headers, tags), with no HTTP and no
database:

* **maximal valid request**: every header-bound field at its cap (998-character subject,
  20 custom headers of 998 characters with 76-character names, 50 recipients and 10
  Reply-To addresses and a From of 998 characters each, 10 tags of 64), filled with the
  most expensive content that is still accepted (the slowest of several adversarial
  patterns, chosen in this run), against the baselines: an ordinary request, and one
  regular-expression pass over the same number of characters;
* **100-item batch**: that request validated 100 times, as ``POST /v1/messages/batch``
  does in one event-loop turn at most;
* **over-cap inputs** (the attack report's 16 KB header value, 6 KB ``to``/``cc``/
  ``reply_to``) and the worst 998-character subjects: time to the refusal or answer;
* **render** (informational): composing the maximal request, a message to 50
  recipients with 100-character non-ASCII display names, and one with every field at
  its cap in plain non-ASCII text (the ``email`` package's work, not validation).

Prints the best of ``--repeat`` runs (CPU time of this thread, so other load on the
machine inflates it little) and PASS/MISS against the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any

from authmail_relay.exceptions import RelayError
from authmail_relay.mail.composing import compose
from authmail_relay.mail.message_content import build_draft
from authmail_relay.mail.message_request import MessageRequest, validate_request
from authmail_relay.settings import Settings

SETTINGS = Settings()
HEAD = re.compile(r"=\?[^?]*\?[qQbB]\?")
CAP = 998
#: Every address has a five-character local part, so every mailbox is exactly at the cap.
ADDRESS = " <xxxxx@example.com>"
#: Adversarial shapes; each is repeated and cut to the length wanted.
PATTERNS = {
    "head, then ends": "=?utf-8?q?" + "?=" * 600,
    "two heads, then ends": "=?u?q?=?u?q?" + "?=" * 600,
    "b head, then ends": "=?utf-8?b?" + "?=" * 600,
    "encoded encoded-words": "=?utf-8?q?=3D=3F=3Futf-8=3Fq=3F ",
    "spread words": "=?utf-8?q?J=C3=BCrgen?=" + " " * 52,
    "high-byte words": "=?utf-8?q?=E2=82=AC=C3=A9=C3=BC=E2=82=AC=C3=A9=C3=BC=E2=82=AC?= ",
    "empty charsets": "=??q?",
    "starts only": "=?",
    "ends only": "?=",
}
TARGET_MAX = 5.0
TARGET_BATCH = 50.0


def cpu_ms(call: Callable[[], object], repeat: int) -> float:
    """Best CPU time of ``repeat`` calls, in milliseconds; refusals are fine."""
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        with contextlib.suppress(RelayError):
            call()
        best = min(best, time.thread_time() - started)
    return best * 1000


def accepted(call: Callable[[], object]) -> bool:
    try:
        call()
    except RelayError:
        return False
    return True


def fill(pattern: str, size: int) -> str:
    """``pattern`` repeated to ``size`` characters; whole copies only, then padding."""
    if len(pattern) > size:
        return pattern[:size]
    copies = pattern * (size // len(pattern))
    return copies + "x" * (size - len(copies))


def request(**fields: Any) -> MessageRequest:
    base: dict[str, Any] = {
        "to": "ada@example.org",
        "subject": "Your sign-in code",
        "text": "Your code is 123456.",
        "from_addr": "App <no-reply@example.com>",
    }
    base.update(fields)
    return MessageRequest(**base)


def validate(req: MessageRequest) -> None:
    validate_request(req)
    build_draft(req, SETTINGS)


def worst_value(
    make: Callable[[str], MessageRequest], size: int, repeat: int, patterns: list[str]
) -> str:
    """The slowest accepted content of ``size`` characters for one field."""
    best, chosen = -1.0, "x" * size
    for pattern in patterns:
        value = fill(pattern, size)
        req = make(value)
        if not accepted(partial(validate, req)):
            continue
        cost = cpu_ms(partial(validate, req), max(3, repeat // 4))
        if cost > best:
            best, chosen = cost, value
    return chosen


def maximal_request(repeat: int) -> MessageRequest:
    """Every field at its cap; as many as the message's encoded-word budget allows hold
    the slowest accepted content, the others the slowest content without any."""
    heavy, light = {}, {}
    every = list(PATTERNS.values())
    headless = [p for p in every if not HEAD.search(p)]
    makers: dict[str, tuple[Callable[[str], MessageRequest], int]] = {
        "subject": (lambda v: request(subject=v), CAP),
        "name": (lambda v: request(to=v + ADDRESS), CAP - len(ADDRESS)),
        "header": (lambda v: request(headers={"X-A": v}), CAP),
    }
    for kind, (make, size) in makers.items():
        heavy[kind] = worst_value(make, size, repeat, every)
        light[kind] = worst_value(make, size, repeat, headless)
    slots = ["subject"] + ["name"] * 61 + ["header"] * 20

    def build(count: int) -> MessageRequest:
        values = [(heavy if i < count else light)[kind] for i, kind in enumerate(slots)]
        names = iter(values[1:62])

        def boxes(prefix: str, number: int) -> list[str]:
            return [f"{next(names)} <{prefix}{i:03d}@example.com>" for i in range(number)]

        header_names = [f"X-{i:02d}-" + "h" * 71 for i in range(20)]
        return request(
            subject=values[0],
            from_addr=boxes("fr", 1)[0],
            to=boxes("to", 20),
            cc=boxes("cc", 20),
            bcc=boxes("bc", 10),
            reply_to=boxes("rt", 10),
            headers=dict(zip(header_names, values[62:], strict=True)),
            tags=[f"tag-{i}-" + "t" * 58 for i in range(10)],
        )

    low, high = 0, len(slots)  # the largest count of heavy slots still accepted
    while low < high:
        middle = (low + high + 1) // 2
        if accepted(partial(validate, build(middle))):
            low = middle
        else:
            high = middle - 1
    return build(low)


def header_chars(req: MessageRequest) -> int:
    values = [req.subject, req.from_addr or "", *req.to, *req.cc, *req.bcc, *req.reply_to]
    values += [*req.headers, *req.headers.values(), *req.tags]
    return sum(len(v) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs per measurement")
    repeat = parser.parse_args().repeat
    few = max(3, repeat // 4)

    ordinary = request(headers={"X-Campaign": "spring"}, cc=["Bob <bob@example.org>"])
    biggest = maximal_request(repeat)
    assert accepted(lambda: validate(biggest)), "the maximal request must be valid"
    size = header_chars(biggest)
    plain = "x" * size
    scan = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
    attack = "=?utf-8?q?" + "?=" * 8000
    names = fill("Grüße aus Köln ", 100 - len(ADDRESS)) + ADDRESS
    named = request(to=[names.replace("xxxxx@", f"to{i:03d}@") for i in range(50)])
    text = fill("Grüße aus Köln ", CAP)
    boxes = [
        fill("Grüße aus Köln ", CAP - len(ADDRESS)) + f" <to{i:03d}@example.com>" for i in range(50)
    ]
    german = request(subject=text, to=boxes, headers={f"X-H{i}": text for i in range(20)})
    drafts = {
        "maximal": build_draft(biggest, SETTINGS),
        "named": build_draft(named, SETTINGS),
        "german": build_draft(german, SETTINGS),
    }
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def over(**fields: Any) -> Callable[[], None]:
        return lambda: validate(request(**fields))

    def batch() -> None:
        for _ in range(100):
            validate(biggest)

    def render(which: str) -> Callable[[], object]:
        return lambda: compose(drafts[which], now=now, message_id="<b.1@example.com>")

    rows: list[tuple[str, Callable[[], object], int, float | None]] = [
        ("baseline: ordinary request", lambda: validate(ordinary), repeat, None),
        (f"baseline: one regex pass, {size:,} chars", lambda: scan.search(plain), repeat, None),
        (f"maximal valid request ({size:,} chars)", lambda: validate(biggest), repeat, TARGET_MAX),
        ("100-item batch of those", batch, few, TARGET_BATCH),
        ("over cap: 16 KB header value", over(headers={"X-A": attack}), repeat, 1.0),
        ("over cap: 6 KB to", over(to="a@example.com" + attack[:6000]), repeat, 1.0),
        ("over cap: 6 KB cc", over(cc=["a@example.com" + attack[:6000]]), repeat, 1.0),
        ("over cap: 6 KB reply_to", over(reply_to=attack[:6000]), repeat, 1.0),
    ]
    for label in ("head, then ends", "two heads, then ends"):
        subject = fill(PATTERNS[label], CAP)
        rows.append((f"998-char subject: {label}", over(subject=subject), repeat, 1.0))
    rows.append(("render (info): maximal request", render("maximal"), few, None))
    rows.append(("render (info): 50 to, 100-char non-ASCII names", render("named"), few, None))
    rows.append(("render (info): every field at its cap, non-ASCII", render("german"), 1, None))

    print(f"best of {repeat} runs ({few} for the batch and renders), CPU ms of this thread")
    print(f"{'measure':<48} {'ms':>10} {'target':>7}  result")
    for label, call, runs, target in rows:
        value = cpu_ms(call, runs)
        verdict = "" if target is None else ("PASS" if value <= target else "MISS")
        shown = "" if target is None else f"{target:g}"
        print(f"{label:<48} {value:>10.3f} {shown:>7}  {verdict}")


if __name__ == "__main__":
    main()
