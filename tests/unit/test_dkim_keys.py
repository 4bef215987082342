"""DKIM keys and records: names, generation, the TXT record and its 255-byte strings."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="DKIM needs the [http] extra")

from authmail_relay.dkim.keys import (
    check_domain,
    check_selector,
    generate,
    key_from_private,
    split_txt,
    zone_line,
)
from authmail_relay.dkim.nameservers import parse_nameservers
from authmail_relay.dkim.store import KeyStore
from authmail_relay.exceptions import ConfigurationError, ConflictError, ValidationError
from tests.support.dkim_records import parse_zone_line


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("Example.COM.", "example.com"), ("xn--bcher-kva.example", "xn--bcher-kva.example")],
)
def test_domains_are_canonical(raw: str, canonical: str) -> None:
    assert check_domain(raw) == canonical


@pytest.mark.parametrize(
    "bad", ["", "localhost", "../etc", "a..b", "-a.example", "bücher.example", "1.2.3.4", "a/b.c"]
)
def test_bad_domains(bad: str) -> None:
    with pytest.raises(ValidationError):
        check_domain(bad)


@pytest.mark.parametrize("bad", ["", "a/b", "..", "a_b", "x" * 64, "-s"])
def test_bad_selectors(bad: str) -> None:
    with pytest.raises(ValidationError):
        check_selector(bad)


def test_selectors_may_have_dots() -> None:
    assert check_selector("2026.Mail") == "2026.mail"


def test_rsa_record() -> None:
    key = generate("example.com", "s1", "rsa")
    assert key.record_name == "s1._domainkey.example.com."
    assert key.record_value.startswith("v=DKIM1; k=rsa; p=MIIB")
    assert len(base64.b64decode(key.public)) == 294  # SubjectPublicKeyInfo of RSA-2048
    name, value = parse_zone_line(key.zone_line())
    assert (name, value) == ("s1._domainkey.example.com", key.record_value)
    assert key_from_private("example.com", "s1", "rsa", key.private) == key


def test_ed25519_record() -> None:
    key = generate("example.com", "s2", "ed25519")
    assert key.record_value.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(key.public)) == 32
    assert key.zone_line().count('"') == 2
    assert key_from_private("example.com", "s2", "ed25519", key.private + b"\n") == key


@pytest.mark.parametrize("length", [0, 1, 255, 256, 510, 511, 1000])
def test_split_txt_keeps_every_string_within_255_bytes(length: int) -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    parts = split_txt(value)
    assert "".join(parts) == value
    assert all(len(part) <= 255 for part in parts)
    assert len(parts) == max(1, -(-length // 255))


def test_zone_line_escapes_quotes() -> None:
    line = zone_line("x.example.", 'a "b" \\c')
    assert line == 'x.example. IN TXT "a \\"b\\" \\\\c"'
    assert parse_zone_line(line) == ("x.example", 'a "b" \\c')


@pytest.mark.parametrize(
    ("algorithm", "data"),
    [("rsa", b"junk"), ("ed25519", b"!!"), ("ed25519", base64.b64encode(b"short"))],
)
def test_unusable_private_bytes(algorithm: str, data: bytes) -> None:
    with pytest.raises(ConfigurationError) as caught:
        key_from_private("example.com", "s", algorithm, data)  # type: ignore[arg-type]
    assert "junk" not in str(caught.value)


def test_store_permissions_and_refusal(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = KeyStore(tmp_path / "keys")
        key = generate("example.com", "s", "ed25519")
        [path] = store.save([key])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    with pytest.raises(ConflictError, match="--force"):
        store.save([generate("example.com", "s", "rsa")])
    assert store.keys() == [key]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    newer = generate("example.com", "s", "ed25519")
    store.save([newer], force=True)
    assert store.keys("example.com") == [newer]


def test_store_ignores_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("notes")
    (tmp_path / "not a domain").mkdir()
    (tmp_path / "example.com").mkdir()
    (tmp_path / "example.com" / "notes.txt").write_text("x")
    assert KeyStore(tmp_path).keys() == []
    assert KeyStore(tmp_path / "missing").keys() == []


@pytest.mark.parametrize(
    ("spec", "servers"),
    [
        ("", []),
        ("127.0.0.1:5353", [("127.0.0.1", 5353)]),
        ("1.1.1.1, [::1]:53, ::1", [("1.1.1.1", 53), ("::1", 53), ("::1", 53)]),
    ],
)
def test_nameservers(spec: str, servers: list[tuple[str, int]]) -> None:
    assert parse_nameservers(spec) == servers


@pytest.mark.parametrize(
    "bad", ["dns.example", "1.1.1.1:0", "1.1.1.1:x", "[::1]x", "1.1.1.1:70000"]
)
def test_bad_nameservers(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="DNS_RESOLVER"):
        parse_nameservers(bad)
