"""API key format, hashing, scopes and sender rules (pure)."""

from __future__ import annotations

import hashlib

import pytest

from authmail_relay.exceptions import ValidationError
from authmail_relay.trust.api_keys import (
    hash_secret,
    new_key,
    normalise_origins,
    normalise_sender_rules,
    parse_key,
    parse_scopes,
    sender_allowed,
    verify_secret,
)
from authmail_relay.vocabulary import Scope


def test_new_keys_have_the_documented_shape_and_parse_back() -> None:
    made = new_key()
    assert made.token.startswith(f"amr_{made.id}_")
    parsed = parse_key(made.token)
    assert parsed is not None
    key_id, secret = parsed
    assert key_id == made.id
    assert len(key_id) == 12
    assert len(secret) == 52  # 256 bits of base32
    assert made.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert verify_secret(secret, made.secret_hash)
    assert not verify_secret(secret[:-1] + ("a" if secret[-1] != "a" else "b"), made.secret_hash)
    assert made.token not in repr(made)
    assert len({new_key().token for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "amr_",
        "amr__",
        "AMR_aaaaaaaaaaaa_" + "a" * 52,
        "amr_aaaaaaaaaaaa_" + "a" * 51,
        "amr_aaaaaaaaaaa_" + "a" * 52,
        "amr_aaaaaaaaaaaa_" + "A" * 52,
        "amr_aaaaaaaaaaaa_" + "a" * 52 + "\n",
        "amr_aaaaaaaaaaa\u0430_" + "a" * 52,
        "amr_\udcff" * 10,
        "x" * 10_000,
    ],
)
def test_anything_else_does_not_parse(text: str) -> None:
    assert parse_key(text) is None


def test_hash_is_plain_sha256() -> None:
    assert hash_secret("abc") == hashlib.sha256(b"abc").hexdigest()


def test_scopes() -> None:
    assert parse_scopes(["send", Scope.READ]) == {Scope.SEND, Scope.READ}
    for bad in ([], ["root"], ["SEND"]):
        with pytest.raises(ValidationError):
            parse_scopes(bad)


def test_sender_rules_are_normalised() -> None:
    rules = normalise_sender_rules(
        [
            " NoReply@Example.COM. ",
            "Example.org.",
            "*.Corp.Example",
            "b\u00fccher.de",
            "example.org",
        ]
    )
    assert rules == ["*.corp.example", "example.org", "noreply@example.com", "xn--bcher-kva.de"]
    for bad in [
        "",
        "Boss <a@example.com>",
        "a@",
        "*.",
        "localhost",
        "a b.example",
        "*.*.x.example",
    ]:
        with pytest.raises(ValidationError):
            normalise_sender_rules([bad])


def test_sender_matching() -> None:
    rules = normalise_sender_rules(["noreply@example.com", "example.org", "*.corp.example"])
    assert sender_allowed("noreply@example.com", rules)
    assert sender_allowed("NOREPLY@example.com", rules)
    assert sender_allowed("x@example.org", rules)
    assert sender_allowed("x@a.b.corp.example", rules)
    assert not sender_allowed("x@example.com", rules)
    assert not sender_allowed("x@a.example.org", rules)
    assert not sender_allowed("x@corp.example", rules)
    assert not sender_allowed("x@evilcorp.example", rules)
    assert not sender_allowed("x@example.org.evil", rules)
    assert not sender_allowed("x@xn--exmple-4nf.org", rules)
    assert not sender_allowed("x@example.org", [])


def test_origins_are_normalised() -> None:
    assert normalise_origins(["HTTPS://App.Example.com/x", "https://app.example.com:443"]) == [
        "https://app.example.com:443"
    ]
    for bad in [
        "http://app.example.com",
        "https://user@app.example.com",
        "https://ex\u0430mple.com",
    ]:
        with pytest.raises(ValidationError):
            normalise_origins([bad])
