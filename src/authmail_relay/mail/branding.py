"""The operator's branding of auth mails, and the trusted HTML pieces built from it.

:class:`Branding` holds plain, validated values. The optional parts of a mail (logo,
support line, footer) cannot be expressed in the logic-less templates, so
:func:`branding_values` renders them here into :class:`TrustedHtml` fragments. Every
value that goes into a fragment is HTML-escaped even though it was validated, and
fragments are built from branding (operator settings) only, never from request data.

Colours: ``accent_color`` paints the button and the top rule of the card. The button
text is white when white reaches 4.5:1 on the accent, else black; one of the two
always reaches at least 4.58:1 (√21, at the luminance where both are equal), so every
``#rrggbb`` accent keeps WCAG AA and none is rejected. Links in the body use the
accent only when it reaches 4.5:1 on the white card; otherwise they use the body text
colour (they are underlined either way).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ..exceptions import ConfigurationError, ValidationError
from .locales import shipped_locale
from .phrases import PHRASES, fill
from .rendering import TrustedHtml
from .validation import check_header_value, parse_mailbox

__all__ = [
    "DEFAULT_ACCENT",
    "Branding",
    "branding_values",
    "button_text_color",
    "contrast_ratio",
    "link_color",
]

DEFAULT_ACCENT = "#2563eb"
CARD_BACKGROUND = "#ffffff"
BODY_TEXT = "#1f2937"
MUTED_TEXT = "#4b5563"
AA_CONTRAST = 4.5
MAX_NAME = 100
MAX_FOOTER = 300
MAX_URL = 2048
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
# Quotes, angle brackets, backslashes and backticks have no business in a logo URL
# and are refused outright rather than escaped.
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`]")
_MUTED_STYLE = "margin:0 0 8px;font-size:13px;line-height:1.5;color:" + MUTED_TEXT + ";"


def _luminance(color: str) -> float:
    channels = []
    for start in (1, 3, 5):
        value = int(color[start : start + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two ``#rrggbb`` colours (1.0 to 21.0)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def button_text_color(accent: str) -> str:
    """``#ffffff`` when white text reaches 4.5:1 on ``accent``, else ``#000000``."""
    return "#ffffff" if contrast_ratio(accent, "#ffffff") >= AA_CONTRAST else "#000000"


def link_color(accent: str) -> str:
    """The accent when it reaches 4.5:1 on the white card, else the body text colour."""
    return accent if contrast_ratio(accent, CARD_BACKGROUND) >= AA_CONTRAST else BODY_TEXT


def _one_line(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{field} must be text")
    try:  # the length first, then the scan (check_header_value's order)
        check_header_value(value, field=field, limit=limit)
    except ValidationError as exc:
        raise ConfigurationError(exc.message) from None
    return value


def _check_logo_url(value: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL or _URL_FORBIDDEN.search(value):
        raise ConfigurationError("logo_url must be a URL without spaces, quotes or < >")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ConfigurationError("logo_url is not a valid URL") from None
    if parts.scheme.lower() != "https" or not parts.hostname or "@" in parts.netloc:
        raise ConfigurationError("logo_url must be an https URL with a host and no user name")
    return value


@dataclass(frozen=True)
class Branding:
    """How auth mails look and who they come from; validated on construction.

    ``product_name``: shown in subjects and bodies ("" = the caller decides, e.g. the
    sender's domain). ``sender_name``: display name for the From header (see
    :meth:`from_address`). ``logo_url``: an https image shown at the top, or ``None``.
    ``accent_color``: ``#rrggbb``. ``support_address``: a plain address shown as
    "Questions? Write to …", or ``None``. ``footer_text``: one short line of plain text.
    Bad values raise :class:`ConfigurationError`.
    """

    product_name: str = ""
    sender_name: str = ""
    logo_url: str | None = None
    accent_color: str = DEFAULT_ACCENT
    support_address: str | None = None
    footer_text: str = ""

    def __post_init__(self) -> None:
        _one_line(self.product_name, "product_name", MAX_NAME)
        _one_line(self.sender_name, "sender_name", MAX_NAME)
        _one_line(self.footer_text, "footer_text", MAX_FOOTER)
        if self.logo_url is not None:
            _check_logo_url(self.logo_url)
        if not isinstance(self.accent_color, str) or not _HEX.fullmatch(self.accent_color):
            raise ConfigurationError("accent_color must be #rrggbb, e.g. #2563eb")
        if self.support_address is not None:
            if not isinstance(self.support_address, str):
                raise ConfigurationError("support_address must be text")
            try:
                mailbox = parse_mailbox(self.support_address, field="support_address")
            except ValidationError as exc:
                raise ConfigurationError(exc.message) from None
            if mailbox.display_name is not None or mailbox.address != self.support_address:
                raise ConfigurationError(
                    "support_address must be a plain address such as help@example.com"
                )

    @classmethod
    def checked(
        cls,
        *,
        product_name: str | None = None,
        sender_name: str | None = None,
        logo_url: str | None = None,
        accent_color: str | None = None,
        support_address: str | None = None,
        footer_text: str | None = None,
    ) -> Branding:
        """Build from raw setting values: surrounding blanks are removed, ``None`` or an
        empty value means "not set", the accent is lower-cased and an address's domain
        normalised. Raises :class:`ConfigurationError` naming the bad value."""
        accent = (accent_color or "").strip().lower() or DEFAULT_ACCENT
        address = (support_address or "").strip() or None
        if address is not None:
            try:
                mailbox = parse_mailbox(address, field="support_address")
            except ValidationError as exc:
                raise ConfigurationError(exc.message) from None
            if mailbox.display_name is None:
                address = mailbox.address
        return cls(
            product_name=(product_name or "").strip(),
            sender_name=(sender_name or "").strip(),
            logo_url=(logo_url or "").strip() or None,
            accent_color=accent,
            support_address=address,
            footer_text=(footer_text or "").strip(),
        )

    def from_address(self, from_addr: str) -> str:
        """``from_addr`` with ``sender_name`` as its display name, unless it has one.

        Raises :class:`ValidationError` (``field="from"``) for an unusable address.
        """
        mailbox = parse_mailbox(from_addr, field="from")
        if not self.sender_name or mailbox.display_name is not None:
            return from_addr
        quoted = self.sender_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{mailbox.address}>'


def _escape(value: str) -> str:
    return html.escape(value, quote=True)


def branding_values(
    branding: Branding, locale: str, *, support_text: str | None = None, automated: bool = True
) -> dict[str, str | TrustedHtml]:
    """The template values that come from branding, for ``locale`` (a shipped locale).

    Plain values: ``accent_color``, ``button_text_color``, ``link_color``,
    ``support_text`` and ``footer_text``. Fragments: ``logo_html``, ``support_html`` and
    ``footer_html`` (empty when the part is not configured). ``support_text`` replaces
    the locale's support line (it is escaped in ``support_html`` like everything else).
    Without a support address the line says replies are not read, unless
    ``automated=False`` (raw mail may well take replies): then it is empty.
    """
    shipped = shipped_locale(locale)
    if shipped is None:
        raise ConfigurationError(f"no phrases for locale {locale!r}")
    phrases = PHRASES[shipped]
    links = link_color(branding.accent_color)
    address = branding.support_address
    if support_text is not None:
        support_line, support_markup = support_text, _escape(support_text)
    elif address is not None:
        support_line = fill(phrases.support, "address", address)
        mail_link = (
            f'<a href="mailto:{_escape(quote(address, safe="@"))}" class="am-link" '
            f'style="color:{links};text-decoration:underline;">{_escape(address)}</a>'
        )
        before, _, after = phrases.support.partition("{address}")
        support_markup = _escape(before) + mail_link + _escape(after)
    elif automated:
        support_line, support_markup = phrases.automated, _escape(phrases.automated)
    else:
        support_line, support_markup = "", ""
    logo = ""
    if branding.logo_url is not None:
        alt = branding.product_name or phrases.logo
        logo = (
            '<div style="margin:0 0 24px;">'
            f'<img src="{_escape(branding.logo_url)}" alt="{_escape(alt)}" height="40" '
            'style="display:block;height:40px;width:auto;max-width:200px;border:0;'
            'outline:none;text-decoration:none;"></div>'
        )
    footer = ""
    if branding.footer_text:
        footer = f'<p class="am-muted" style="{_MUTED_STYLE}">{_escape(branding.footer_text)}</p>'
    return {
        "accent_color": branding.accent_color,
        "button_text_color": button_text_color(branding.accent_color),
        "link_color": links,
        "support_text": support_line,
        "footer_text": branding.footer_text,
        "logo_html": TrustedHtml(logo),
        "support_html": TrustedHtml(
            support_markup and f'<p class="am-muted" style="{_MUTED_STYLE}">{support_markup}</p>'
        ),
        "footer_html": TrustedHtml(footer),
    }
