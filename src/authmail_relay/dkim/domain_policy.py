"""Judging a domain's published DKIM, SPF and DMARC records: pure functions.

Each ``judge_*`` function takes what DNS returned (a :class:`~.dns_txt.TxtLookup`) and
returns a finding with a ``status`` and human ``advice`` strings; nothing here does I/O.
Statuses:

* DKIM, per selector: ``match``, ``mismatch`` (another key is published), ``revoked``
  (empty ``p=``), ``missing``, ``invalid`` (not one DKIM record), ``lookup_failed``.
* SPF and DMARC: ``present``, ``missing``, ``invalid`` (several records, or no policy),
  ``lookup_failed``.

DMARC is judged on the record that applies to the domain, which the caller finds with a
tree walk (:mod:`.domain_check`): the domain's own ``_dmarc`` record, else the nearest
parent's, whose ``sp=`` (or, without one, ``p=``) then governs the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .dns_txt import TxtLookup
from .keys import DkimKey, zone_line

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
    """The DMARC record that applies to a domain, and what it means for it.

    ``found_at`` is the name the record was found at (``_dmarc.<domain>``, or a parent's
    ``_dmarc`` name when ``inherited``); ``policy`` and ``subdomain_policy`` are that
    record's ``p=`` and ``sp=``; ``effective_policy`` is what receivers apply to mail
    from the checked domain: ``p=`` of its own record, ``sp=`` (else ``p=``) of a
    parent's. ``checked`` lists the names queried, nearest first.
    """

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
    found_at: str | None = None
    inherited: bool = False
    effective_policy: str | None = None
    checked: list[str] = field(default_factory=list)


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


def dmarc_records(lookup: TxtLookup) -> list[str]:
    """The ``v=DMARC1`` records among what a ``_dmarc`` query found (others are ignored,
    as receivers ignore them)."""
    return [r for r in lookup.records if parse_tags(r).get("v", "").upper() == "DMARC1"]


def judge_dmarc(domain: str, lookup: TxtLookup, checked: Sequence[str] = ()) -> DmarcFinding:
    """The DMARC finding for ``domain`` from ``lookup``, the last query of its tree walk.

    ``lookup`` is where the walk stopped: the name holding the nearest ``v=DMARC1``
    record, a query that failed (the applicable policy is then unknown:
    ``lookup_failed``), or the last name asked when there was no record anywhere
    (``missing``). ``checked`` lists every name the walk queried, nearest first.
    """
    own = f"_dmarc.{domain}"
    names = list(checked) or [lookup.name]
    if lookup.status == "failed":
        advice = [f"could not look up {lookup.name}: {lookup.error}"]
        if lookup.name != own:
            advice.append(f"no record at {own}; the policy a parent domain sets is unknown")
        return DmarcFinding("lookup_failed", advice=advice, checked=names)
    records = dmarc_records(lookup)
    if not records:
        suggestion = zone_line(f"{own}.", f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}")
        advice = [f"publish this record: {suggestion}"]
        if len(names) > 1:
            advice.insert(0, f"no DMARC record at {own} or a parent ({', '.join(names[1:])})")
        return DmarcFinding("missing", advice=advice, checked=names)
    inherited = lookup.name != own
    if len(records) > 1:
        return DmarcFinding(
            "invalid",
            records[0],
            advice=[f"several DMARC records at {lookup.name}: keep one"],
            found_at=lookup.name,
            inherited=inherited,
            checked=names,
        )
    return _judge_record(domain, records[0], lookup.name, inherited, names)


def _judge_record(
    domain: str, record: str, name: str, inherited: bool, checked: list[str]
) -> DmarcFinding:
    """One ``v=DMARC1`` record found at ``name`` (a parent's when ``inherited``)."""
    tags = parse_tags(record)
    policy = tags.get("p", "").lower() or None
    sub = tags.get("sp", "").lower() or None
    pct_text = tags.get("pct")
    pct = int(pct_text) if pct_text and pct_text.isdigit() else None
    rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    # A parent's record governs its subdomains through sp=, falling back to p=.
    label, effective = ("sp", sub) if inherited and sub is not None else ("p", policy)

    def finding(status: str, advice: list[str]) -> DmarcFinding:
        return DmarcFinding(
            status,
            record,
            policy=policy,
            subdomain_policy=sub,
            pct=pct,
            rua=rua,
            ruf=[u.strip() for u in tags.get("ruf", "").split(",") if u.strip()],
            adkim=tags.get("adkim", "").lower() or None,
            aspf=tags.get("aspf", "").lower() or None,
            advice=advice,
            found_at=name,
            inherited=inherited,
            effective_policy=effective if status == "present" else None,
            checked=checked,
        )

    if policy not in _DMARC_POLICIES:
        return finding(
            "invalid", ["p= must be none, quarantine or reject; receivers ignore this record"]
        )
    if inherited and effective not in _DMARC_POLICIES:
        return finding("invalid", [f"sp={sub} is not none, quarantine or reject"])
    owner = name.removeprefix("_dmarc.")
    advice = []
    if inherited:
        rule = f"its sp={sub}" if sub is not None else f"its p={policy} (it has no sp=)"
        advice.append(f"no record at _dmarc.{domain}: receivers apply the record at {name}, {rule}")
        if tags.get("psd", "").lower() == "y":
            advice.append(f"{owner} says it is a public suffix (psd=y): publish your own record")
    if effective == "none":
        advice.append(
            f"DMARC {label}=none monitors only; move to quarantine when reports are clean"
        )
    elif effective == "quarantine":
        advice.append(f"{label}=quarantine: move to reject once reports show only your own mail")
    if not inherited and sub is not None and sub not in _DMARC_POLICIES:
        advice.append(f"sp={sub} is not none, quarantine or reject")
    if not rua:
        advice.append(f"add rua=mailto:dmarc@{owner} to {name} to receive aggregate reports")
    if pct is not None and pct < 100:
        advice.append(f"pct={pct}: the policy applies to only {pct}% of failing mail")
    return finding("present", advice)
