"""Decoding the template and domain answers into :mod:`authmail_relay.client._resources`
(no I/O here). As in :mod:`authmail_relay.client._decode`, a body without the documented
shape is a :class:`~authmail_relay.client._decode.WireError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._decode import _bool, _list, _object, _optional, _str, _strings
from ._resources import (
    DomainDkim,
    DomainDmarc,
    DomainReport,
    DomainSpf,
    TemplateCatalog,
    TemplateKind,
    TemplatePreview,
)


def template_catalog(data: object) -> TemplateCatalog:
    """Decode the answer of ``GET /v1/templates``."""
    m = _object(data)
    return TemplateCatalog(
        default_locale=_str(m, "default_locale"),
        locales=_strings(m, "locales"),
        kinds=tuple(_template_kind(item) for item in _list(m.get("kinds"))),
    )


def template_preview(data: object) -> TemplatePreview:
    """Decode the JSON answer of ``GET /v1/templates/{kind}/preview``."""
    m = _object(data)
    return TemplatePreview(
        kind=_str(m, "kind"),
        locale=_optional(m, "locale", str),
        subject=_str(m, "subject"),
        html=_optional(m, "html", str),
        text=_optional(m, "text", str),
    )


def domain_report(data: object) -> DomainReport:
    """Decode the answer of ``GET /v1/domains/{domain}``."""
    m = _object(data)
    return DomainReport(
        domain=_str(m, "domain"),
        ok=_bool(m, "ok"),
        dkim=tuple(_dkim(item) for item in _list(m.get("dkim"))),
        spf=_spf(_object(m.get("spf"))),
        dmarc=_dmarc(_object(m.get("dmarc"))),
        advice=_strings(m, "advice"),
    )


def _template_kind(data: object) -> TemplateKind:
    m = _object(data)
    overridden = _object(m.get("overridden"))
    return TemplateKind(
        kind=_str(m, "kind"),
        locales=_strings(m, "locales"),
        overridden={str(locale): _strings(overridden, locale) for locale in overridden},
    )


def _dkim(data: object) -> DomainDkim:
    m = _object(data)
    return DomainDkim(
        selector=_str(m, "selector"),
        algorithm=_str(m, "algorithm"),
        name=_str(m, "name"),
        status=_str(m, "status"),
        published=_optional(m, "published", str),
        expected=_str(m, "expected"),
        advice=_strings(m, "advice"),
    )


def _spf(m: Mapping[str, Any]) -> DomainSpf:
    return DomainSpf(
        status=_str(m, "status"),
        record=_optional(m, "record", str),
        all=_optional(m, "all", str),
        mechanisms=_strings(m, "mechanisms"),
        advice=_strings(m, "advice"),
    )


def _dmarc(m: Mapping[str, Any]) -> DomainDmarc:
    return DomainDmarc(
        status=_str(m, "status"),
        record=_optional(m, "record", str),
        found_at=_optional(m, "found_at", str),
        inherited=_bool(m, "inherited"),
        effective_policy=_optional(m, "effective_policy", str),
        checked=_strings(m, "checked"),
        policy=_optional(m, "policy", str),
        subdomain_policy=_optional(m, "subdomain_policy", str),
        pct=_optional(m, "pct", int),
        rua=_strings(m, "rua"),
        ruf=_strings(m, "ruf"),
        adkim=_optional(m, "adkim", str),
        aspf=_optional(m, "aspf", str),
        advice=_strings(m, "advice"),
    )
