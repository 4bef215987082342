"""``domains check`` logic against a DNS server on loopback serving test records."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("dns", reason="domain checks need the [http] extra")

from authmail_relay.dkim.dns_txt import lookup_txt, make_resolver
from authmail_relay.dkim.domain_check import MAX_DMARC_QUERIES, check, dmarc_walk_names
from authmail_relay.dkim.keys import DkimKey, generate
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


# DMARC policy discovery: the domain's own record, else the nearest parent's (tree walk).

SUB = f"mail.{DOMAIN}"


def _dmarc_queries(server_queries: list[str]) -> list[str]:
    return [name for name in server_queries if name.startswith("_dmarc.")]


@pytest.mark.parametrize(
    ("record", "effective", "rule"),
    [
        ("v=DMARC1; p=reject; sp=quarantine", "quarantine", "its sp=quarantine"),
        ("v=DMARC1; p=reject", "reject", "its p=reject (it has no sp=)"),
        ("v=DMARC1; p=reject; sp=none", "none", "its sp=none"),
    ],
)
async def test_a_parent_record_applies_through_its_sp(
    record: str, effective: str, rule: str
) -> None:
    async with dns_server({f"_dmarc.{DOMAIN}": [record]}) as server:
        report = await check(SUB, [], make_resolver(server.address, 2))
    dmarc = report.dmarc
    assert dmarc.status == "present"
    assert (dmarc.found_at, dmarc.inherited) == (f"_dmarc.{DOMAIN}", True)
    assert dmarc.policy == "reject"
    assert dmarc.effective_policy == effective
    assert dmarc.checked == [f"_dmarc.{SUB}", f"_dmarc.{DOMAIN}"]
    assert dmarc.advice[0] == (
        f"no record at _dmarc.{SUB}: receivers apply the record at _dmarc.{DOMAIN}, {rule}"
    )
    assert any(f"rua=mailto:dmarc@{DOMAIN} to _dmarc.{DOMAIN}" in a for a in dmarc.advice)
    if effective == "none":
        assert any("sp=none monitors only" in text for text in dmarc.advice)


async def test_an_inherited_sp_decides_ok(rsa_key: DkimKey) -> None:
    sub_key = generate(SUB, "s1", "rsa")
    base = {SUB: ["v=spf1 -all"], **_published(sub_key)}
    for sp, ok in (("none", False), ("reject", True)):
        records = {**base, f"_dmarc.{DOMAIN}": [f"v=DMARC1; p=reject; sp={sp}; rua=mailto:r@x"]}
        async with dns_server(records) as server:
            report = await check(SUB, [sub_key], make_resolver(server.address, 2))
        assert report.ok is ok, report.advice


async def test_the_domains_own_record_wins() -> None:
    records = {
        f"_dmarc.{SUB}": ["v=DMARC1; p=none; rua=mailto:r@acme.example"],
        f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject; sp=reject"],
    }
    async with dns_server(records) as server:
        report = await check(SUB, [], make_resolver(server.address, 2))
    dmarc = report.dmarc
    assert (dmarc.found_at, dmarc.inherited) == (f"_dmarc.{SUB}", False)
    assert (dmarc.policy, dmarc.effective_policy) == ("none", "none")
    assert _dmarc_queries(server.queries) == [f"_dmarc.{SUB}"]  # the parent is not asked
    assert dmarc.advice == ["DMARC p=none monitors only; move to quarantine when reports are clean"]


async def test_other_txt_records_at_the_domain_do_not_stop_the_walk() -> None:
    records = {f"_dmarc.{SUB}": ["not a dmarc record"], f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject"]}
    async with dns_server(records) as server:
        report = await check(SUB, [], make_resolver(server.address, 2))
    assert report.dmarc.found_at == f"_dmarc.{DOMAIN}"


async def test_no_record_anywhere_says_where_to_publish() -> None:
    async with dns_server({SUB: ["v=spf1 -all"]}) as server:
        report = await check(f"x.{SUB}", [], make_resolver(server.address, 2))
    dmarc = report.dmarc
    assert dmarc.status == "missing"
    assert (dmarc.found_at, dmarc.effective_policy) == (None, None)
    assert dmarc.checked == [f"_dmarc.x.{SUB}", f"_dmarc.{SUB}", f"_dmarc.{DOMAIN}"]
    assert dmarc.advice == [
        f"no DMARC record at _dmarc.x.{SUB} or a parent (_dmarc.{SUB}, _dmarc.{DOMAIN})",
        f'publish this record: _dmarc.x.{SUB}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@x.{SUB}"',
    ]
    assert "_dmarc.example" not in server.queries  # a top-level domain is never asked


async def test_a_deep_name_makes_a_bounded_number_of_queries() -> None:
    deep = "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10." + DOMAIN  # 12 labels
    async with dns_server({}) as server:
        report = await check(deep, [], make_resolver(server.address, 2))
    asked = _dmarc_queries(server.queries)
    assert report.dmarc.status == "missing"
    assert asked == report.dmarc.checked
    assert len(asked) == MAX_DMARC_QUERIES == 7
    # The domain itself, then a jump to its last seven labels, then one label at a time.
    assert asked == [f"_dmarc.{deep}"] + [
        "_dmarc." + ".".join(deep.split(".")[-count:]) for count in range(7, 1, -1)
    ]


def test_walk_names() -> None:
    assert dmarc_walk_names("example.com") == ["example.com"]
    assert dmarc_walk_names("a.b.example.com") == [
        "a.b.example.com",
        "b.example.com",
        "example.com",
    ]
    eight = "a.b.c.d.e.f.example.com"
    assert dmarc_walk_names(eight)[1] == "b.c.d.e.f.example.com"  # seven labels


@pytest.mark.parametrize(("failure", "timeout"), [(SERVFAIL, 1.0), (SILENT, 0.3)])
async def test_a_failed_parent_query_is_unknown_not_missing(failure: str, timeout: float) -> None:
    records = {f"_dmarc.{DOMAIN}": [failure], "_dmarc.example": ["v=DMARC1; p=reject"]}
    async with dns_server(records) as server:
        report = await check(f"x.{SUB}", [], make_resolver(server.address, timeout))
    dmarc = report.dmarc
    assert dmarc.status == "lookup_failed"
    assert dmarc.checked == [f"_dmarc.x.{SUB}", f"_dmarc.{SUB}", f"_dmarc.{DOMAIN}"]
    assert dmarc.advice[0].startswith(f"could not look up _dmarc.{DOMAIN}: ")
    assert dmarc.advice[1] == (
        f"no record at _dmarc.x.{SUB}; the policy a parent domain sets is unknown"
    )
    assert not report.ok


async def test_a_public_suffix_record_is_not_yours() -> None:
    records = {f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject; psd=y"]}
    async with dns_server(records) as server:
        report = await check(SUB, [], make_resolver(server.address, 2))
    assert any("psd=y" in text for text in report.dmarc.advice)
