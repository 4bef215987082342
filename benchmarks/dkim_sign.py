"""DKIM signatures per second: dkimpy's own RSA, the cryptography-backed RSA, ed25519.

    .venv/bin/python benchmarks/dkim_sign.py [--seconds 2]

Signs the same ~4 KB message (headers as the relay writes them) in a loop for each
variant and prints signatures per second and the speed-up over dkimpy's stock RSA,
which is measured in the same run, on the same machine, first.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from authmail_relay.dkim import fast_rsa as dkim_fast_rsa
from authmail_relay.dkim.keys import generate
from authmail_relay.dkim.signing import DkimSigner

DOMAIN = "bench.example"


def message() -> bytes:
    headers = (
        b"From: Bench <no-reply@bench.example>\r\n"
        b"To: ada@example.org\r\n"
        b"Subject: Your sign-in code\r\n"
        b"Date: Sat, 21 Nov 2026 06:00:00 +0000\r\n"
        b"Message-ID: <bench.1@bench.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Auto-Submitted: auto-generated\r\n\r\n"
    )
    line = b"Your sign-in code is 123456. It expires in ten minutes, use it soon.\r\n"
    return headers + line * (4096 // len(line))


def rate(sign: Callable[[bytes], bytes], raw: bytes, seconds: float) -> float:
    """Signatures per second over at least ``seconds`` (after a short warm-up)."""
    for _ in range(3):
        sign(raw)
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        sign(raw)
        count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per variant")
    seconds = parser.parse_args().seconds
    raw = message()
    rsa = DkimSigner([generate(DOMAIN, "rsa", "rsa")])
    ed = DkimSigner([generate(DOMAIN, "ed", "ed25519")])

    dkim_fast_rsa.uninstall()
    try:
        stock = rate(rsa.sign, raw, seconds)
    finally:
        dkim_fast_rsa.install()
    fast = rate(rsa.sign, raw, seconds)
    ed25519 = rate(ed.sign, raw, seconds)

    print(f"message: {len(raw)} bytes, {seconds:g} s per variant")
    print(f"{'variant':<34} {'sig/s':>9} {'ms/sig':>8} {'vs stock':>9}")
    for name, value in (
        ("rsa-sha256, dkimpy stock (2048)", stock),
        ("rsa-sha256, cryptography (2048)", fast),
        ("ed25519-sha256 (PyNaCl)", ed25519),
    ):
        print(f"{name:<34} {value:>9.0f} {1000 / value:>8.2f} {value / stock:>8.1f}x")


if __name__ == "__main__":
    main()
