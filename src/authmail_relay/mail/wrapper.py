"""The branded frame around raw mail: ``wrapper.html`` with the caller's body inside.

Raw mail is the caller's own message, so its HTML goes into the frame unchanged (it
would be sent unchanged without the frame too); everything around it is the package's
or the operator's. Only the part between ``<body …>`` and ``</body>`` is kept when the
caller sends a whole document, so the result has a single ``<html>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .branding import Branding, branding_values
from .locales import DEFAULT_LOCALE, resolve_locale, text_direction
from .overrides import load_wrapper
from .rendering import TrustedHtml

__all__ = ["wrap_html"]

_BODY = re.compile(r"<body\b[^>]*>(.*?)(?:</body\s*>|\Z)", re.IGNORECASE | re.DOTALL)


def wrap_html(
    content_html: str,
    *,
    branding: Branding,
    locale: str | None,
    subject: str = "",
    overrides: Path | str | None = None,
    default_locale: str = DEFAULT_LOCALE,
) -> str:
    """``content_html`` inside the branded frame, written for ``locale``.

    ``locale`` is any tag (resolved with :func:`~authmail_relay.mail.locales.resolve_locale`
    against ``default_locale``; malformed raises ``ValidationError``). ``subject`` is the
    document title (escaped; the product name when empty). ``overrides`` is the
    operator's templates directory, whose ``<locale>/wrapper.html`` wins when present.
    The support line appears only when a support address is configured.
    """
    chosen = resolve_locale(locale, default_locale)
    match = _BODY.search(content_html)
    body = match.group(1) if match else content_html
    return load_wrapper(chosen, overrides=overrides).render(
        {
            **branding_values(branding, chosen, automated=False),
            "product_name": branding.product_name,
            "subject": subject or branding.product_name,
            "locale": chosen,
            "dir": text_direction(chosen),
            "content_html": TrustedHtml(body),
        }
    )
