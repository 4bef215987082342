"""The content of auth mails (magic link, one-time code, password reset), pure.

Shared by the library notifiers and the service, so a link or a code is checked,
built and rendered the same way in both modes. Nothing here sends anything.
Tokens, codes and links never appear in error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode, urlsplit

from ..exceptions import ConfigurationError, RelayError, ValidationError
from .branding import Branding, branding_values
from .link_origins import explicit_port
from .locales import expiry_text, shipped_locale, text_direction
from .phrases import PHRASES, fill
from .rendering import RenderedMail, TemplateSet
from .validation import check_header_value, parse_mailbox

#: The English support line used when no support address is configured.
DEFAULT_SUPPORT_TEXT = PHRASES["en"].automated
#: English ``user_name`` when the caller has no name for the user ("Hi there,").
ANONYMOUS_USER_NAME = PHRASES["en"].anonymous_name
MAX_USER_NAME = 200
MAX_CODE = 64
MAX_TOKEN = 4096
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.~-]+")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_base_url(base_url: object, *, error: type[RelayError] = ConfigurationError) -> str:
    """An http(s) URL with a host, a usable port if any (1 to 65535), and no user info, query
    or fragment; https unless local.

    Returns it without a trailing slash. ``error`` is the exception class to raise:
    :class:`ConfigurationError` for operator settings, :class:`ValidationError` for a
    URL that came with a request.
    """
    if not isinstance(base_url, str) or _URL_UNSAFE.search(base_url):
        raise error("base_url must be a URL without spaces or control characters")
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise error("base_url is not a valid URL") from None
    try:
        explicit_port(parts, error=error)
    except RelayError as exc:
        raise error(f"base_url: {exc.message}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise error("base_url must be an http(s) URL with a host name")
    if "@" in parts.netloc:
        raise error("base_url must not contain a user name or password")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise error("base_url must not have a query or a fragment")
    if scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise error("base_url must use https (http is allowed for localhost only)")
    return base_url.rstrip("/")


@dataclass(frozen=True)
class LinkSpec:
    """Where a link points: ``base_url + path + ?token_param=<token>``."""

    base_url: str
    path: str
    token_param: str = "token"  # noqa: S105 - a query parameter name, not a secret

    @classmethod
    def checked(cls, base_url: str, path: str, token_param: str = "token") -> LinkSpec:  # noqa: S107
        """Validate every part (ConfigurationError if unusable)."""
        if not isinstance(path, str) or (path and not path.startswith("/")):
            raise ConfigurationError("path must start with /")
        if _URL_UNSAFE.search(path) or "?" in path or "#" in path:
            raise ConfigurationError("path must not contain spaces, controls, ? or #")
        if not _PARAM_NAME.fullmatch(token_param):
            raise ConfigurationError("token_param must be letters, digits, '_', '.', '~' or '-'")
        return cls(check_base_url(base_url), path, token_param)

    def link(self, token: str) -> str:
        """The URL for ``token``; every reserved character in it is percent-encoded."""
        query = urlencode({self.token_param: token}, quote_via=quote, safe="")
        return f"{self.base_url}{self.path}?{query}"


def user_name_value(value: str | None) -> str:
    """The name for the greeting: one line of printable text, or a neutral default."""
    if value is not None and len(value) > MAX_USER_NAME:
        raise ValidationError("user_name is too long", field="user_name")
    if value is None or not value.strip():
        return ANONYMOUS_USER_NAME
    check_header_value(value, field="user_name", limit=MAX_USER_NAME)
    return value.strip()


def secret_value(value: object, *, field: str, limit: int) -> str:
    """Check a token or code without ever putting it in the error message."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(value) > limit:
        raise ValidationError(f"{field} is longer than {limit} characters", field=field)
    if _CONTROL.search(value):
        raise ValidationError(f"{field} contains a control character", field=field)
    return value


def product_name_for(from_addr: str) -> str:
    """The sender's domain, used as the product name when none is configured."""
    if not from_addr:
        raise ValidationError("no sender address: pass from_addr or configure one", field="from")
    return parse_mailbox(from_addr, field="from").domain


def render_auth_mail(
    templates: TemplateSet,
    *,
    user_name: str | None,
    branding: Branding,
    expires_seconds: int,
    secret: Mapping[str, str],
    locale: str | None = None,
    product_name: str | None = None,
    support_text: str | None = None,
) -> RenderedMail:
    """Fill a kind's templates; ``secret`` is ``{"link": …}`` or ``{"code": …}``.

    ``locale`` (default: the templates' own) chooses the greeting, the lifetime words and
    the support line; ``product_name`` (default: ``branding.product_name``) must end up
    non-empty. ``support_text`` replaces the locale's support line. Caller values
    (``user_name``, the secret, the product name) are plain strings, so HTML templates
    escape them; only branding becomes trusted HTML. The text part ends with exactly one
    newline, so an empty footer leaves no trailing blank lines.
    """
    if not set(secret) <= {"link", "code"}:
        raise ValueError("secret holds only a link or a code")
    chosen = shipped_locale(templates.locale if locale is None else locale)
    if chosen is None:
        raise ConfigurationError(f"no phrases for locale {locale!r}")
    name = product_name or branding.product_name
    if not name:
        raise ValidationError("no product name: configure one", field="product_name")
    phrases = PHRASES[chosen]
    if user_name is None or not user_name.strip():
        shown_name, greeting = phrases.anonymous_name, phrases.greeting_anonymous
    else:
        shown_name = user_name_value(user_name)
        greeting = fill(phrases.greeting, "name", shown_name)
    mail = templates.render(
        {
            **branding_values(branding, chosen, support_text=support_text),
            "product_name": name,
            "user_name": shown_name,
            "greeting": greeting,
            "expires_text": expiry_text(expires_seconds, chosen),
            "locale": chosen,
            "dir": text_direction(chosen),
            **secret,
        }
    )
    if mail.text is None:
        return mail
    return replace(mail, text=mail.text.rstrip() + "\n")
