"""Request → draft for every kind: defaults, link origins, locales (pure)."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ConfigurationError, ValidationError
from authmail_relay.mail.message_content import (
    build_draft,
    lifetime_seconds,
    link_spec,
    template_locale,
)
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.settings import Settings
from authmail_relay.smtp.config import SmtpConfig
from authmail_relay.vocabulary import Kind

pytestmark = pytest.mark.library
SETTINGS = Settings(
    smtp=SmtpConfig(host="smtp.example.com", from_addr="relay@example.com"),
    magic_link_base_url="https://app.example.com",
    product_name="Acme",
)


def _link(**fields: object) -> MessageRequest:
    values: dict[str, object] = {"to": "a@example.org", "kind": Kind.MAGIC_LINK, "token": "t"}
    values.update(fields)
    return MessageRequest(**values)  # type: ignore[arg-type]


def test_lifetimes_default_per_kind() -> None:
    """OTP 10 min, links 15 min, raw mail none; an explicit expires_in wins."""
    assert lifetime_seconds(MessageRequest(to="a@b.c", kind=Kind.OTP, code="1"), SETTINGS) == 600
    assert lifetime_seconds(_link(), SETTINGS) == 900
    assert lifetime_seconds(MessageRequest(to="a@b.c", subject="s", html="h"), SETTINGS) is None
    assert lifetime_seconds(_link(expires_in_seconds=60), SETTINGS) == 60


@pytest.mark.parametrize(
    "base_url",
    [
        "https://evil.example.net",
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://app.example.com@evil.example.net",
        "https://app.example.com.evil.example.net",
        "javascript:alert(1)",
    ],
)
def test_request_base_url_must_share_the_origin(base_url: str) -> None:
    """Scheme, host and port must match MAGIC_LINK_BASE_URL exactly."""
    with pytest.raises(ValidationError) as caught:
        link_spec(_link(base_url=base_url), SETTINGS)
    assert caught.value.field == "base_url"


def test_same_origin_base_url_and_default_paths() -> None:
    """A same-origin prefix is kept; each kind has its path."""
    assert link_spec(_link(base_url="https://APP.example.com:443/t/7"), SETTINGS).link("x") == (
        "https://APP.example.com:443/t/7/set-password?token=x"
    )
    reset = link_spec(_link(kind=Kind.PASSWORD_RESET), SETTINGS)
    assert reset.link("a b") == "https://app.example.com/reset-password?token=a%20b"


def test_links_need_a_configured_origin() -> None:
    """Without MAGIC_LINK_BASE_URL no link is built, whatever the request says."""
    bare = Settings(smtp=SETTINGS.smtp)
    with pytest.raises(ConfigurationError, match="MAGIC_LINK_BASE_URL"):
        link_spec(_link(base_url="https://app.example.com"), bare)


def test_locales() -> None:
    """Shipped locales are used, unknown well-formed ones fall back, malformed ones are errors."""
    assert template_locale(None) == "en"
    assert template_locale("en") == "en"
    assert template_locale("tlh") == "en"
    with pytest.raises(ValidationError):
        template_locale("en_US!")


def test_auth_mail_is_single_recipient_and_auto_submitted() -> None:
    """Auth mail goes to exactly one address, says it is automated, and names the product."""
    draft = build_draft(MessageRequest(to="a@example.org", kind=Kind.OTP, code="424242"), SETTINGS)
    assert draft.auto_submitted
    assert "Acme" in draft.subject
    assert draft.text is not None
    assert "424242" in draft.text
    with pytest.raises(ValidationError):
        build_draft(
            MessageRequest(to=["a@example.org", "b@example.org"], kind=Kind.OTP, code="1"), SETTINGS
        )
    with pytest.raises(ValidationError):
        build_draft(MessageRequest(to="a@example.org", kind=Kind.OTP, code=""), SETTINGS)
