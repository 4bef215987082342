"""Judging a domain's published DKIM, SPF and DMARC records: pure functions.

Each ``judge_*`` function takes what DNS returned (a :class:`~.dns_txt.TxtLookup`) and
returns a finding with a ``status`` and human ``advice`` strings; nothing here does I/O.
Statuses:

* DKIM, per selector: ``match``, ``mismatch`` (another key is published), ``revoked``
  (empty ``p=``), ``missing``, ``invalid`` (not one DKIM record), ``lookup_failed``.
* SPF and DMARC: ``present``, ``missing``, ``invalid`` (several records, or no policy),
  ``lookup_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dkim_keys import DkimKey, zone_line
from .dns_txt import TxtLookup

_DMARC_POLICIES = ("none", "quarantine", "reject")
_SPF_LOOKUP_TERMS = ("include:", "a", "mx", "ptr", "exists:", "redirect=")


@dataclass(frozen=True)
class DkimFinding:
    selector: str
    algorithm: str
    name: str
    status: str
    published: str | None
    expected: str
    advice: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpfFinding:
    status: str
    record: str | None = None
    all: str | None = None
    mechanisms: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DmarcFinding:
    status: str
    record: str | None = None
    policy: str | None = None
    subdomain_policy: str | None = None
    pct: int | None = None
    rua: list[str] = field(default_factory=list)
    ruf: list[str] = field(default_factory=list)
    adkim: str | None = None
    aspf: str | None = None
    advice: list[str] = field(default_factory=list)


def parse_tags(record: str) -> dict[str, str]:
    """``"v=DKIM1; k=rsa; p=AB CD"`` as ``{"v": "DKIM1", "k": "rsa", "p": "AB CD"}``;
    tag names lower-cased, later duplicates ignored, malformed parts skipped."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if sep and name and name not in tags:
            tags[name] = value.strip()
    return tags


def judge_dkim(key: DkimKey, lookup: TxtLookup) -> DkimFinding:
    """Does the record at ``key.record_name`` publish exactly this key?"""
    publish = f"publish this record: {key.zone_line()}"

    def finding(status: str, published: str | None, *advice: str) -> DkimFinding:
        name = key.record_name
        return DkimFinding(
            key.selector, key.algorithm, name, status, published, key.record_value, list(advice)
        )

    if lookup.status == "failed":
        return finding(
            "lookup_failed", None, f"could not look up {key.record_name}: {lookup.error}"
        )
    records = [r for r in lookup.records if {"v", "p"} & parse_tags(r).keys()]
    if not records and lookup.records:
        return finding("invalid", lookup.records[0], "this is not a DKIM record", publish)
    if not records:
        return finding("missing", None, publish)
    if len(records) > 1:
        return finding("invalid", records[0], "several DKIM records: keep exactly one", publish)
    tags = parse_tags(records[0])
    published_key = "".join(tags.get("p", "").split())
    if tags.get("v", "DKIM1") != "DKIM1":
        return finding("invalid", records[0], "the record must start with v=DKIM1", publish)
    if not published_key:
        return finding("revoked", records[0], "the key is revoked (empty p=)", publish)
    if tags.get("k", "rsa").lower() == key.algorithm and published_key == key.public:
        return finding("match", records[0])
    return finding(
        "mismatch",
        records[0],
        "the published key is not the local key: signatures will fail",
        f"replace it: {key.zone_line()}",
    )


def judge_spf(domain: str, lookup: TxtLookup) -> SpfFinding:
    """The domain's ``v=spf1`` record, its ``all`` and advice."""
    if lookup.status == "failed":
        return SpfFinding("lookup_failed", advice=[f"could not look up {domain}: {lookup.error}"])
    records = [r for r in lookup.records if r.lower().split(" ", 1)[0] == "v=spf1"]
    if not records:
        example = zone_line(f"{domain}.", "v=spf1 include:<your SMTP provider> -all")
        return SpfFinding(
            "missing",
            advice=[f"publish an SPF record naming your SMTP provider, e.g. {example}"],
        )
    if len(records) > 1:
        return SpfFinding(
            "invalid",
            records[0],
            advice=["several v=spf1 records are an error (permerror): merge them into one"],
        )
    record = records[0]
    terms = record.split()[1:]
    final = next((t for t in terms if t.lower().lstrip("+-~?") == "all"), None)
    advice = []
    qualifier = final[0] if final and final[0] in "+-~?" else "+"
    if final is None and not any(t.lower().startswith("redirect=") for t in terms):
        advice.append("end the record with -all (or ~all) so other senders are not allowed")
    elif final is not None and qualifier == "+":
        advice.append("+all lets anyone send as this domain: use -all or ~all")
    elif final is not None and qualifier == "?":
        advice.append("?all is neutral and protects nothing: use ~all or -all")
    lookups = sum(1 for t in terms if t.lower().lstrip("+-~?").startswith(_SPF_LOOKUP_TERMS))
    if lookups > 10:
        advice.append(f"{lookups} terms need DNS lookups; more than 10 is a permerror")
    normalized_all = None if final is None else qualifier + "all"
    return SpfFinding("present", record, normalized_all, terms, advice)


def judge_dmarc(domain: str, lookup: TxtLookup) -> DmarcFinding:
    """The ``_dmarc`` record: policy, subdomain policy, reporting, and what to do next."""
    if lookup.status == "failed":
        return DmarcFinding(
            "lookup_failed", advice=[f"could not look up _dmarc.{domain}: {lookup.error}"]
        )
    records = [r for r in lookup.records if parse_tags(r).get("v", "").upper() == "DMARC1"]
    if not records:
        suggestion = zone_line(f"_dmarc.{domain}.", f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}")
        return DmarcFinding("missing", advice=[f"publish this record: {suggestion}"])
    if len(records) > 1:
        return DmarcFinding("invalid", records[0], advice=["several DMARC records: keep one"])
    record = records[0]
    tags = parse_tags(record)
    policy = tags.get("p", "").lower() or None
    sub = tags.get("sp", "").lower() or None
    rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    ruf = [u.strip() for u in tags.get("ruf", "").split(",") if u.strip()]
    pct_text = tags.get("pct")
    pct = int(pct_text) if pct_text and pct_text.isdigit() else None
    values = {
        "policy": policy,
        "subdomain_policy": sub,
        "pct": pct,
        "rua": rua,
        "ruf": ruf,
        "adkim": tags.get("adkim", "").lower() or None,
        "aspf": tags.get("aspf", "").lower() or None,
    }
    if policy not in _DMARC_POLICIES:
        advice = ["p= must be none, quarantine or reject; receivers ignore this record"]
        return DmarcFinding("invalid", record, advice=advice, **values)  # type: ignore[arg-type]
    advice = []
    if policy == "none":
        advice.append("DMARC p=none monitors only; move to quarantine when reports are clean")
    elif policy == "quarantine":
        advice.append("p=quarantine: move to reject once reports show only your own mail")
    if sub is not None and sub not in _DMARC_POLICIES:
        advice.append(f"sp={sub} is not none, quarantine or reject")
    if not rua:
        advice.append(f"add rua=mailto:dmarc@{domain} to receive aggregate reports")
    if pct is not None and pct < 100:
        advice.append(f"pct={pct}: the policy applies to only {pct}% of failing mail")
    return DmarcFinding("present", record, advice=advice, **values)  # type: ignore[arg-type]
