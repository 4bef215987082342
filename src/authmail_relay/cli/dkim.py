"""``authmail-relay dkim …`` and ``authmail-relay domains check``.

:func:`add_parser` uses only the standard library (the parser is built in the base
install too); :func:`run` imports the ``[http]`` extra's DKIM and DNS pieces when one
of these commands actually runs. Private keys are written to files and never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..dkim.domain_check import DomainReport
    from ..dkim.keys import Algorithm
    from ..settings import Settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dkim`` and ``domains`` to the CLI's sub-commands."""
    dkim = commands.add_parser("dkim", help="DKIM signing keys (DKIM_KEYS_DIR)")
    actions = dkim.add_subparsers(dest="dkim_command", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="create a key and print its DNS record")
    generate.add_argument("--domain", required=True, help="the From domain, e.g. example.com")
    generate.add_argument(
        "--selector", default=None, help="DNS selector (default amYYYYMM, e.g. am202611)"
    )
    generate.add_argument(
        "--algorithm",
        choices=["rsa", "ed25519", "both"],
        default="rsa",
        help="rsa (2048 bits, the default), ed25519, or both: two selectors, SELECTOR-rsa "
        "and SELECTOR-ed25519, and every message signed twice",
    )
    generate.add_argument("--force", action="store_true", help="replace an existing selector")
    listing = actions.add_parser("list", help="the keys in DKIM_KEYS_DIR (never private parts)")
    listing.add_argument("--records", action="store_true", help="also print each DNS record")

    domains = commands.add_parser("domains", help="check a sending domain's DNS records")
    domain_actions = domains.add_subparsers(dest="domains_command", metavar="ACTION", required=True)
    check = domain_actions.add_parser(
        "check", help="DKIM (against local keys), SPF and DMARC; exit 1 if anything needs work"
    )
    check.add_argument("domain")
    check.add_argument("--json", action="store_true", help="print the report as JSON")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed ``dkim`` or ``domains`` action; returns the exit code."""
    if args.command == "domains":
        from ..dkim.domain_check import check_with_settings

        report = await check_with_settings(args.domain, settings)
        print(_report_json(report) if args.json else render_report(report))
        return 0 if report.ok else 1
    if args.dkim_command == "generate":
        return _generate(args, settings)
    return _list(args, settings)


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from ..dkim.keys import check_domain, check_selector, generate
    from ..dkim.store import KeyStore

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
    from ..dkim.store import KeyStore

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
