"""``authmail-relay templates list|check|preview`` (standard library only)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from ..mail.config import mail_settings
from ..mail.template_catalog import catalog, render_preview
from ..settings import Settings


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run one templates action; configuration problems raise ConfigurationError (exit 2)."""
    settings = Settings.from_env(env)
    mail = mail_settings(settings)
    if args.templates_command == "check":
        where = mail.templates_dir or "none (built-in templates only)"
        print(f"ok: default locale {mail.default_locale}; overrides: {where}")
        return 0
    if args.templates_command == "list":
        for entry in catalog(mail):
            print(f"{entry.kind}: {' '.join(entry.locales)}")
            for locale, parts in sorted(entry.overridden.items()):
                print(f"  overridden in {locale}: {', '.join(parts)}")
        print(f"default locale: {mail.default_locale}")
        return 0
    rendered = render_preview(args.kind, args.locale, mail, product_name=settings.product_name)
    if args.format == "subject":
        print(rendered.subject)
    elif args.format == "html":
        print(rendered.html or "")
    else:
        print(rendered.text or "")
    return 0
