"""``authmail-relay dkim …`` and ``domains check`` as subprocesses.

The keys a command writes, the record it prints (read back as a receiver would) and the
domain check against a DNS server on loopback — never the real DNS.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

pytest.importorskip("dkim", reason="DKIM needs the [http] extra")

from authmail_relay.dkim.keys import DkimKey
from authmail_relay.dkim.signing import DkimSigner
from authmail_relay.dkim.store import KeyStore
from tests.support.cli import run_cli
from tests.support.dkim_records import parse_zone_line, verify_all, zone_lines_in
from tests.support.dns_server import SILENT, dns_server

pytestmark = pytest.mark.slow
DOMAIN = "acme.example"
MESSAGE = (
    b"From: no-reply@acme.example\r\nTo: ada@example.org\r\nSubject: Hi\r\n"
    b"Date: Sat, 21 Nov 2026 06:00:00 +0000\r\nMessage-ID: <1@acme.example>\r\n\r\nHello\r\n"
)


async def _run(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str]:
    return await run_cli(args, env, cwd, drop=("DKIM_", "DNS_"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_generate_writes_private_files_and_prints_the_record(tmp_path: Path) -> None:
    code, out, err = await _run(
        ["dkim", "generate", "--domain", DOMAIN, "--selector", "s1"], tmp_path
    )
    assert code == 0, err
    keys_dir = tmp_path / "dkim-keys"  # the default DKIM_KEYS_DIR, relative to the cwd
    key_file = keys_dir / DOMAIN / "s1.rsa.key"
    assert _mode(keys_dir) == _mode(keys_dir / DOMAIN) == 0o700
    assert _mode(key_file) == 0o600
    private = key_file.read_bytes()
    assert private.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert b"PRIVATE" not in out.encode()
    assert private.split(b"\n")[1].decode() not in out

    [line] = zone_lines_in(out)
    name, value = parse_zone_line(line)
    assert name == f"s1._domainkey.{DOMAIN}"
    assert value.startswith("v=DKIM1; k=rsa; p=")
    assert line.count('"') == 4  # two strings: a 2048-bit key needs more than 255 bytes
    # A message signed with the stored key verifies against the printed record only.
    signed = DkimSigner(KeyStore(keys_dir).keys()).sign(MESSAGE)
    assert verify_all(signed, [line]) == [True]


async def test_both_algorithms_and_overwrite_protection(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    env = {"DKIM_KEYS_DIR": str(keys_dir)}
    args = ["dkim", "generate", "--domain", DOMAIN, "--selector", "s2", "--algorithm", "both"]
    code, out, err = await _run(args, tmp_path, **env)
    assert code == 0, err
    lines = zone_lines_in(out)
    assert [parse_zone_line(line)[0] for line in lines] == [
        f"s2-rsa._domainkey.{DOMAIN}",
        f"s2-ed25519._domainkey.{DOMAIN}",
    ]
    signed = DkimSigner(KeyStore(keys_dir).keys()).sign(MESSAGE)
    assert verify_all(signed, lines) == [True, True]

    before = (keys_dir / DOMAIN / "s2-rsa.rsa.key").read_bytes()
    code, out, err = await _run(
        ["dkim", "generate", "--domain", DOMAIN, "--selector", "s2-rsa", "--algorithm", "ed25519"],
        tmp_path,
        **env,
    )
    assert code == 1
    assert "already exists" in err
    assert "--force" in err
    assert not (keys_dir / DOMAIN / "s2-rsa.ed25519.key").exists()

    code, out, err = await _run(args, tmp_path, **env)
    assert code == 1
    assert (keys_dir / DOMAIN / "s2-rsa.rsa.key").read_bytes() == before

    code, out, err = await _run([*args, "--force"], tmp_path, **env)
    assert code == 0, err
    assert (keys_dir / DOMAIN / "s2-rsa.rsa.key").read_bytes() != before
    assert _mode(keys_dir / DOMAIN / "s2-rsa.rsa.key") == 0o600
    assert sorted(p.name for p in (keys_dir / DOMAIN).iterdir()) == [
        "s2-ed25519.ed25519.key",
        "s2-rsa.rsa.key",
    ]


async def test_bad_names_are_usage_errors(tmp_path: Path) -> None:
    for args in (
        ["--domain", "../etc"],
        ["--domain", "acme.example", "--selector", "a/b"],
        ["--domain", "acme.example", "--selector", "x" * 70],
    ):
        code, _, err = await _run(["dkim", "generate", *args], tmp_path)
        assert code == 2, err
    assert not (tmp_path / "dkim-keys").exists()


async def test_list(tmp_path: Path) -> None:
    code, out, err = await _run(["dkim", "list"], tmp_path)
    assert code == 0, err
    assert "no DKIM keys" in out
    for selector, algorithm in (("s1", "rsa"), ("s2", "ed25519")):
        code, _, err = await _run(
            [
                "dkim",
                "generate",
                "--domain",
                DOMAIN,
                "--selector",
                selector,
                "--algorithm",
                algorithm,
            ],
            tmp_path,
        )
        assert code == 0, err
    os.chmod(tmp_path / "dkim-keys" / DOMAIN / "s2.ed25519.key", 0o644)
    code, out, err = await _run(["dkim", "list", "--records"], tmp_path)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:] if line.startswith(DOMAIN)]
    assert [row[:3] for row in rows] == [[DOMAIN, "s1", "rsa"], [DOMAIN, "s2", "ed25519"]]
    assert "chmod 600" in out
    assert len(zone_lines_in(out)) == 2
    assert "PRIVATE" not in out


async def test_domains_check_against_loopback_dns(tmp_path: Path) -> None:
    code, out, err = await _run(
        ["dkim", "generate", "--domain", DOMAIN, "--selector", "s1"], tmp_path
    )
    assert code == 0, err
    [line] = zone_lines_in(out)
    name, value = parse_zone_line(line)
    records: dict[str, list[str | tuple[str, ...]]] = {
        name: [value],
        DOMAIN: ["v=spf1 include:_spf.provider.example -all"],
        f"_dmarc.{DOMAIN}": ["v=DMARC1; p=none; rua=mailto:dmarc@acme.example"],
    }
    async with dns_server(records) as server:
        env = {"DNS_RESOLVER": server.address, "DNS_TIMEOUT_SECONDS": "2"}
        code, out, err = await _run(["domains", "check", DOMAIN], tmp_path, **env)
        assert code == 1, err  # p=none still needs work
        assert "DKIM:   s1 (rsa): match" in out
        assert "SPF:    present" in out
        assert "DMARC p=none monitors only; move to quarantine when reports are clean" in out

        server.records[f"_dmarc.{DOMAIN}"] = ["v=DMARC1; p=reject; rua=mailto:dmarc@acme.example"]
        code, out, err = await _run(["domains", "check", DOMAIN, "--json"], tmp_path, **env)
        assert code == 0, err
        report = json.loads(out)
        assert report["ok"] is True
        assert report["dkim"][0]["status"] == "match"
        assert report["dmarc"]["policy"] == "reject"

        del server.records[name]
        code, out, err = await _run(["domains", "check", DOMAIN], tmp_path, **env)
        assert code == 1
        assert "s1 (rsa): missing" in out
        assert f"publish this record: {line}" in out


async def test_domains_check_timeout_is_reported_not_raised(tmp_path: Path) -> None:
    async with dns_server({DOMAIN: [SILENT], f"_dmarc.{DOMAIN}": [SILENT]}) as server:
        env = {"DNS_RESOLVER": server.address, "DNS_TIMEOUT_SECONDS": "0.3"}
        code, out, err = await _run(["domains", "check", DOMAIN], tmp_path, **env)
    assert code == 1
    assert "Traceback" not in err
    assert "SPF: could not look up acme.example: timed out" in out


async def test_a_bad_resolver_setting_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = await _run(["domains", "check", DOMAIN], tmp_path, DNS_RESOLVER="dns.example")
    assert code == 2
    assert "DNS_RESOLVER" in err


def test_key_repr_hides_the_private_key() -> None:
    key = DkimKey("acme.example", "s", "ed25519", b"secret-bytes", "pub")
    assert "secret-bytes" not in repr(key)


async def test_domains_check_shows_a_parent_dmarc_record(tmp_path: Path) -> None:
    records = {f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject; sp=none"]}
    async with dns_server(records) as server:
        env = {"DNS_RESOLVER": server.address, "DNS_TIMEOUT_SECONDS": "2"}
        code, out, err = await _run(["domains", "check", f"mail.{DOMAIN}"], tmp_path, **env)
    assert code == 1, err  # the inherited sp=none does not enforce
    assert f"DMARC:  present at _dmarc.{DOMAIN} (p=reject, sp=none)" in out
    assert f"receivers apply the record at _dmarc.{DOMAIN}, its sp=none" in out
