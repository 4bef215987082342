"""What the service's settings mean for auth mails: branding, default locale, overrides.

:func:`mail_settings` reads these ``Settings`` fields (environment variables in
brackets), treating an empty value as "not set":
``product_name`` (PRODUCT_NAME), ``sender_name`` (SENDER_NAME), ``logo_url`` (LOGO_URL),
``accent_color`` (ACCENT_COLOR), ``support_address`` (SUPPORT_ADDRESS), ``footer_text``
(FOOTER_TEXT), ``default_locale`` (DEFAULT_LOCALE) and ``templates_dir``
(TEMPLATES_DIR). Everything is validated on first use and the result cached, so calling
it once at start-up makes a bad setting fail fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from .branding import Branding
from .locales import DEFAULT_LOCALE, check_locale
from .overrides import check_overrides

__all__ = ["MailSettings", "mail_settings"]

_FIELDS = (
    "product_name",
    "sender_name",
    "logo_url",
    "accent_color",
    "support_address",
    "footer_text",
    "default_locale",
    "templates_dir",
)


@dataclass(frozen=True)
class MailSettings:
    """Validated rendering inputs for the service."""

    branding: Branding
    #: A shipped locale (DEFAULT_LOCALE resolved, e.g. ``de-DE`` → ``de``).
    default_locale: str
    #: The checked overrides directory, or ``None``.
    templates_dir: Path | None


def mail_settings(settings: Settings) -> MailSettings:
    """The :class:`MailSettings` for ``settings`` (see the module docstring).

    Raises :class:`~authmail_relay.exceptions.ConfigurationError` naming the bad value,
    or listing every problem of the templates directory.
    """
    values = tuple(str(getattr(settings, name) or "").strip() for name in _FIELDS)
    return _mail_settings(values)


@functools.lru_cache(maxsize=8)
def _mail_settings(values: tuple[str, ...]) -> MailSettings:
    raw = dict(zip(_FIELDS, values, strict=True))
    branding = Branding.checked(
        product_name=raw["product_name"],
        sender_name=raw["sender_name"],
        logo_url=raw["logo_url"],
        accent_color=raw["accent_color"],
        support_address=raw["support_address"],
        footer_text=raw["footer_text"],
    )
    templates_dir = Path(raw["templates_dir"]) if raw["templates_dir"] else None
    if templates_dir is not None:
        check_overrides(templates_dir)
    return MailSettings(
        branding=branding,
        default_locale=check_locale(raw["default_locale"] or DEFAULT_LOCALE),
        templates_dir=templates_dir,
    )
