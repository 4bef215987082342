"""From a :class:`MessageRequest` to a validated :class:`Draft` (pure).

Raw mail is taken as given; the auth kinds are rendered from the built-in templates
with the relay's settings (product name, link origin, default lifetimes). Everything
is checked here, before anything is stored.
"""

from __future__ import annotations

from ..exceptions import ConfigurationError, ValidationError
from ..settings import Settings
from ..vocabulary import Kind
from .auth_mail import (
    MAX_CODE,
    MAX_TOKEN,
    LinkSpec,
    check_base_url,
    product_name_for,
    render_auth_mail,
    secret_value,
)
from .branding import Branding
from .composing import Draft, make_draft
from .config import mail_settings
from .link_origins import origin_of
from .locales import resolve_locale
from .message_request import MessageRequest, as_list
from .overrides import load_templates
from .wrapper import wrap_html

#: The kinds whose mail carries a link.
LINK_KINDS = frozenset({Kind.MAGIC_LINK, Kind.PASSWORD_RESET})


def default_sender(settings: Settings) -> str:
    """The configured ``SMTP_FROM`` (or ``SMTP_USER``), or empty."""
    return settings.smtp.from_addr if settings.smtp else ""


def lifetime_seconds(request: MessageRequest, settings: Settings) -> float | None:
    """``expires_in`` as given, else the kind's default; raw mail does not expire by default."""
    if request.expires_in_seconds is not None:
        return request.expires_in_seconds
    if request.kind is Kind.OTP:
        return settings.otp_expires_seconds
    if request.kind in LINK_KINDS:
        return settings.link_expires_seconds
    return None


def build_draft(request: MessageRequest, settings: Settings) -> Draft:
    """Validate the request and produce the draft to compose (raises ValidationError).

    Without a ``from`` the configured sender is used, with ``SENDER_NAME`` as its
    display name. Raw mail with ``wrap`` gets its HTML framed in the branded layout.
    """
    mail_config = mail_settings(settings)
    from_addr = request.from_addr or _default_from(settings, mail_config.branding)
    if request.kind is Kind.RAW:
        html = request.html
        if request.wrap and html is not None:
            html = wrap_html(
                html,
                branding=mail_config.branding,
                locale=request.locale,
                subject=request.subject,
                overrides=mail_config.templates_dir,
                default_locale=mail_config.default_locale,
            )
        return make_draft(
            from_addr=from_addr,
            to=as_list(request.to),
            subject=request.subject,
            html=html,
            text=request.text,
            cc=as_list(request.cc),
            bcc=as_list(request.bcc),
            reply_to=as_list(request.reply_to),
            headers=dict(request.headers),
        )
    if as_list(request.cc) or as_list(request.bcc) or len(as_list(request.to)) != 1:
        raise ValidationError("auth mail goes to exactly one recipient (no cc or bcc)", field="to")
    secret = _secret(request, settings)
    lifetime = lifetime_seconds(request, settings)
    locale = template_locale(request.locale, mail_config.default_locale)
    mail = render_auth_mail(
        load_templates(request.kind, locale, overrides=mail_config.templates_dir),
        user_name=request.user_name,
        branding=mail_config.branding,
        product_name=settings.product_name or product_name_for(from_addr),
        expires_seconds=int(lifetime or 0),
        locale=locale,
        secret=secret,
    )
    return make_draft(
        from_addr=from_addr,
        to=as_list(request.to),
        subject=request.subject or mail.subject,
        html=mail.html,
        text=mail.text,
        reply_to=as_list(request.reply_to),
        headers=dict(request.headers),
        auto_submitted=True,
    )


def _default_from(settings: Settings, branding: Branding) -> str:
    sender = default_sender(settings)
    return branding.from_address(sender) if sender else ""


#: The shipped locale to render in (``pt-br`` → ``pt-BR``, ``de-AT`` → ``de``, unknown →
#: the default; a malformed tag is a ``ValidationError``): the fallback chain itself.
template_locale = resolve_locale


def _secret(request: MessageRequest, settings: Settings) -> dict[str, str]:
    if request.kind is Kind.OTP:
        return {"code": secret_value(request.code, field="code", limit=MAX_CODE)}
    token = secret_value(request.token, field="token", limit=MAX_TOKEN)
    return {"link": link_spec(request, settings).link(token)}


def link_spec(request: MessageRequest, settings: Settings) -> LinkSpec:
    """Where the link points: ``MAGIC_LINK_BASE_URL``, or a request ``base_url`` whose
    origin is that one's or listed in ``ALLOWED_LINK_ORIGINS`` (a request can never point
    a link at a site the operator did not allow)."""
    configured = settings.magic_link_base_url
    allowed = set(settings.allowed_link_origins) | set(request.extra_link_origins)
    if configured:
        allowed.add(origin_of(configured))
    if not allowed:
        raise ConfigurationError(
            "MAGIC_LINK_BASE_URL is not set, so links cannot be built (see docs/configuration.md)"
        )
    if request.base_url:
        try:
            base = check_base_url(request.base_url, error=ValidationError)
            origin = origin_of(base, error=ValidationError)
        except ValidationError as exc:
            raise ValidationError(exc.message, field="base_url") from None
        if origin not in allowed:
            raise ValidationError(
                "base_url's origin is not one of the allowed link origins "
                "(MAGIC_LINK_BASE_URL, ALLOWED_LINK_ORIGINS)",
                field="base_url",
            )
    elif configured:
        base = configured
    else:
        raise ValidationError(
            "base_url is required: MAGIC_LINK_BASE_URL is not set", field="base_url"
        )
    path = (
        settings.magic_link_path
        if request.kind is Kind.MAGIC_LINK
        else settings.password_reset_path
    )
    return LinkSpec.checked(base, path)
