"""Sample renderings of the auth mails, for operators checking templates and branding.

Used by ``GET /v1/templates/{kind}/preview`` and ``authmail-relay templates preview``.
The data is fixed and obviously fake: the locale's sample name, the code ``482913``
and links under ``https://app.example.com``. Nothing here sends anything.
"""

from __future__ import annotations

from pathlib import Path

from ..vocabulary import Kind
from .auth_mail import render_auth_mail
from .branding import Branding
from .locales import DEFAULT_LOCALE, list_locales, resolve_locale
from .overrides import load_templates
from .phrases import PHRASES
from .rendering import RenderedMail, template_kinds

__all__ = [
    "SAMPLE_CODE",
    "SAMPLE_LIFETIMES",
    "SAMPLE_LINKS",
    "SAMPLE_PRODUCT_NAME",
    "list_locales",
    "preview",
    "template_kinds",
]

SAMPLE_CODE = "482913"
SAMPLE_PRODUCT_NAME = "Example"
SAMPLE_LINKS = {
    Kind.MAGIC_LINK: "https://app.example.com/set-password?token=sample-3f9a2c7e",
    Kind.PASSWORD_RESET: "https://app.example.com/reset-password?token=sample-3f9a2c7e",
}
#: The service's default lifetimes (OTP_EXPIRES_SECONDS, LINK_EXPIRES_SECONDS).
SAMPLE_LIFETIMES = {Kind.OTP: 600, Kind.MAGIC_LINK: 900, Kind.PASSWORD_RESET: 900}


def preview(
    kind: Kind,
    locale: str | None,
    *,
    branding: Branding,
    overrides: Path | str | None = None,
    product_name: str | None = None,
    default_locale: str = DEFAULT_LOCALE,
) -> RenderedMail:
    """``kind`` rendered with sample data in the locale ``locale`` resolves to.

    The product name is ``product_name``, else ``branding.product_name``, else
    ``"Example"``. Raises ``ValidationError`` for a malformed locale and
    ``ConfigurationError`` for a kind without templates or a bad override file.
    """
    kind = Kind(kind)
    chosen = resolve_locale(locale, default_locale)
    templates = load_templates(kind, chosen, overrides=overrides)
    secret = {"code": SAMPLE_CODE} if kind is Kind.OTP else {"link": SAMPLE_LINKS[kind]}
    return render_auth_mail(
        templates,
        user_name=PHRASES[chosen].sample_name,
        branding=branding,
        expires_seconds=SAMPLE_LIFETIMES[kind],
        secret=secret,
        product_name=product_name or branding.product_name or SAMPLE_PRODUCT_NAME,
    )
