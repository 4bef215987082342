"""``domains check`` logic against a DNS server on loopback serving test records."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("dns", reason="domain checks need the [http] extra")

from authmail_relay.dkim_keys import DkimKey, generate
from authmail_relay.dns_txt import lookup_txt, make_resolver
from authmail_relay.domain_check import check
from authmail_relay.exceptions import ValidationError
from tests.support.dkim_records import parse_zone_line
from tests.support.dns_server import SERVFAIL, SILENT, dns_server

DOMAIN = "acme.example"


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    return generate(DOMAIN, "s1", "rsa")


@pytest.fixture(scope="module")
def ed_key() -> DkimKey:
    return generate(DOMAIN, "s2", "ed25519")


def _published(key: DkimKey) -> dict[str, list[str | tuple[str, ...]]]:
    """The record exactly as the printed zone line would publish it (split strings)."""
    name, _ = parse_zone_line(key.zone_line())
    strings = tuple(part for part in key.zone_line().split('"')[1::2])
    return {name: [strings]}


GOOD = {
    DOMAIN: ["v=spf1 include:_spf.provider.example -all", "google-site-verification=x"],
    f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject; rua=mailto:dmarc@acme.example"],
}


async def test_everything_in_order(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    async with dns_server({**GOOD, **_published(rsa_key), **_published(ed_key)}) as server:
        report = await check(DOMAIN, [rsa_key, ed_key], make_resolver(server.address, 2))
    assert [(f.selector, f.status) for f in report.dkim] == [("s1", "match"), ("s2", "match")]
    assert report.spf.status == "present"
    assert report.spf.all == "-all"
    assert report.dmarc.policy == "reject"
    assert report.dmarc.rua == ["mailto:dmarc@acme.example"]
    assert report.advice == []
    assert report.ok


async def test_a_long_record_arrives_in_several_strings(rsa_key: DkimKey) -> None:
    records = _published(rsa_key)
    [strings] = next(iter(records.values()))
    assert len(strings) == 2  # a 2048-bit key does not fit in one string
    async with dns_server(records) as server:
        lookup = await lookup_txt(make_resolver(server.address, 2), rsa_key.record_name)
    assert lookup.records == (rsa_key.record_value,)


async def test_mismatched_key(rsa_key: DkimKey) -> None:
    other = generate(DOMAIN, "s1", "rsa")
    async with dns_server({**GOOD, **_published(other)}) as server:
        report = await check(DOMAIN, [rsa_key], make_resolver(server.address, 2))
    [finding] = report.dkim
    assert finding.status == "mismatch"
    assert finding.published == other.record_value
    assert any(rsa_key.zone_line() in advice for advice in report.advice)
    assert not report.ok


async def test_missing_record_says_what_to_publish(rsa_key: DkimKey) -> None:
    async with dns_server(GOOD) as server:
        report = await check(DOMAIN, [rsa_key], make_resolver(server.address, 2))
    [finding] = report.dkim
    assert finding.status == "missing"
    assert finding.advice == [f"publish this record: {rsa_key.zone_line()}"]


async def test_revoked_and_wrong_algorithm(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    records = {
        **GOOD,
        f"s1._domainkey.{DOMAIN}": ["v=DKIM1; k=rsa; p="],
        f"s2._domainkey.{DOMAIN}": [f"v=DKIM1; k=rsa; p={ed_key.public}"],
    }
    async with dns_server(records) as server:
        report = await check(DOMAIN, [rsa_key, ed_key], make_resolver(server.address, 2))
    assert [f.status for f in report.dkim] == ["revoked", "mismatch"]


async def test_no_local_key_is_advice() -> None:
    async with dns_server(GOOD) as server:
        report = await check(DOMAIN, [], make_resolver(server.address, 2))
    assert report.dkim == []
    assert report.advice == [
        f"no local DKIM key: run authmail-relay dkim generate --domain {DOMAIN}"
    ]
    assert not report.ok


async def test_spf_and_dmarc_absent() -> None:
    async with dns_server({DOMAIN: ["something-else"]}) as server:
        report = await check(DOMAIN, [], make_resolver(server.address, 2))
    assert report.spf.status == "missing"
    assert report.dmarc.status == "missing"
    assert any(
        f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none' in advice for advice in report.dmarc.advice
    )


@pytest.mark.parametrize(
    ("spf", "status", "advice"),
    [
        (["v=spf1 +all"], "present", "+all lets anyone send"),
        (["v=spf1 ?all"], "present", "?all is neutral"),
        (["v=spf1 mx"], "present", "end the record with -all"),
        (["v=spf1 -all", "v=spf1 ~all"], "invalid", "merge them into one"),
        ([f"v=spf1 {'include:x.example ' * 11}-all"], "present", "more than 10"),
    ],
)
async def test_odd_spf(spf: list[str], status: str, advice: str) -> None:
    async with dns_server({DOMAIN: spf}) as server:
        report = await check(DOMAIN, [], make_resolver(server.address, 2))
    assert report.spf.status == status
    assert any(advice in text for text in report.spf.advice), report.spf.advice


@pytest.mark.parametrize(
    ("record", "status", "policy", "advice"),
    [
        ("v=DMARC1; p=none; rua=mailto:r@acme.example", "present", "none", "monitors only"),
        ("v=DMARC1; p=quarantine; sp=none; pct=50", "present", "quarantine", "pct=50"),
        ("v=DMARC1; p=quarantine", "present", "quarantine", "add rua="),
        ("v=DMARC1; rua=mailto:r@acme.example", "invalid", None, "p= must be"),
        ("v=DMARC1; p=bogus", "invalid", "bogus", "p= must be"),
    ],
)
async def test_dmarc_policies(record: str, status: str, policy: str | None, advice: str) -> None:
    async with dns_server({f"_dmarc.{DOMAIN}": [record]}) as server:
        report = await check(DOMAIN, [], make_resolver(server.address, 2))
    assert report.dmarc.status == status
    assert report.dmarc.policy == policy
    assert any(advice in text for text in report.dmarc.advice), report.dmarc.advice


async def test_dmarc_parsing() -> None:
    record = (
        "v=DMARC1;p=reject; sp=quarantine; adkim=s; aspf=r; "
        "rua=mailto:a@x.example,mailto:b@y.example"
    )
    async with dns_server({f"_dmarc.{DOMAIN}": [record]}) as server:
        report = await check(DOMAIN, [], make_resolver(server.address, 2))
    dmarc = report.dmarc
    assert (dmarc.policy, dmarc.subdomain_policy, dmarc.adkim, dmarc.aspf) == (
        "reject",
        "quarantine",
        "s",
        "r",
    )
    assert dmarc.rua == ["mailto:a@x.example", "mailto:b@y.example"]


async def test_a_silent_server_is_a_lookup_failure_within_the_timeout(rsa_key: DkimKey) -> None:
    silent = {DOMAIN: [SILENT], f"_dmarc.{DOMAIN}": [SILENT], rsa_key.record_name[:-1]: [SILENT]}
    async with dns_server(silent) as server:
        started = time.monotonic()
        report = await check(DOMAIN, [rsa_key], make_resolver(server.address, 0.3))
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert report.spf.status == report.dmarc.status == report.dkim[0].status
    assert report.spf.status == "lookup_failed"
    assert any("could not look up" in text for text in report.advice)


async def test_servfail_is_a_lookup_failure() -> None:
    async with dns_server({DOMAIN: [SERVFAIL], f"_dmarc.{DOMAIN}": [SERVFAIL]}) as server:
        report = await check(DOMAIN, [], make_resolver(server.address, 1))
    assert report.spf.status == "lookup_failed"
    assert "could not look up" in report.spf.advice[0]


async def test_a_bad_domain_is_refused() -> None:
    with pytest.raises(ValidationError):
        await check("not a domain", [], make_resolver("127.0.0.1:9", 0.1))
