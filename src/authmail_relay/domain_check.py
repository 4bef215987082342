"""``domains check``: look up a domain's DKIM, SPF and DMARC records and judge them.

The lookups run concurrently (one per local selector, the domain's TXT records, and
``_dmarc``); judging is left to :mod:`.domain_policy`. DNS trouble is reported in the
result (``lookup_failed``), never raised.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import dns.asyncresolver

from .dkim_keys import DkimKey, check_domain
from .dkim_store import KeyStore
from .dns_txt import lookup_txt, make_resolver
from .domain_policy import DkimFinding, DmarcFinding, SpfFinding, judge_dkim, judge_dmarc, judge_spf
from .settings import Settings


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
            and self.dmarc.policy in ("quarantine", "reject")
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
    dmarc = judge_dmarc(domain, lookups[1])
    dkim = [judge_dkim(key, lookup) for key, lookup in zip(own, lookups[2:], strict=True)]
    advice = (
        [] if own else [f"no local DKIM key: run authmail-relay dkim generate --domain {domain}"]
    )
    for finding in dkim:
        advice.extend(f"DKIM {finding.selector}: {text}" for text in finding.advice)
    advice.extend(f"SPF: {text}" for text in spf.advice)
    advice.extend(f"DMARC: {text}" for text in dmarc.advice)
    return DomainReport(domain, dkim, spf, dmarc, advice)


async def check_with_settings(domain: str, settings: Settings) -> DomainReport:
    """:func:`check` with the keys in ``DKIM_KEYS_DIR`` and the configured resolver."""
    domain = check_domain(domain)
    keys = KeyStore(settings.dkim_keys_dir).keys(domain)
    resolver = make_resolver(settings.dns_resolver, settings.dns_timeout_seconds)
    return await check(domain, keys, resolver)
