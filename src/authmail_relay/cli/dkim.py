"""``authmail-relay dkim …`` and ``authmail-relay domains check``.

Private keys are written to files (owner-only) and never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import datetime, timezone

from ..dkim.domain_check import DomainReport, check_with_settings
from ..dkim.keys import Algorithm, check_domain, check_selector, generate
from ..dkim.store import KeyStore
from ..settings import Settings


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``dkim`` or ``domains`` action; returns the exit code."""
    if args.command == "domains":
        report = await check_with_settings(args.domain, settings)
        print(_report_json(report) if args.json else render_report(report))
        return 0 if report.ok else 1
    if args.dkim_command == "generate":
        return _generate(args, settings)
    return _list(args, settings)


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    domain = check_domain(args.domain, field="--domain")
    base = check_selector(
        args.selector or f"am{datetime.now(timezone.utc):%Y%m}", field="--selector"
    )
    wanted: list[tuple[str, Algorithm]] = (
        [(f"{base}-rsa", "rsa"), (f"{base}-ed25519", "ed25519")]
        if args.algorithm == "both"
        else [(base, args.algorithm)]
    )
    for selector, _ in wanted:
        check_selector(selector, field="--selector")
    store = KeyStore(settings.dkim_keys_dir)
    # Check before generating: an RSA key takes a moment, and nothing is written anyway.
    if not args.force:
        store.check_free(domain, [selector for selector, _ in wanted])
    keys = [generate(domain, selector, algorithm) for selector, algorithm in wanted]
    paths = store.save(keys, force=args.force)
    for key, path in zip(keys, paths, strict=True):
        print(f"created {key.algorithm} key {key.selector} for {key.domain}: {path} (mode 0600)")
    print()
    print("Publish these DNS TXT records:" if len(keys) > 1 else "Publish this DNS TXT record:")
    for key in keys:
        print()
        print(f"  name:  {key.record_name}")
        print(f"  value: {key.record_value}")
        print("  zone-file line:")
        print(key.zone_line())
    print()
    print(
        f"Then check with `authmail-relay domains check {domain}` and restart the worker; "
        f"mail from {domain} is signed from then on."
    )
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    entries = KeyStore(settings.dkim_keys_dir).entries()
    if not entries:
        print(f"no DKIM keys in {settings.dkim_keys_dir}")
        return 0
    print(f"{'DOMAIN':<30} {'SELECTOR':<24} {'ALGORITHM':<9}  FILE")
    for entry in entries:
        key = entry.key
        warning = f"  (mode {entry.mode:04o}: run chmod 600)" if entry.loose else ""
        print(f"{key.domain:<30} {key.selector:<24} {key.algorithm:<9}  {entry.path}{warning}")
        if args.records:
            print(f"  {key.zone_line()}")
    return 0


def render_report(report: DomainReport) -> str:
    """The human-readable report of ``domains check``."""
    lines = [f"domain: {report.domain}", ""]
    if not report.dkim:
        lines.append("DKIM:   no local key")
    for finding in report.dkim:
        lines.append(f"DKIM:   {finding.selector} ({finding.algorithm}): {finding.status}")
    spf = report.spf
    lines.append(f"SPF:    {spf.status}" + (f": {spf.record}" if spf.record else ""))
    dmarc = report.dmarc
    policy = ""
    if dmarc.policy:
        sub = f", sp={dmarc.subdomain_policy}" if dmarc.subdomain_policy else ""
        policy = f" (p={dmarc.policy}{sub})"
    where = f" at {dmarc.found_at}" if dmarc.inherited else ""
    lines.append(
        f"DMARC:  {dmarc.status}{where}{policy}" + (f": {dmarc.record}" if dmarc.record else "")
    )
    lines.append("")
    if report.advice:
        lines.append("advice:")
        lines.extend(f"- {text}" for text in report.advice)
    else:
        lines.append("all good: every local key is published, SPF is set and DMARC enforces.")
    return "\n".join(lines)


def _report_json(report: DomainReport) -> str:
    body = dataclasses.asdict(report)
    body["ok"] = report.ok
    return json.dumps(body, indent=2)
