"""DKIM signing: signatures verify independently, cover what they should, and the
cryptography-backed RSA path is byte-for-byte dkimpy's own."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

dkim = pytest.importorskip("dkim", reason="DKIM needs the [http] extra")

from authmail_relay.dkim import fast_rsa as dkim_fast_rsa
from authmail_relay.dkim.keys import DkimKey, generate
from authmail_relay.dkim.signing import DkimSigner, SigningError
from authmail_relay.mail.composing import compose, make_draft
from tests.support.dkim_records import dnsfunc, verify_all

MESSAGE = (
    b"From: Acme <no-reply@acme.example>\r\n"
    b"To: ada@example.org\r\n"
    b"Subject: Your code\r\n"
    b"Date: Sat, 21 Nov 2026 06:00:00 +0000\r\n"
    b"Message-ID: <abc@acme.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Auto-Submitted: auto-generated\r\n"
    b"X-Mailer: not signed\r\n"
    b"\r\n"
    b"Your code is 123456.\r\n"
)


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    return generate("acme.example", "s1", "rsa")


@pytest.fixture(scope="module")
def ed_key() -> DkimKey:
    return generate("acme.example", "s2", "ed25519")


def _verify_all(signed: bytes, keys: list[DkimKey]) -> list[bool]:
    return verify_all(signed, [key.zone_line() for key in keys])


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_signature_verifies_with_the_printed_record(
    kind: str, rsa_key: DkimKey, ed_key: DkimKey
) -> None:
    key = rsa_key if kind == "rsa" else ed_key
    signed = DkimSigner([key]).sign(MESSAGE)
    assert signed.endswith(MESSAGE)
    assert _verify_all(signed, [key]) == [True]
    assert dkim.verify(signed, dnsfunc=dnsfunc([key.zone_line()]))


def test_dual_signing_adds_both_signatures_rsa_first(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    signed = DkimSigner([ed_key, rsa_key]).sign(MESSAGE)
    first, second = [line for line in signed.split(b"\r\n") if line.startswith(b"DKIM-Signature:")]
    assert b"a=rsa-sha256" in first
    assert b"a=ed25519-sha256" in second
    assert _verify_all(signed, [rsa_key, ed_key]) == [True, True]


def test_tampering_breaks_every_signature(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    signed = DkimSigner([rsa_key, ed_key]).sign(MESSAGE)
    for before, after in [
        (b"123456", b"654321"),  # the body
        (b"Subject: Your code", b"Subject: Your cod3"),  # a signed header
        (b"From: Acme", b"From: Evil"),
    ]:
        assert _verify_all(signed.replace(before, after), [rsa_key, ed_key]) == [False, False]
    # An added From (the frozen header) breaks it as well.
    added = signed.replace(b"To: ada", b"From: evil@evil.example\r\nTo: ada", 1)
    assert _verify_all(added, [rsa_key, ed_key]) == [False, False]
    # Unsigned headers may change: X-Mailer is not covered.
    assert _verify_all(signed.replace(b"not signed", b"changed"), [rsa_key, ed_key]) == [
        True,
        True,
    ]


def test_signed_headers_and_canonicalisation(rsa_key: DkimKey) -> None:
    signed = DkimSigner([rsa_key]).sign(MESSAGE)
    tags = dkim.util.parse_tag_value(
        dkim.DKIM(signed).headers[0][1].replace(b"\r\n", b"").replace(b" ", b"")
    )
    assert tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"d"] == b"acme.example"
    assert tags[b"s"] == b"s1"
    assert tags[b"h"].split(b":") == [
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"mime-version",
        b"content-type",
        b"auto-submitted",
        b"from",
    ]


def test_relaxed_canonicalisation_survives_whitespace_changes(rsa_key: DkimKey) -> None:
    signed = DkimSigner([rsa_key]).sign(MESSAGE)
    refolded = signed.replace(b"Subject: Your code", b"Subject:   Your\r\n  code")
    assert _verify_all(refolded, [rsa_key]) == [True]


def test_a_composed_message_verifies(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    draft = make_draft(
        from_addr="Acme <no-reply@acme.example>",
        to=["ada@example.org"],
        cc="bob@example.org",
        reply_to="help@acme.example",
        subject="Héllo — ünïcode " * 8,
        html="<p>Hi</p>",
        auto_submitted=True,
    )
    raw = compose(draft, now=datetime.now(timezone.utc)).raw
    signed = DkimSigner([rsa_key, ed_key]).sign(raw)
    assert _verify_all(signed, [rsa_key, ed_key]) == [True, True]


def test_other_domains_are_left_alone(rsa_key: DkimKey) -> None:
    other = MESSAGE.replace(b"acme.example>\r\nTo", b"other.example>\r\nTo")
    assert DkimSigner([rsa_key]).sign(other) == other
    assert DkimSigner([]).sign(MESSAGE) == MESSAGE


def test_a_subdomain_is_signed_with_the_parent_domains_key(rsa_key: DkimKey) -> None:
    sub = MESSAGE.replace(b"no-reply@acme.example", b"no-reply@mail.acme.example")
    signed = DkimSigner([rsa_key]).sign(sub)
    assert b"d=acme.example" in signed
    assert _verify_all(signed, [rsa_key]) == [True]


def test_a_broken_key_is_a_signing_error(rsa_key: DkimKey) -> None:
    broken = DkimKey("acme.example", "bad", "rsa", b"not a key", rsa_key.public)
    with pytest.raises(SigningError, match=r"bad of acme\.example"):
        DkimSigner([broken]).sign(MESSAGE)


# -- the cryptography-backed RSA path ---------------------------------------------------


def test_fast_rsa_is_installed_by_the_signer(rsa_key: DkimKey) -> None:
    """If a dkimpy upgrade moves the function, this fails instead of silently slowing."""
    DkimSigner([rsa_key])
    assert dkim_fast_rsa.installed()
    assert dkim.RSASSA_PKCS1_v1_5_sign is dkim_fast_rsa.fast_sign
    assert dkim.crypto.RSASSA_PKCS1_v1_5_sign is dkim_fast_rsa.stock_sign


@pytest.mark.parametrize("hash_name", ["sha256", "sha1"])
def test_fast_rsa_equals_dkimpy_byte_for_byte(rsa_key: DkimKey, hash_name: str) -> None:
    """PKCS#1 v1.5 is deterministic: both paths must produce the very same bytes."""
    numbers = dkim.crypto.parse_pem_private_key(rsa_key.private)
    for data in (b"", b"headers", b"x" * 5000):
        stock_hash = hashlib.new(hash_name, data)
        fast_hash = hashlib.new(hash_name, data)
        assert dkim_fast_rsa.fast_sign(fast_hash, numbers) == dkim_fast_rsa.stock_sign(
            stock_hash, numbers
        )


def test_fast_rsa_is_what_signs_and_it_verifies(
    rsa_key: DkimKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = dkim_fast_rsa.fast_sign

    def counting(hash: object, key: dict[str, int]) -> bytes:
        calls.append("fast")
        return real(hash, key)

    signer = DkimSigner([rsa_key])
    monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_sign", counting)
    signed = signer.sign(MESSAGE)
    assert calls == ["fast"]
    assert _verify_all(signed, [rsa_key]) == [True]


def test_stock_and_fast_signatures_both_verify(rsa_key: DkimKey) -> None:
    dkim_fast_rsa.uninstall()
    try:
        stock = DkimSigner.__new__(DkimSigner)  # skip install() in __init__
        stock._keys = {"acme.example": [rsa_key]}
        stock_signed = stock.sign(MESSAGE)
        assert not dkim_fast_rsa.installed()
    finally:
        dkim_fast_rsa.install()
    assert _verify_all(stock_signed, [rsa_key]) == [True]
    assert _verify_all(DkimSigner([rsa_key]).sign(MESSAGE), [rsa_key]) == [True]
