"""Result types of the template and domain calls of the HTTP client
(``list_templates``, ``preview_template``, ``check_domain``).

Frozen dataclasses decoded from the relay's JSON by
:mod:`authmail_relay.client._decode_resources`; lists are tuples. They mirror the API's
views in ``api/routes_templates.py`` and ``api/routes_domains.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DomainDkim",
    "DomainDmarc",
    "DomainReport",
    "DomainSpf",
    "TemplateCatalog",
    "TemplateKind",
    "TemplatePreview",
]


@dataclass(frozen=True)
class TemplateKind:
    """One auth-mail kind (``otp``, ``magic_link``, ``password_reset``): the locales it is
    written in, and which parts (``html``, ``text``, ``subject``) the operator's
    ``TEMPLATES_DIR`` overrides, by locale (empty: none)."""

    kind: str
    locales: tuple[str, ...]
    overridden: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class TemplateCatalog:
    """What ``list_templates`` found: the default locale, every shipped locale, the kinds."""

    default_locale: str
    locales: tuple[str, ...]
    kinds: tuple[TemplateKind, ...]


@dataclass(frozen=True)
class TemplatePreview:
    """A kind's mail rendered with sample data (never a real code or link).
    ``locale`` is the one asked for (None: the default)."""

    kind: str
    locale: str | None
    subject: str
    html: str | None
    text: str | None


@dataclass(frozen=True)
class DomainDkim:
    """One local DKIM key and what DNS publishes at its selector. ``status`` is
    ``match``, ``mismatch``, ``revoked``, ``missing``, ``invalid`` or ``lookup_failed``;
    ``expected`` is the record value to publish for the key."""

    selector: str
    algorithm: str
    name: str
    status: str
    published: str | None
    expected: str
    advice: tuple[str, ...]


@dataclass(frozen=True)
class DomainSpf:
    """The domain's SPF record. ``status`` is ``present``, ``missing``, ``invalid`` or
    ``lookup_failed``; ``all`` is the final ``all`` term (``-all``, ``~all``, …)."""

    status: str
    record: str | None
    all: str | None
    mechanisms: tuple[str, ...]
    advice: tuple[str, ...]


@dataclass(frozen=True)
class DomainDmarc:
    """The DMARC record that applies: the domain's own, else the nearest parent's
    (``inherited``, found at ``found_at``). ``effective_policy`` is what receivers apply
    to this domain; ``checked`` the names queried, nearest first."""

    status: str
    record: str | None
    found_at: str | None
    inherited: bool
    effective_policy: str | None
    checked: tuple[str, ...]
    policy: str | None
    subdomain_policy: str | None
    pct: int | None
    rua: tuple[str, ...]
    ruf: tuple[str, ...]
    adkim: str | None
    aspf: str | None
    advice: tuple[str, ...]


@dataclass(frozen=True)
class DomainReport:
    """What ``check_domain`` found: ``ok`` when every local key is published, SPF exists
    and DMARC enforces. DNS trouble is part of the report (``lookup_failed``), not an
    error."""

    domain: str
    ok: bool
    dkim: tuple[DomainDkim, ...]
    spf: DomainSpf
    dmarc: DomainDmarc
    advice: tuple[str, ...]
