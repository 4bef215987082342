"""Ready-made auth mails on top of :class:`~authmail_relay.sender.SmtpSender`.

::

    notifier = MagicLinkNotifier(sender, base_url="https://app.example.com", product_name="Acme")
    result = notifier.send("ada@example.org", "Ada", token)

Each notifier renders the built-in templates in its ``locale`` (or the operator's
``templates_dir`` overrides, or caller-supplied templates in the same ``{{ placeholder }}``
syntax, all checked at construction) with its ``branding``, and sends them as
``Auto-Submitted: auto-generated`` mail. Like the sender, ``send`` never raises for bad
input or SMTP trouble: it returns a falsy :class:`SendResult`. Tokens, codes and links
never appear in error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .exceptions import ConfigurationError, ValidationError
from .mail.auth_mail import (
    MAX_CODE,
    MAX_TOKEN,
    LinkSpec,
    product_name_for,
    render_auth_mail,
    secret_value,
)
from .mail.branding import Branding
from .mail.composing import make_draft
from .mail.locales import check_locale, expiry_text
from .mail.overrides import check_overrides, load_templates
from .mail.rendering import TemplateSet
from .mail.validation import check_header_value
from .sender import SendResult, SmtpSender
from .vocabulary import Kind

__all__ = ["MagicLinkNotifier", "OTPNotifier", "PasswordResetNotifier"]


class _Notifier:
    """Shared plumbing: templates, default values, validation, sending.

    Template precedence: ``subject``/``html_template``/``text_template`` arguments, then
    files in ``templates_dir`` (``<locale>/<kind>.…``, checked as a whole directory), then
    the built-ins. ``product_name`` beats ``branding.product_name``; without either the
    sender's domain is used. ``support_text`` (``None``: the locale's line, naming
    ``branding.support_address`` if set) replaces the closing line. With a
    ``branding.sender_name``, a From address without a display name gets it.
    """

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
        support_text: str | None,
        from_addr: str | None,
        locale: str,
        branding: Branding | None,
        templates_dir: str | Path | None,
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
        if branding is not None and not isinstance(branding, Branding):
            raise ConfigurationError("branding must be a Branding (see Branding.checked)")
        if support_text is not None and not isinstance(support_text, str):
            raise ConfigurationError("support_text must be a string")
        self.sender = sender
        self.expire_minutes = expire_minutes
        self.product_name = product_name
        self.subject_prefix = subject_prefix
        self.support_text = support_text
        self.from_addr = from_addr
        self.locale = check_locale(locale)
        self.branding = branding or Branding()
        self.templates_dir = Path(templates_dir) if templates_dir is not None else None
        if self.templates_dir is not None:
            check_overrides(self.templates_dir)
        base = load_templates(self.kind, self.locale, overrides=self.templates_dir)
        self.templates: TemplateSet = base.with_overrides(
            subject=subject, html=html_template, text=text_template
        )

    @property
    def expires_text(self) -> str:
        """How long the link or code lives, in words ("15 minutes", "15 Minuten")."""
        return expiry_text(self.expire_minutes * 60, self.locale)

    def _deliver(self, to: str, user_name: str | None, secret: Mapping[str, str]) -> SendResult:
        try:
            from_addr = self.from_addr or self.sender.config.from_addr
            mail = render_auth_mail(
                self.templates,
                user_name=user_name,
                branding=self.branding,
                product_name=(
                    self.product_name or self.branding.product_name or product_name_for(from_addr)
                ),
                expires_seconds=self.expire_minutes * 60,
                support_text=self.support_text,
                secret=secret,
            )
            draft = make_draft(
                from_addr=self.branding.from_address(from_addr),
                to=to,
                subject=self.subject_prefix + mail.subject,
                html=mail.html,
                text=mail.text,
                auto_submitted=True,
            )
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self.sender.send_draft(draft)


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
        support_text: str | None = None,
        from_addr: str | None = None,
        locale: str = "en",
        branding: Branding | None = None,
        templates_dir: str | Path | None = None,
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
            branding=branding,
            templates_dir=templates_dir,
        )
        self.links = LinkSpec.checked(
            base_url, self.default_path if path is None else path, token_param
        )
        self.base_url, self.path, self.token_param = (
            self.links.base_url,
            self.links.path,
            self.links.token_param,
        )

    def link(self, token: str) -> str:
        """The URL for ``token``; every reserved character in it is percent-encoded."""
        return self.links.link(token)

    def send(self, to: str, user_name: str | None, token: str) -> SendResult:
        """Send the mail with a link carrying ``token`` to ``to``."""
        try:
            link = self.link(secret_value(token, field="token", limit=MAX_TOKEN))
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self._deliver(to, user_name, {"link": link})


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
        support_text: str | None = None,
        from_addr: str | None = None,
        locale: str = "en",
        branding: Branding | None = None,
        templates_dir: str | Path | None = None,
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
            branding=branding,
            templates_dir=templates_dir,
        )

    def send(self, to: str, user_name: str | None, code: str) -> SendResult:
        """Send ``code`` to ``to``."""
        try:
            checked = secret_value(code, field="code", limit=MAX_CODE)
        except ValidationError as exc:
            return SendResult.invalid(exc)
        return self._deliver(to, user_name, {"code": checked})
