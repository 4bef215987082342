"""``domains check``: look up a domain's DKIM, SPF and DMARC records and judge them.

The lookups run concurrently (one per local selector, the domain's TXT records, and
``_dmarc``); judging is left to :mod:`.domain_policy`. DNS trouble is reported in the
result (``lookup_failed``), never raised.

DMARC policy discovery follows the DNS tree walk of DMARCbis rather than the Public
Suffix List of RFC 7489 (no list to ship and keep current): when ``_dmarc.<domain>``
holds no ``v=DMARC1`` record, the parents are asked one at a time, nearest first, and
the first record found is the one receivers apply. A name of eight or more labels jumps
straight to its last seven, and single-label names (top-level domains) are never asked,
so a walk makes at most :data:`MAX_DMARC_QUERIES` queries. A parent query that fails
stops the walk: the applicable policy is then unknown, not missing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import dns.asyncresolver

from ..settings import Settings
from .dns_txt import TxtLookup, lookup_txt, make_resolver
from .domain_policy import (
    DkimFinding,
    DmarcFinding,
    SpfFinding,
    dmarc_records,
    judge_dkim,
    judge_dmarc,
    judge_spf,
)
from .keys import DkimKey, check_domain
from .store import KeyStore

#: The tree walk looks at no more than this many labels of a name (DMARCbis).
DMARC_WALK_LABELS = 7
#: At most this many ``_dmarc`` queries per check: the domain, then its parents from
#: seven labels down to two.
MAX_DMARC_QUERIES = DMARC_WALK_LABELS


@dataclass(frozen=True)
class DomainReport:
    """Everything ``domains check`` found; ``ok`` when every local key is published,
    SPF is present and DMARC enforces (quarantine or reject)."""

    domain: str
    dkim: list[DkimFinding]
    spf: SpfFinding
    dmarc: DmarcFinding
    advice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            bool(self.dkim)
            and all(f.status == "match" for f in self.dkim)
            and self.spf.status == "present"
            and self.dmarc.status == "present"
            and self.dmarc.effective_policy in ("quarantine", "reject")
        )


async def check(
    domain: str, keys: list[DkimKey], resolver: dns.asyncresolver.Resolver
) -> DomainReport:
    """Judge ``domain`` against its local ``keys``; raises ValidationError for a bad name."""
    domain = check_domain(domain)
    own = [key for key in keys if key.domain == domain]
    lookups = await asyncio.gather(
        lookup_txt(resolver, domain),
        lookup_txt(resolver, f"_dmarc.{domain}"),
        *(lookup_txt(resolver, key.record_name) for key in own),
    )
    spf = judge_spf(domain, lookups[0])
    dmarc_lookup, checked = await _walk_dmarc(resolver, domain, lookups[1])
    dmarc = judge_dmarc(domain, dmarc_lookup, checked)
    dkim = [judge_dkim(key, lookup) for key, lookup in zip(own, lookups[2:], strict=True)]
    advice = (
        [] if own else [f"no local DKIM key: run authmail-relay dkim generate --domain {domain}"]
    )
    for finding in dkim:
        advice.extend(f"DKIM {finding.selector}: {text}" for text in finding.advice)
    advice.extend(f"SPF: {text}" for text in spf.advice)
    advice.extend(f"DMARC: {text}" for text in dmarc.advice)
    return DomainReport(domain, dkim, spf, dmarc, advice)


def dmarc_walk_names(domain: str) -> list[str]:
    """The domains whose ``_dmarc`` record may be ``domain``'s policy, nearest first:
    ``domain`` itself, then its parents from at most :data:`DMARC_WALK_LABELS` labels
    down to two."""
    labels = domain.split(".")
    first_parent = min(len(labels) - 1, DMARC_WALK_LABELS)
    return [domain] + [".".join(labels[-count:]) for count in range(first_parent, 1, -1)]


async def _walk_dmarc(
    resolver: dns.asyncresolver.Resolver, domain: str, own: TxtLookup
) -> tuple[TxtLookup, list[str]]:
    """Where the walk for ``domain`` stops, given the answer for its own ``_dmarc``:
    the first name with a ``v=DMARC1`` record, the first failed query, or the last name
    asked; and every name asked, nearest first."""
    lookup = own
    checked = [own.name]
    # One query at a time: the walk stops at the first answer that decides it.
    for parent in dmarc_walk_names(domain)[1:]:
        if lookup.status == "failed" or dmarc_records(lookup):
            break
        lookup = await lookup_txt(resolver, f"_dmarc.{parent}")
        checked.append(lookup.name)
    return lookup, checked


async def check_with_settings(domain: str, settings: Settings) -> DomainReport:
    """:func:`check` with the keys in ``DKIM_KEYS_DIR`` and the configured resolver."""
    domain = check_domain(domain)
    keys = KeyStore(settings.dkim_keys_dir).keys(domain)
    resolver = make_resolver(settings.dns_resolver, settings.dns_timeout_seconds)
    return await check(domain, keys, resolver)
