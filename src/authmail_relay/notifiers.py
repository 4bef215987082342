"""Ready-made auth mails on top of :class:`~authmail_relay.sender.SmtpSender`.

::

    notifier = MagicLinkNotifier(sender, base_url="https://app.example.com", product_name="Acme")
    result = notifier.send("ada@example.org", "Ada", token)

Each notifier renders the built-in English templates (or caller-supplied ones in the same
``{{ placeholder }}`` syntax, checked at construction) and sends them as
``Auto-Submitted: auto-generated`` mail. Like the sender, ``send`` never raises for bad
input or SMTP trouble: it returns a falsy :class:`SendResult`. Tokens, codes and links
never appear in error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit

from .composing import make_draft
from .exceptions import ConfigurationError, ValidationError
from .rendering import TemplateSet, expiry_text, load_builtin
from .sender import SendResult, SmtpSender
from .validation import check_header_value, parse_mailbox
from .vocabulary import Kind

__all__ = ["MagicLinkNotifier", "OTPNotifier", "PasswordResetNotifier"]

DEFAULT_SUPPORT_TEXT = "This is an automated message; replies are not read."
#: Used in the greeting when the caller has no name for the user ("Hi there,").
ANONYMOUS_USER_NAME = "there"
MAX_USER_NAME = 200
MAX_CODE = 64
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.~-]+")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _Notifier:
    """Shared plumbing: templates, default values, validation, sending."""

    kind: Kind

    def __init__(
        self,
        sender: SmtpSender,
        *,
        expire_minutes: int,
        product_name: str | None,
        subject: str | None,
        subject_prefix: str,
        html_template: str | None,
        text_template: str | None,
        support_text: str,
        from_addr: str | None,
        locale: str,
    ) -> None:
        if isinstance(expire_minutes, bool) or not isinstance(expire_minutes, int):
            raise ConfigurationError("expire_minutes must be a whole number of minutes")
        if expire_minutes <= 0:
            raise ConfigurationError("expire_minutes must be positive")
        for name, value in (("subject_prefix", subject_prefix), ("product_name", product_name)):
            try:
                check_header_value(value or "", field=name)
            except ValidationError as exc:
                raise ConfigurationError(exc.message) from None
        self.sender = sender
        self.expire_minutes = expire_minutes
        self.product_name = product_name
        self.subject_prefix = subject_prefix
        self.support_text = support_text
        self.from_addr = from_addr
        self.templates: TemplateSet = load_builtin(self.kind, locale).with_overrides(
            subject=subject, html=html_template, text=text_template
        )

    @property
    def expires_text(self) -> str:
        """How long the link or code lives, in words ("15 minutes")."""
        return expiry_text(self.expire_minutes * 60)

    def _deliver(self, to: str, user_name: str | None, secret: Mapping[str, str]) -> SendResult:
        try:
            name = _user_name(user_name)
            from_addr = self.from_addr or self.sender.config.from_addr
            product = self.product_name or _domain_of(from_addr)
            mail = self.templates.render(
                {
                    "product_name": product,
                    "user_name": name,
                    "expires_text": self.expires_text,
                    "support_text": self.support_text,
                    **secret,
                }
            )
            draft = make_draft(
                from_addr=from_addr,
                to=to,
                subject=self.subject_prefix + mail.subject,
                html=mail.html,
                text=mail.text,
                auto_submitted=True,
            )
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self.sender.send_draft(draft)


def _user_name(value: str | None) -> str:
    """The name for the greeting: one line of printable text, or a neutral default."""
    if value is None or not value.strip():
        return ANONYMOUS_USER_NAME
    check_header_value(value, field="user_name")
    if len(value) > MAX_USER_NAME:
        raise ValidationError("user_name is too long", field="user_name")
    return value.strip()


def _domain_of(from_addr: str) -> str:
    """The sender's domain, used as the product name when none is configured."""
    if not from_addr:
        raise ValidationError("no sender address: pass from_addr or configure one", field="from")
    return parse_mailbox(from_addr, field="from").domain


def _secret(value: object, *, field: str, limit: int | None = None) -> str:
    """Check a token or code without ever putting it in the error message."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if limit is not None and len(value) > limit:
        raise ValidationError(f"{field} is longer than {limit} characters", field=field)
    if _CONTROL.search(value):
        raise ValidationError(f"{field} contains a control character", field=field)
    return value


class _LinkNotifier(_Notifier):
    """A notifier whose mail carries ``base_url + path + ?token=...``.

    ``path`` defaults to the subclass's ``default_path``; ``expire_minutes`` is only the
    text shown in the mail (the token's real lifetime is the caller's business).
    """

    default_path: str
    base_url: str
    path: str
    token_param: str

    def __init__(
        self,
        sender: SmtpSender,
        *,
        base_url: str,
        path: str | None = None,
        expire_minutes: int = 15,
        product_name: str | None = None,
        subject: str | None = None,
        subject_prefix: str = "",
        html_template: str | None = None,
        text_template: str | None = None,
        token_param: str = "token",  # noqa: S107 - a query parameter name, not a secret
        support_text: str = DEFAULT_SUPPORT_TEXT,
        from_addr: str | None = None,
        locale: str = "en",
    ) -> None:
        super().__init__(
            sender,
            expire_minutes=expire_minutes,
            product_name=product_name,
            subject=subject,
            subject_prefix=subject_prefix,
            html_template=html_template,
            text_template=text_template,
            support_text=support_text,
            from_addr=from_addr,
            locale=locale,
        )
        self._configure_link(base_url, self.default_path if path is None else path, token_param)

    def _configure_link(self, base_url: str, path: str, token_param: str) -> None:
        """Check and keep the parts of the link; ConfigurationError if unusable."""
        self.base_url = _check_base_url(base_url)
        if not isinstance(path, str) or (path and not path.startswith("/")):
            raise ConfigurationError("path must start with /")
        if _URL_UNSAFE.search(path) or "?" in path or "#" in path:
            raise ConfigurationError("path must not contain spaces, controls, ? or #")
        if not _PARAM_NAME.fullmatch(token_param):
            raise ConfigurationError("token_param must be letters, digits, '_', '.', '~' or '-'")
        self.path = path
        self.token_param = token_param

    def link(self, token: str) -> str:
        """The URL for ``token``; every reserved character in it is percent-encoded."""
        query = urlencode({self.token_param: token}, quote_via=quote, safe="")
        return f"{self.base_url}{self.path}?{query}"

    def send(self, to: str, user_name: str | None, token: str) -> SendResult:
        """Send the mail with a link carrying ``token`` to ``to``."""
        try:
            link = self.link(_secret(token, field="token"))
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self._deliver(to, user_name, {"link": link})


def _check_base_url(base_url: str) -> str:
    """An http(s) URL with a host and no user info, query or fragment; https unless local."""
    if not isinstance(base_url, str) or _URL_UNSAFE.search(base_url):
        raise ConfigurationError("base_url must be a URL without spaces or control characters")
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ConfigurationError("base_url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("base_url must be an http(s) URL with a host name")
    if "@" in parts.netloc:
        raise ConfigurationError("base_url must not contain a user name or password")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise ConfigurationError("base_url must not have a query or a fragment")
    if scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise ConfigurationError("base_url must use https (http is allowed for localhost only)")
    return base_url.rstrip("/")


class MagicLinkNotifier(_LinkNotifier):
    """Sign-in links: ``send(to, user_name, token)``; path ``/set-password`` by default."""

    kind = Kind.MAGIC_LINK
    default_path = "/set-password"


class PasswordResetNotifier(_LinkNotifier):
    """Password-reset links: ``send(to, user_name, token)``; path ``/reset-password`` by default."""

    kind = Kind.PASSWORD_RESET
    default_path = "/reset-password"


class OTPNotifier(_Notifier):
    """One-time codes: ``send(to, user_name, code)``."""

    kind = Kind.OTP

    def __init__(
        self,
        sender: SmtpSender,
        *,
        expire_minutes: int = 10,
        product_name: str | None = None,
        subject: str | None = None,
        subject_prefix: str = "",
        html_template: str | None = None,
        text_template: str | None = None,
        support_text: str = DEFAULT_SUPPORT_TEXT,
        from_addr: str | None = None,
        locale: str = "en",
    ) -> None:
        super().__init__(
            sender,
            expire_minutes=expire_minutes,
            product_name=product_name,
            subject=subject,
            subject_prefix=subject_prefix,
            html_template=html_template,
            text_template=text_template,
            support_text=support_text,
            from_addr=from_addr,
            locale=locale,
        )

    def send(self, to: str, user_name: str | None, code: str) -> SendResult:
        """Send ``code`` to ``to``."""
        try:
            checked = _secret(code, field="code", limit=MAX_CODE)
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self._deliver(to, user_name, {"code": checked})
