"""What templates the relay has, and previews of them (pure; shared by the API and CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ValidationError
from ..vocabulary import Kind
from .config import MailSettings
from .previews import list_locales, preview, template_kinds
from .rendering import RenderedMail

#: File suffix of each part of a kind's templates.
PARTS = (("subject", ".subject.txt"), ("html", ".html"), ("text", ".txt"))
FORMATS = ("json", "html", "text")


@dataclass(frozen=True)
class KindCatalog:
    """One kind: the locales it ships in and, per locale, the parts an operator overrode."""

    kind: str
    locales: list[str]
    overridden: dict[str, list[str]]


def catalog(mail: MailSettings) -> list[KindCatalog]:
    """Every template kind with its locales and override status."""
    return [
        KindCatalog(
            kind=kind.value,
            locales=list_locales(),
            overridden=_overridden(kind, mail.templates_dir),
        )
        for kind in template_kinds()
    ]


def _overridden(kind: Kind, directory: Path | None) -> dict[str, list[str]]:
    if directory is None:
        return {}
    found: dict[str, list[str]] = {}
    for locale in list_locales():
        parts = [
            part
            for part, suffix in PARTS
            if (directory / locale / f"{kind.value}{suffix}").is_file()
        ]
        if parts:
            found[locale] = parts
    return found


def render_preview(
    kind: str, locale: str | None, mail: MailSettings, *, product_name: str
) -> RenderedMail:
    """``kind`` with sample data, as an operator would see it (ValidationError if unknown)."""
    kinds = {k.value: k for k in template_kinds()}
    if kind not in kinds:
        raise ValidationError(f"kind must be one of {', '.join(kinds)}", field="kind")
    return preview(
        kinds[kind],
        locale,
        branding=mail.branding,
        overrides=mail.templates_dir,
        product_name=product_name or None,
        default_locale=mail.default_locale,
    )
