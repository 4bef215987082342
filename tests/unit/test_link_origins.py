"""Link origins: one strict canonical form, and every trick refused."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ConfigurationError, ValidationError
from authmail_relay.mail.auth_mail import check_base_url
from authmail_relay.mail.link_origins import origin_of
from authmail_relay.mail.message_content import link_spec
from authmail_relay.mail.message_request import MessageRequest
from authmail_relay.settings import Settings
from authmail_relay.vocabulary import Kind

pytestmark = pytest.mark.library


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://app.example.com", "https://app.example.com:443"),
        ("HTTPS://APP.Example.COM:443/x", "https://app.example.com:443"),
        ("https://app.example.com:8443/a/b", "https://app.example.com:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example:443"),
    ],
)
def test_canonical_origins(url: str, origin: str) -> None:
    """Scheme and host lower-cased, default port explicit, path ignored."""
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "https://good.example.com@evil.example.net",
        "https://user:pw@good.example.com",
        "https://evil.example.net\\@good.example.com",
        "https://good.example。com",
        "https://gооd.example.com",  # Cyrillic o
        "https://good.example.com.",
        "https://good..example.com",
        "https://%67ood.example.com",
        "http://good.example.com",
        "javascript:alert(1)",
        "ftp://good.example.com",
        "https://",
        "https://-bad-.example.com",
        "https://good.example.com:99999",
    ],
)
def test_tricks_are_refused(url: str) -> None:
    """User info, backslashes, Unicode look-alikes, odd hosts and plain http are refused."""
    with pytest.raises(ValidationError):
        origin_of(url, error=ValidationError)


def test_allowed_origins_extend_the_configured_one() -> None:
    """ALLOWED_LINK_ORIGINS admits more origins; everything else is a 422."""
    settings = Settings(
        magic_link_base_url="https://app.example.com",
        allowed_link_origins=(origin_of("https://eu.example.com"),),
        magic_link_path="/auth/verify",
    )
    request = MessageRequest(
        to="a@b.c", kind=Kind.MAGIC_LINK, token="t", base_url="https://eu.example.com/x"
    )
    assert link_spec(request, settings).link("t") == "https://eu.example.com/x/auth/verify?token=t"
    stranger = MessageRequest(
        to="a@b.c", kind=Kind.MAGIC_LINK, token="t", base_url="https://us.example.com"
    )
    with pytest.raises(ValidationError):
        link_spec(stranger, settings)


def test_only_allowed_origins_without_a_base_url() -> None:
    """With only ALLOWED_LINK_ORIGINS, a request must name its base_url."""
    settings = Settings(allowed_link_origins=(origin_of("https://eu.example.com"),))
    with pytest.raises(ValidationError, match="base_url is required"):
        link_spec(MessageRequest(to="a@b.c", kind=Kind.MAGIC_LINK, token="t"), settings)
    with pytest.raises(ConfigurationError):
        link_spec(MessageRequest(to="a@b.c", kind=Kind.MAGIC_LINK, token="t"), Settings())


def test_settings_parse_origins_and_paths() -> None:
    """The environment forms are checked at start-up."""
    settings = Settings.from_env(
        {
            "ALLOWED_LINK_ORIGINS": "https://a.example.com, https://b.example.com:8443",
            "MAGIC_LINK_PATH": "/m",
        }
    )
    assert settings.allowed_link_origins == (
        "https://a.example.com:443",
        "https://b.example.com:8443",
    )
    assert settings.magic_link_path == "/m"
    for bad in (
        {"ALLOWED_LINK_ORIGINS": "https://user@x.example"},
        {"PASSWORD_RESET_PATH": "reset"},
    ):
        with pytest.raises(ConfigurationError):
            Settings.from_env(bad)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com:0",
        "https://app.example.com:00/x",
        "https://app.example.com:+443",
        "https://app.example.com:٤٤٣",  # Arabic-Indic digits
        "https://app.example.com:0000443",
        "http://localhost:0",
    ],
)
def test_unusable_ports_are_refused_everywhere(url: str) -> None:
    """Port 0 (which would compare as the default port and make a dead link) and ports
    not written as 1 to 65535 in ASCII digits: refused as an origin, as a base URL, as
    MAGIC_LINK_BASE_URL, in ALLOWED_LINK_ORIGINS and as a request's base_url."""
    with pytest.raises(ValidationError):
        origin_of(url, error=ValidationError)
    with pytest.raises(ValidationError):
        check_base_url(url, error=ValidationError)
    for name in ("MAGIC_LINK_BASE_URL", "ALLOWED_LINK_ORIGINS"):
        with pytest.raises(ConfigurationError, match=name):
            Settings.from_env({name: url})
    settings = Settings(magic_link_base_url="https://app.example.com")
    request = MessageRequest(to="a@b.c", kind=Kind.MAGIC_LINK, token="t", base_url=url)
    with pytest.raises(ValidationError) as caught:
        link_spec(request, settings)
    assert caught.value.field == "base_url"


def test_usable_ports_are_kept() -> None:
    assert origin_of("https://app.example.com:1/") == "https://app.example.com:1"
    assert origin_of("https://app.example.com:65535") == "https://app.example.com:65535"
    assert origin_of("https://app.example.com:/") == "https://app.example.com:443"
    assert check_base_url("http://[::1]:8080/app/") == "http://[::1]:8080/app"
